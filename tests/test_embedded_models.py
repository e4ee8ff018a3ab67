"""The default audit: both embedded models, every built-in task, the three output files."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from support import REPO, run_cli
from harness.results.types import SCHEMA_VERSION

EXPECTED_METRICS = {
    "tiny-gpt2": {"facts_mc": {"accuracy", "accuracy_norm"}, "toylang": {"bleu", "chrf", "exact_match"},
                  "stories": {"rouge1", "rouge2", "rougeL", "rougeLsum"},
                  "toytext": {"word_perplexity", "byte_perplexity", "bits_per_byte"},
                  "toyzh": {"bleu", "chrf", "exact_match"}},
    "minilm": {"topic": {"accuracy", "f1_macro"}},
}
# Chance levels (4 choices / 4 balanced classes) and floors far below what the models score
# (README lists the scores), so the test fails if training or scoring breaks.
FLOORS = {("tiny-gpt2", "facts_mc", "accuracy"): 0.4, ("tiny-gpt2", "toylang", "bleu"): 30.0,
          ("tiny-gpt2", "toylang", "chrf"): 50.0, ("tiny-gpt2", "stories", "rougeL"): 0.5,
          ("minilm", "topic", "accuracy"): 0.6, ("minilm", "topic", "f1_macro"): 0.6}
# Lower is better for these: a uniform guess over tiny-gpt2's 1,024 tokens is ~3 bits per byte on this text.
CEILINGS = {("tiny-gpt2", "toytext", "bits_per_byte"): 1.5, ("tiny-gpt2", "toytext", "word_perplexity"): 80.0}


@pytest.mark.slow
def test_default_run_writes_results_samples_and_report(default_run):
    proc, run_dir = default_run
    results = json.loads((run_dir / "results.json").read_text())
    assert results["schema_version"] == SCHEMA_VERSION
    assert set(results["run"]) >= {"id", "started", "finished", "seed", "harness_version", "git_sha", "argv"}
    assert set(results["environment"]) >= {"python", "torch", "transformers", "platform", "cpu", "gpus"}
    for model, tasks in EXPECTED_METRICS.items():
        info = results["models"][model]
        assert set(info) >= {"spec", "kind", "dtype", "device", "parameters", "tasks"}
        assert info["device"] == "cpu" and info["dtype"] == "float32"
        for task, metrics in tasks.items():
            result = info["tasks"][task]
            assert result["complete"] and result["n"] > 0
            assert set(result["metrics"]) == metrics
            for m in result["metrics"].values():
                assert m["ci95"][0] <= m["value"] <= m["ci95"][1] and m["stderr"] >= 0
    for (model, task, metric), floor in FLOORS.items():
        assert results["models"][model]["tasks"][task]["metrics"][metric]["value"] > floor, (model, task, metric)
    for model, task in (("tiny-gpt2", "facts_mc"), ("minilm", "topic")):      # calibration of MC and classify
        calibration = results["models"][model]["tasks"][task]["calibration"]
        assert calibration["bins"] == 10 and sum(b["count"] for b in calibration["reliability"]) == calibration["n"]
        assert 0 <= calibration["metrics"]["ece"]["value"] <= 1 and 0 <= calibration["metrics"]["brier"]["value"] <= 2
    assert "calibration" not in results["models"]["tiny-gpt2"]["tasks"]["toylang"]
    for (model, task, metric), ceiling in CEILINGS.items():
        assert results["models"][model]["tasks"][task]["metrics"][metric]["value"] < ceiling, (model, task, metric)

    lines = [json.loads(x) for x in (run_dir / "samples.jsonl").read_text().splitlines()]
    task_lines = [r for r in lines if not r["task"].startswith("probe:")]
    assert len(task_lines) == sum(results["models"][m]["tasks"][t]["n"] for m in EXPECTED_METRICS for t in EXPECTED_METRICS[m])
    assert len(lines) - len(task_lines) == sum(p["n"] for m in results["models"].values() for p in m["probes"].values())
    assert all({"model", "task", "id", "input", "prediction", "reference", "scores"} <= set(r) for r in lines)
    html = (run_dir / "report.html").read_text()
    assert "tiny-gpt2" in html and "minilm" in html and "<script" not in html
    # the terminal summary opens with one line per model; the table of every metric is `harness show`'s
    assert proc.stdout.startswith("tiny-gpt2 [float32]: facts_mc accuracy ") and "\nminilm [float32]: topic accuracy " in proc.stdout
    assert "J/example" in proc.stdout and "rougeLsum" not in proc.stdout

    shown = run_cli("show", str(run_dir))
    assert shown.returncode == 0 and "toylang" in shown.stdout and "rougeLsum" in shown.stdout


@pytest.mark.slow
def test_default_run_reports_the_probes(default_run):
    _, run_dir = default_run
    results = json.loads((run_dir / "results.json").read_text())
    gpt2, minilm = results["models"]["tiny-gpt2"]["probes"], results["models"]["minilm"]["probes"]
    crows = gpt2["crows_pairs"]
    assert 0 <= crows["metrics"]["stereotype_preference_pct"]["value"] <= 100 and "whole-sentence" in crows["variant"]
    assert {"race-color", "gender", "religion"} <= set(crows["subgroups"])
    assert all("p_value_vs_50_holm" in g for g in crows["subgroups"].values())
    assert any("Blodgett" in note for note in crows["notes"])
    bbq = gpt2["bbq"]
    assert set(bbq["subgroups"]) == {"Age", "Disability_status", "Nationality", "Physical_appearance", "Religion",
                                     "Sexual_orientation"}
    assert bbq["metrics"]["accuracy_ambiguous"]["value"] is not None
    assert set(minilm) >= {"weat", "counterfactual", "word_substitution_attack", "robustness"}
    assert "weat/weat6_names_career_family" in minilm["weat"]["subgroups"]
    assert set(minilm["counterfactual"]["subgroups"]) == {"gender", "names", "religion", "nationality"}
    attack = minilm["word_substitution_attack"]
    counts = attack["subgroups"]["counts"]
    assert counts["successes"] + counts["failures"] + counts["skipped_misclassified"] == attack["n"]
    assert attack["metrics"]["attack_success_rate"]["value"] == pytest.approx(
        counts["successes"] / (counts["successes"] + counts["failures"]))
    for probe in (*gpt2.values(), *minilm.values()):
        for m in probe["metrics"].values():
            assert set(m) >= {"value", "stderr", "ci95"}
        assert probe["energy"]["total_energy_j"]["source"] in ("estimated", "rapl", "nvml_energy_counter",
                                                               "nvml_power_integrated")
    html = (run_dir / "report.html").read_text()
    assert "Probes" in html and "crows_pairs" in html


@pytest.mark.slow
def test_default_run_measures_energy_per_task_with_honest_sources(default_run):
    import torch
    _, run_dir = default_run
    results = json.loads((run_dir / "results.json").read_text())
    for model, tasks in EXPECTED_METRICS.items():
        assert results["models"][model]["energy"]["total_energy_j"]["value"] > 0
        for task in tasks:
            energy = results["models"][model]["tasks"][task]["energy"]
            for figure in (v for v in energy.values() if isinstance(v, dict) and "source" in v):
                assert figure["source"] in ("nvml_energy_counter", "nvml_power_integrated", "rapl", "estimated",
                                            "not_measured", "clock")
                assert (figure["value"] is None) == (figure["source"] == "not_measured")
                if figure["source"] == "not_measured":
                    assert figure["reason"]
            assert energy["cpu_energy_j"]["source"] in ("rapl", "estimated") and energy["cpu_energy_j"]["value"] > 0
            assert energy["examples"] == results["models"][model]["tasks"][task]["n"]
            assert energy["j_per_example"]["value"] == pytest.approx(energy["total_energy_j"]["value"] / energy["examples"])
            if not torch.cuda.is_available():
                assert energy["gpu_energy_j"]["source"] == "not_measured"
                assert energy["gpu_energy_j"]["reason"].startswith("GPU: ")
            # no carbon intensity was given: the world average, named beside the figure with how to refine it
            assert energy["gco2e"]["value"] > 0 and energy["gco2e"]["intensity_g_per_kwh"] == 480.0
            assert energy["gco2e"]["intensity_source"].startswith("world average (Ember, Global Electricity Review 2024), 2023")
            assert "--country" in energy["gco2e"]["intensity_source"]
    assert results["energy"]["carbon_intensity"]["refine"].startswith("no --country or --carbon-intensity was given")
    telemetry = (run_dir / "telemetry.csv").read_text().splitlines()
    assert telemetry[0].startswith("unix_time,t_s,event,window")
    for model, tasks in EXPECTED_METRICS.items():
        for task in tasks:
            assert any(f",begin,run:{results['run']['id']}/model:{model}/task:{task}," in line for line in telemetry)
            assert any(f",end,run:{results['run']['id']}/model:{model}/task:{task}," in line for line in telemetry)
    html = (run_dir / "report.html").read_text()
    assert "Energy by task" in html and "<svg" in html and "estimated" in html


def test_no_meters_reads_not_measured(tmp_path):
    proc = run_cli("run", "--model", "minilm", "--tasks", "topic", "--limit", "8", "--no-meters", "--no-probes",
                   "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    results = json.loads(next(tmp_path.glob("*/results.json")).read_text())
    energy = results["models"]["minilm"]["tasks"]["topic"]["energy"]
    assert energy["total_energy_j"] == {"value": None, "unit": "J", "source": "not_measured",
                                        "reason": "meters were off (--no-meters)"}


def test_build_data_rewrites_the_shipped_task_files_byte_for_byte(tmp_path):
    """tasks/*/ data is generated by model/build_data.py; regenerating it elsewhere gives the same bytes."""
    sys.path.insert(0, str(REPO / "model"))
    import build_data
    sys.path.remove(str(REPO / "model"))
    before = {REPO / p: (REPO / p).read_bytes() for p in build_data.GENERATED}
    code = ("import sys, runpy; sys.path.insert(0, %r); import build_data; build_data.ROOT = __import__('pathlib').Path(%r); "
            "build_data.main()") % (str(REPO / "model"), str(tmp_path))
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    for path, data in before.items():
        assert (tmp_path / path.relative_to(REPO)).read_bytes() == data, path


def test_tiny_gpt2_was_trained_on_the_corpus_the_script_generates():
    sys.path.insert(0, str(REPO / "model"))
    try:
        import train_tiny_gpt2
        info = json.loads((REPO / "model" / "tiny-gpt2" / "build_info.json").read_text())
        assert train_tiny_gpt2.corpus_sha256() == info["corpus_sha256"]
        assert 2_000_000 < info["parameters"] < 5_000_000
    finally:
        sys.path.remove(str(REPO / "model"))
