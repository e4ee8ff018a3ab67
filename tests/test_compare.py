"""Paired comparison of models (harness/compare): known answers for McNemar and the paired bootstrap
(against sacrebleu's own paired tests), pairing and its refusals, probe pairing, cost, and the
`harness run --baseline` / `harness compare` commands end to end."""
from __future__ import annotations

import json
import math
import random
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import results_builder as rb
from support import write_task
from harness.cli import main
from harness.compare import compare_within
from harness.compare import stats as st
from harness.compare.build import flipped, paired_stat
from harness.compare.cost import cost
from harness.compare.pairing import pair, refuse_differences
from harness.probes.stats import holm
from harness.errors import HarnessError
from harness.metrics.text import Bleu

TESTS = Path(__file__).resolve().parent


def _mcnemar_by_hand(k: int, j: int) -> float:
    """Two-sided exact binomial on the k + j discordant pairs: 2 * sum_{i <= min} C(k+j, i) / 2^(k+j)."""
    n = k + j
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(min(k, j) + 1)) / 2 ** n)


# statistics --------------------------------------------------------------------------------------------

def test_exact_mcnemar_matches_the_hand_computed_binomial():
    base = np.array([1] * 6 + [0] * 1 + [1] * 20 + [0] * 5)       # 6 right only for the baseline
    other = np.array([0] * 6 + [1] * 1 + [1] * 20 + [0] * 5)      # 1 right only for the other
    test = st.mcnemar(base, other)
    assert (test.baseline_only, test.other_only, test.test) == (6, 1, "mcnemar_exact")
    assert test.p_value == pytest.approx(0.125, abs=1e-15) == _mcnemar_by_hand(1, 6)
    from scipy.stats import binomtest
    assert test.p_value == pytest.approx(binomtest(1, 7, 0.5).pvalue, rel=1e-12)


def test_mcnemar_uses_the_continuity_corrected_chi_square_above_25_discordant_pairs():
    base = np.array([1] * 20 + [0] * 10)
    other = 1 - base
    test = st.mcnemar(base, other)
    from scipy.stats import chi2
    assert test.test == "mcnemar_chi2_cc" and test.statistic == pytest.approx((20 - 10 - 1) ** 2 / 30)
    assert test.p_value == pytest.approx(chi2.sf(81 / 30, 1), rel=1e-12)
    assert st.mcnemar(base[:25], other[:25]).test == "mcnemar_exact"        # 25 discordant: still exact


def _mt_outputs(n: int = 60, noise: tuple[float, float] = (0.3, 0.3)):
    """References and two systems' outputs of similar quality (so the p-value is moderate and depends on
    exactly which resamples were drawn)."""
    rng = random.Random(7)
    words = "the red fox sees a small blue bird near old green river at noon".split()
    refs = [" ".join(rng.choice(words) for _ in range(rng.randint(5, 12))) for _ in range(n)]

    def noisy(ref: str, p: float) -> str:
        return " ".join(w if rng.random() > p else rng.choice(words) for w in ref.split())
    return refs, [noisy(r, noise[0]) for r in refs], [noisy(r, noise[1]) for r in refs]


def test_paired_bootstrap_bleu_matches_sacrebleus_paired_bs(monkeypatch):
    from sacrebleu.metrics import BLEU
    from sacrebleu.significance import PairedTest
    monkeypatch.setenv("SACREBLEU_SEED", "12345")
    refs, base, other = _mt_outputs()
    _, scores = PairedTest([("base", base), ("other", other)], {"BLEU": BLEU()}, [refs], test_type="bs",
                           n_samples=1000)()
    expected_base, expected_other = scores["BLEU"][0].score, scores["BLEU"][1]
    stats = Bleu.example_stats(base + other, refs + refs)
    result = st.paired_bootstrap(stats[:60], stats[60:], Bleu.value_from_totals, resamples=1000, seed=12345)
    assert result.baseline == pytest.approx(expected_base, abs=1e-9)
    assert result.other == pytest.approx(expected_other.score, abs=1e-9)
    assert result.delta == pytest.approx(expected_other.score - expected_base, abs=1e-9)
    assert result.p_value == expected_other.p_value           # same indices, same definition: exactly equal
    assert 0.05 < result.p_value < 0.5                        # a p that depends on the draws ...
    other_seed = st.paired_bootstrap(stats[:60], stats[60:], Bleu.value_from_totals, resamples=1000, seed=1)
    assert other_seed.p_value != result.p_value               # ... so equality means the same resamples
    assert result.ci95[0] < result.delta < result.ci95[1]


def test_approximate_randomization_matches_sacrebleus_paired_ar(monkeypatch):
    from sacrebleu.metrics import BLEU
    from sacrebleu.significance import PairedTest
    monkeypatch.setenv("SACREBLEU_SEED", "12345")
    refs, base, other = _mt_outputs()
    _, scores = PairedTest([("base", base), ("other", other)], {"BLEU": BLEU()}, [refs], test_type="ar",
                           n_samples=2000)()
    stats = Bleu.example_stats(base + other, refs + refs)
    p = st.approximate_randomization(stats[:60], stats[60:], Bleu.value_from_totals, trials=2000, seed=12345)
    assert p == scores["BLEU"][1].p_value and 0.05 < p < 0.5
    assert st.approximate_randomization(stats[:60], stats[60:], Bleu.value_from_totals, trials=2000, seed=1) != p


def test_identical_models_give_delta_zero_ci_zero_and_p_one():
    refs, base, _ = _mt_outputs(40)
    stats = Bleu.example_stats(base + base, refs + refs)
    s = paired_stat(stats[:40], stats[40:], Bleu.value_from_totals, binary=False, higher_is_better=True, seed=1)
    assert (s["delta"], s["ci95"], s["p_value"], s["approximate_randomization"]["p_value"]) == (0.0, [0.0, 0.0], 1.0, 1.0)
    b = np.column_stack([np.array([1.0, 0.0] * 20), np.ones(40)])
    s = paired_stat(b, b.copy(), lambda t: t[0] / t[1], binary=True, higher_is_better=True, seed=1)
    assert (s["delta"], s["ci95"], s["p_value"], s["discordant"]) == (0.0, [0.0, 0.0], 1.0,
                                                                      {"baseline_only": 0, "other_only": 0})


def test_holm_runs_over_the_whole_comparison():
    adjusted = holm({"a": 0.01, "b": 0.04, "c": 0.03})
    assert adjusted == pytest.approx({"a": 0.03, "c": 0.06, "b": 0.06})


# hand-built runs -------------------------------------------------------------------------------------

def _records(model: str, wrong: set[int], n: int = 40, task: str = "t") -> list[dict]:
    out = []
    for i in range(n):
        gold = "a" if i % 2 else "b"
        prediction = ("b" if gold == "a" else "a") if i in wrong else gold
        out.append({"model": model, "task": task, "id": f"q{i}", "index": i, "input": f"item {i}: label {gold}",
                    "prediction": prediction, "reference": gold, "scores": {}, "views": {}, "details": {}})
    return out


def _results(*models: str, run_id: str = "r1", seed: int = 1234, tasks=None, probes=None) -> dict:
    """A run's results.json (typed builder) with task "t" (classify: accuracy, f1_macro) for each model."""
    tasks = {"t": rb.task({"accuracy": rb.metric(0.5), "f1_macro": rb.metric(0.5)}, kind="classify")} \
        if tasks is None else tasks
    return rb.results(run_id, {m: rb.model(tasks=tasks, probes=probes or {}) for m in models}, seed=seed).to_json()


def test_a_planted_variant_flipping_one_item_up_and_six_down_gives_p_0125():
    records = _records("full", {0}) + _records("small", {1, 2, 3, 4, 5, 6})
    comparison = compare_within(_results("full", "small"), records, "full").to_json()
    stat = comparison["models"]["small"]["tasks"]["t"]["accuracy"]
    assert stat["discordant"] == {"baseline_only": 6, "other_only": 1}
    assert stat["test"] == "mcnemar_exact" and stat["p_value"] == pytest.approx(_mcnemar_by_hand(1, 6))
    assert stat["baseline"] == pytest.approx(39 / 40) and stat["delta"] == pytest.approx(-5 / 40)
    assert stat["ci95"][0] < stat["delta"] < stat["ci95"][1] and stat["n"] == 40 and not stat["too_few_items"]
    f1 = comparison["models"]["small"]["tasks"]["t"]["f1_macro"]
    assert f1["test"] == "paired_bootstrap" and f1["delta"] < 0
    assert stat["p_holm"] >= stat["p_value"] and f1["p_holm"] >= f1["p_value"]
    flips = comparison["models"]["small"]["flipped"]
    assert (flips["fixed"], flips["broken"]) == (1, 6)
    assert {(i["id"], i["direction"]) for i in flips["items"]} == {("q0", "fixed")} | {(f"q{i}", "broken") for i in range(1, 7)}
    item = next(i for i in flips["items"] if i["id"] == "q0")
    assert (item["baseline_prediction"], item["other_prediction"], item["reference"]) == ("a", "b", "b")
    assert comparison["pairing"]["mode"] == "exact" and comparison["pairing"]["n_paired"] == {"t": 40}


def test_the_flipped_list_is_capped_but_the_counts_are_complete():
    records_b, records_o = _records("full", set()), _records("small", set(range(10)))
    pairing = pair(records_b, records_o, lambda r: r["reference"])
    flips = flipped(rb.model(tasks={"t": rb.task({"accuracy": rb.metric(0.5)}, kind="classify")}), pairing, cap=3)
    assert flips["broken"] == 10 and len(flips["items"]) == 3 and flips["items_total"] == 10


def test_unknown_baseline_gets_close_matches():
    with pytest.raises(HarnessError, match="did you mean full"):
        compare_within(_results("full", "small"), [], "fulll")


def test_items_that_differ_are_refused_or_compared_on_the_intersection():
    base = _records("full", set())
    other = _records("small", set(), n=30)
    other[3] = {**other[3], "input": "item 3: label a, but worded differently"}
    pairing = pair(base, other, lambda r: r["reference"])
    with pytest.raises(HarnessError) as error:
        refuse_differences(pairing, "full", "small")
    assert "10 only in full" in error.value.problem and "1 with the same id but a different input" in error.value.problem
    assert "--intersection to compare the 29 items" in error.value.fix
    assert pairing.tasks["t"].n == 29 and pairing.tasks["t"].dropped == 11


def test_counterfactual_items_pair_on_the_original_input_not_the_models_own_answer():
    def rec(model: str, i: int, original_label: str, flipped_: bool) -> dict:
        return {"model": model, "task": "probe:counterfactual", "id": f"t|q{i}|gender|0", "index": i,
                "input": f"she said {i}", "prediction": "x", "reference": original_label,
                "scores": {"flipped": float(flipped_), "score_shift": 0.1 if flipped_ else 0.0},
                "details": {"axis": "gender", "original": f"he said {i}", "task": "t"}}
    base = [rec("full", i, "a", i < 8) for i in range(40)]
    other = [rec("small", i, "b", i < 2) for i in range(40)]           # different own answers: still the same items
    probe = rb.probe("counterfactual", {"flip_rate": rb.metric(0.1), "mean_abs_score_shift": rb.metric(0.1),
                                        "made_up": rb.metric(0.1)})
    results = _results("full", "small", tasks={}, probes={"counterfactual": probe}, run_id="r", seed=1)
    comparison = compare_within(results, base + other, "full").to_json()
    probe = comparison["models"]["small"]["probes"]["counterfactual"]
    assert probe["flip_rate"]["discordant"] == {"baseline_only": 6, "other_only": 0}
    assert probe["flip_rate"]["p_value"] == pytest.approx(_mcnemar_by_hand(0, 6))
    assert probe["flip_rate"]["higher_is_better"] is False
    assert probe["mean_abs_score_shift"]["test"] == "paired_bootstrap"
    assert probe["mean_abs_score_shift"]["delta"] == pytest.approx(-0.6 / 40)
    assert probe["made_up"]["delta"] is None and "no per-item pairing rule" in probe["made_up"]["reason"]


def test_cost_ratios_and_the_reasons_for_missing_figures():
    def model(j, seconds, examples, memory):
        energy = rb.energy(total_energy_j=rb.figure(j, "J", "rapl", reason="meters were off (--no-meters)"),
                           duration_s=(seconds, "s", "clock"), examples=examples)
        return rb.model(tasks={"t": rb.task({}, energy=energy)}, **({"peak_memory": memory} if memory else {}))
    rss = {"value": 2e8, "unit": "bytes", "source": "rss"}
    c = cost(model(10.0, 2.0, 10, rss), model(5.0, 1.0, 10, {**rss, "value": 1e8}), ["t"])
    assert c["j_per_example"]["ratio"] == pytest.approx(0.5) and c["j_per_example"]["baseline"] == 1.0
    assert c["latency_s_per_example"]["ratio"] == pytest.approx(0.5) and c["peak_memory_bytes"]["ratio"] == 0.5
    c = cost(model(None, 2.0, 10, None), model(None, 1.0, 10, {**rss, "source": "cuda"}), ["t"])
    assert c["j_per_example"]["baseline"] is None and "--no-meters" in c["j_per_example"]["reason"]
    assert c["peak_memory_bytes"]["baseline"] is None and "not recorded" in c["peak_memory_bytes"]["reason"]
    assert "not_measured" not in c["j_per_example"]          # one spelling: a null side and the reason


# end to end ------------------------------------------------------------------------------------------

def _in_process(capsys, *args: str) -> SimpleNamespace:
    capsys.readouterr()
    code = main(list(args))
    out = capsys.readouterr()
    return SimpleNamespace(returncode=code, stdout=out.out, stderr=out.err)


@pytest.fixture
def planted(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))
    monkeypatch.chdir(TESTS)
    rows = [{"id": f"q{i}", "text": f"item {i}: label {'a' if i % 2 else 'b'}", "label": "a" if i % 2 else "b"}
            for i in range(40)]
    write_task(tmp_path / "tasks" / "t", "t", rows, kind="classify", prompt="{text}", answer="label", labels=["a", "b"],
               metrics=["accuracy", "f1_macro"])
    return tmp_path


FULL = "full=py:fake_models:PlantedFlips,wrong=1"
SMALL = "small=py:fake_models:PlantedFlips,wrong=2-3-4-5-6-7"


def _run(capsys, planted, out: str, *args: str) -> tuple[Path, SimpleNamespace]:
    proc = _in_process(capsys, "run", "--tasks", "t", "--tasks-dir", str(planted / "tasks"), "--no-probes", "--no-meters",
                       "--no-progress", "--out", str(planted / out), *args)
    assert proc.returncode == 0, proc.stderr
    return next(p for p in (planted / out).iterdir() if p.is_dir()), proc


def test_run_with_baseline_writes_the_comparison_and_prints_it(capsys, planted):
    run, proc = _run(capsys, planted, "within", "--model", FULL, "--model", SMALL, "--baseline-model", "small")
    assert "full vs baseline small: 40 paired items" in proc.stdout and "1 broken, 6 fixed" in proc.stdout
    results = json.loads((run / "results.json").read_text())
    comparison = results["comparison"]
    assert comparison["baseline"] == "small" and comparison["source"] == "run"
    stat = comparison["models"]["full"]["tasks"]["t"]["accuracy"]
    assert stat["discordant"] == {"baseline_only": 1, "other_only": 6}
    assert stat["p_value"] == pytest.approx(_mcnemar_by_hand(1, 6))
    memory = results["models"]["full"]["peak_memory"]
    assert memory["value"] > 0 and "RSS" in memory["source"]
    cost_ = comparison["models"]["full"]["cost"]
    assert cost_["j_per_example"]["baseline"] is None and "--no-meters" in cost_["j_per_example"]["reason"]
    assert cost_["latency_s_per_example"]["baseline"] > 0 and cost_["peak_memory_bytes"]["ratio"] > 0
    assert "peak memory: " in proc.stdout and "J/example: not measured" in proc.stdout


def test_unknown_baseline_fails_before_a_run_folder_exists(capsys, planted):
    proc = _in_process(capsys, "run", "--tasks", "t", "--tasks-dir", str(planted / "tasks"), "--no-probes",
                       "--no-meters", "--out", str(planted / "none"), "--model", FULL, "--model", SMALL,
                       "--baseline-model", "smal")
    assert proc.returncode == 2 and "did you mean small" in proc.stderr and "Traceback" not in proc.stderr
    assert not (planted / "none").exists() or not any((planted / "none").iterdir())


def test_harness_compare_across_runs_refuses_different_items_and_takes_the_intersection(capsys, planted):
    a, _ = _run(capsys, planted, "a", "--model", FULL)
    b, _ = _run(capsys, planted, "b", "--model", SMALL)
    c, _ = _run(capsys, planted, "c", "--model", SMALL, "--limit", "20")
    out = planted / "ab.json"
    proc = _in_process(capsys, "compare", str(a), str(b), "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    comparison = json.loads(out.read_text())["comparison"]
    assert comparison["source"] == "runs" and comparison["baseline"] == "full"
    assert comparison["runs"]["small"]["run_id"] == b.name
    stat = comparison["models"]["small"]["tasks"]["t"]["accuracy"]
    assert stat["discordant"] == {"baseline_only": 6, "other_only": 1} and stat["p_value"] == pytest.approx(0.125)
    assert "small (run" in proc.stdout and "McNemar exact" in proc.stdout and "6 broken, 1 fixed" in proc.stdout

    proc = _in_process(capsys, "compare", str(a), str(c), "--json", str(planted / "ac.json"))
    errors = [line for line in proc.stderr.splitlines() if line.startswith("harness: error:")]
    assert proc.returncode == 2 and len(errors) == 1 and "20 only in full" in errors[0] and "--intersection" in errors[0]
    assert not (planted / "ac.json").exists()

    proc = _in_process(capsys, "compare", str(a), str(c), "--intersection", "--json", str(planted / "ac.json"))
    assert proc.returncode == 0, proc.stderr
    assert "compared on the intersection: 20 paired items, 20 left out" in proc.stdout
    comparison = json.loads((planted / "ac.json").read_text())["comparison"]
    assert comparison["pairing"]["mode"] == "intersection" and comparison["pairing"]["n_paired"] == {"t": 20}
    assert comparison["models"]["small"]["tasks"]["t"]["accuracy"]["too_few_items"] is True


@pytest.mark.slow
def test_two_runs_of_the_same_embedded_model_under_different_names_compare_as_identical(capsys, tmp_path):
    runs = []
    for name in ("full", "renamed"):
        proc = _in_process(capsys, "run", "--model", f"{name}=tiny-gpt2", "--tasks", "toylang,facts_mc", "--limit", "6",
                           "--no-probes", "--no-meters", "--no-progress", "--out", str(tmp_path / name))
        assert proc.returncode == 0, proc.stderr
        runs.append(next(p for p in (tmp_path / name).iterdir() if p.is_dir()))
    proc = _in_process(capsys, "compare", *map(str, runs), "--json", str(tmp_path / "cmp.json"))
    assert proc.returncode == 0, proc.stderr
    comparison = json.loads((tmp_path / "cmp.json").read_text())["comparison"]
    tasks = comparison["models"]["renamed"]["tasks"]
    for metrics in tasks.values():
        for stat in metrics.values():
            assert (stat["delta"], stat["ci95"], stat["p_value"]) == (0.0, [0.0, 0.0], 1.0)
    single = [json.loads((r / "results.json").read_text())["models"] for r in runs]
    for task in ("toylang", "facts_mc"):          # the single-run intervals are identical too
        assert single[0]["full"]["tasks"][task]["metrics"] == single[1]["renamed"]["tasks"][task]["metrics"]


def _probe_records(probe: str, n: int = 24) -> list[dict]:
    rng = random.Random(probe)
    out = []
    for i in range(n):
        base = {"id": f"{probe}-{i}", "index": i, "input": f"input {i}", "reference": "r", "prediction": "p"}
        if probe == "robustness":
            for k, pert in enumerate(("typo", "case")):
                changed = float(rng.random() < 0.8)
                out.append({**base, "id": f"t|{pert}|{i}", "scores": {
                    "changed": changed, "flipped": changed * (rng.random() < 0.4), "accuracy": float(rng.random() < 0.6),
                    "clean_accuracy": 1.0}, "details": {"task": "t", "perturbation": pert, "severity": 0.1,
                                                        "metric": "accuracy", "original": "o", "clean_prediction": "c"}})
            continue
        if probe == "word_substitution_attack":
            status = rng.choice(["status_success", "status_failure", "status_skipped"])
            scores = {status: 1.0} if status == "status_skipped" else {
                status: 1.0, "fraction_changed": rng.random(), "queries": rng.randint(3, 30)}
            out.append({**base, "scores": scores, "details": {"adversarial": "a"}})
        elif probe == "counterfactual":
            out.append({**base, "scores": {"flipped": float(rng.random() < 0.3), "score_shift": rng.uniform(-1, 1)},
                        "details": {"axis": rng.choice(["gender", "names"]), "original": f"o{i}", "task": "t"}})
        elif probe in ("crows_pairs", "winobias"):
            a, b = rng.uniform(-30, -5), rng.uniform(-30, -5)
            b = a if i % 7 == 0 else b
            out.append({**base, "scores": {"ll_stereotyping": a, "ll_other": b}, "details": {"subgroup": f"g{i % 2}"}})
        elif probe == "bbq":
            unknown = float(rng.random() < 0.3)
            out.append({**base, "scores": {"correct": float(rng.random() < 0.5), "unknown": unknown,
                                           "biased": (1 - unknown) * float(rng.random() < 0.5)},
                        "details": {"category": f"c{i % 2}", "context_condition": ["ambig", "disambig"][i % 2],
                                    "polarity": "neg", "logprobs": [-1.0, -2.0, -3.0]}})
        elif probe == "weat":
            out.append({**base, "id": f"{['weat', 'seat'][i % 2]}/test{i}", "scores": {
                "effect_size": rng.uniform(-1.5, 1.5), "p_value": rng.random(), "stderr": 0.1},
                "details": {"variant": ["weat", "seat"][i % 2], "test": f"test{i}", "ci95": [0, 1],
                            "exact_permutation": True, "sizes": [8, 8, 8, 8]}})
    return out


@pytest.mark.parametrize("probe", ["robustness", "word_substitution_attack", "counterfactual", "crows_pairs",
                                   "winobias", "bbq", "weat"])
def test_every_built_in_probe_headline_pairs_and_reproduces_the_probes_own_value(probe):
    from harness.plugins import PROBES
    from harness.probes.base import ProbeConfig
    records = _probe_records(probe)
    summary = PROBES.get(probe)().summarize(records, ProbeConfig(name=probe, probe=probe), 3)
    results = _results("full", "copy", tasks={}, probes={probe: rb.probe(probe, summary["metrics"])}, run_id="r", seed=1)
    tagged = [{**r, "model": m, "task": f"probe:{probe}"} for m in ("full", "copy") for r in records]
    stats = compare_within(results, tagged, "full").to_json()["models"]["copy"]["probes"][probe]
    assert set(stats) == set(summary["metrics"]) and summary["metrics"]
    for name, headline in summary["metrics"].items():
        stat = stats[name]
        assert "reason" not in stat and stat["delta"] is not None, (name, stat)
        assert stat["baseline"] == pytest.approx(headline["value"], rel=1e-9, abs=1e-12), name
        assert (stat["delta"], stat["ci95"], stat["p_value"]) == (0.0, [0.0, 0.0], 1.0)


def test_the_comparison_uses_the_baseline_the_run_records(tmp_path):
    """The after-run consumer reads RunSpec.baseline (run.json), never the stored command line."""
    from harness.compare import after_run as consumer
    from harness.finish import FinishedRun
    from harness.spec import ModelSpec, RunSpec
    from harness.store import SampleStore
    with SampleStore(tmp_path / "samples.jsonl") as store:
        for r in _records("full", {0}) + _records("small", {1, 2, 3, 4, 5, 6}):
            store.append(r)
    results = _results("full", "small")
    results["run"]["argv"] = ["run", "--baseline", "full"]            # ignored: the spec says small
    spec = RunSpec(models=(ModelSpec.parse("full=x"), ModelSpec.parse("small=y")), tasks=(), baseline="small")
    updated = consumer.after_run(None, FinishedRun(tmp_path, spec, results)).to_json()
    assert updated["comparison"]["baseline"] == "small"
    assert updated["comparison"]["models"]["full"]["tasks"]["t"]["accuracy"]["discordant"] == {
        "baseline_only": 1, "other_only": 6}
    results["run"]["argv"] = ["run", "--baseline", "small"]
    assert consumer.after_run(None, FinishedRun(tmp_path, RunSpec(models=spec.models, tasks=()), results)) is None


def test_run_json_records_the_baseline_and_a_resume_compares_against_it(capsys, planted):
    run, _ = _run(capsys, planted, "within", "--model", FULL, "--model", SMALL, "--baseline-model", "small")
    assert json.loads((run / "run.json").read_text())["spec"]["baseline"] == "small"
    (run / "results.json").unlink()
    proc = _in_process(capsys, "run", "--resume", str(run), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((run / "results.json").read_text())["comparison"]["baseline"] == "small"
    proc = _in_process(capsys, "run", "--resume", str(run), "--no-progress", "--baseline-model", "full")   # replaces it
    assert proc.returncode == 0, proc.stderr
    assert json.loads((run / "results.json").read_text())["comparison"]["baseline"] == "full"
    assert json.loads((run / "run.json").read_text())["spec"]["baseline"] == "full"
    proc = _in_process(capsys, "run", "--resume", str(run), "--no-progress", "--baseline-model", "smal")
    assert proc.returncode == 2 and "did you mean small" in proc.stderr


def test_an_old_run_json_without_a_recorded_baseline_resumes_with_the_one_its_argv_gave(capsys, planted):
    """run.json files written before RunSpec.baseline: the loader reads --baseline from their argv once."""
    run, _ = _run(capsys, planted, "within", "--model", FULL, "--model", SMALL, "--baseline-model=small")
    raw = json.loads((run / "run.json").read_text())
    del raw["spec"]["baseline"]
    raw["argv"] = ["run", "--model", FULL, "--model", SMALL, "--baseline=small"]    # spelt as it was then
    (run / "run.json").write_text(json.dumps(raw))
    (run / "results.json").unlink()
    proc = _in_process(capsys, "run", "--resume", str(run), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((run / "results.json").read_text())["comparison"]["baseline"] == "small"
    raw["argv"] = ["run", "--model", FULL, "--model", SMALL]          # started without one: none
    (run / "run.json").write_text(json.dumps(raw))
    proc = _in_process(capsys, "run", "--resume", str(run), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert "comparison" not in json.loads((run / "results.json").read_text())


def _hand_run(folder: Path, run_id: str, task: str = "t", ids: range = range(40)) -> Path:
    folder.mkdir(parents=True)
    results = _results("m", run_id=run_id)
    results["models"]["m"]["tasks"] = {task: results["models"]["m"]["tasks"]["t"]}
    (folder / "results.json").write_text(json.dumps(results))
    records = [r for r in _records("m", set(), task=task) if int(r["id"][1:]) in ids]
    (folder / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return folder


@pytest.mark.parametrize("intersection", [False, True])
def test_runs_that_share_no_item_are_refused_not_compared_on_nothing(capsys, tmp_path, intersection):
    a = _hand_run(tmp_path / "a", "run-a", task="t")
    b = _hand_run(tmp_path / "b", "run-b", task="other")
    c = _hand_run(tmp_path / "c", "run-c", task="t", ids=range(40, 80))       # same task, no shared id
    flags = ["--intersection"] if intersection else []
    for other in ((b, c) if intersection else (b,)):
        proc = _in_process(capsys, "compare", str(a), str(other), *flags, "--json", str(tmp_path / "x.json"))
        assert proc.returncode == 2 and "share no item" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
        assert not (tmp_path / "x.json").exists()


def test_a_run_compared_with_itself_is_refused(capsys, tmp_path):
    a = _hand_run(tmp_path / "a", "run-a")
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("results.json", "samples.jsonl"):
        (copy / name).write_bytes((a / name).read_bytes())
    for other in (a, tmp_path / "." / "a", copy):
        proc = _in_process(capsys, "compare", str(a), str(other), "--json", str(tmp_path / "x.json"))
        assert proc.returncode == 2 and "is the baseline run itself" in proc.stderr, proc.stderr


def test_a_baseline_with_no_close_match_lists_the_runs_own_models(capsys, planted):
    proc = _in_process(capsys, "run", "--tasks", "t", "--tasks-dir", str(planted / "tasks"), "--no-probes",
                       "--no-meters", "--out", str(planted / "none"), "--model", FULL, "--model", SMALL,
                       "--baseline-model", "zzz")
    assert proc.returncode == 2 and "full, small" in proc.stderr and "harness list models" not in proc.stderr
    with pytest.raises(HarnessError, match="not a model of this run") as caught:
        compare_within(_results("a", "b"), [], "zzz")
    assert "a, b" in caught.value.fix


def test_compare_out_cannot_overwrite_a_file_of_a_compared_run(capsys, tmp_path):
    a = _hand_run(tmp_path / "a", "run-a")
    b = _hand_run(tmp_path / "b", "run-b")
    for target in (a / "results.json", b / "samples.jsonl", b / "run.json"):
        before = target.read_bytes() if target.exists() else None
        proc = _in_process(capsys, "compare", str(a), str(b), "--json", str(target))
        assert proc.returncode == 2 and "inside run folder" in proc.stderr, proc.stderr
        assert (target.read_bytes() if target.exists() else None) == before


def test_a_samples_line_nested_past_the_parser_stack_is_one_line(capsys, tmp_path):
    a = _hand_run(tmp_path / "a", "run-a")
    b = _hand_run(tmp_path / "b", "run-b")
    with (b / "samples.jsonl").open("a") as fh:
        fh.write("[" * 100_000 + "]" * 100_000 + "\n")
    proc = _in_process(capsys, "compare", str(a), str(b), "--json", str(tmp_path / "x.json"))
    assert proc.returncode == 2 and "samples.jsonl:41 is damaged" in proc.stderr and "Traceback" not in proc.stderr


def test_a_multiple_choice_item_whose_distractor_changed_does_not_pair():
    """The prompt reads the same, but a choice was edited between the runs: another item."""
    def rec(model: str, i: int, choices: list[str]) -> dict:
        return {"model": model, "task": "mc", "id": f"q{i}", "index": i, "input": f"Question {i}?", "prediction": "a",
                "reference": "a", "scores": {}, "views": {}, "details": {"gold": 0, "choices": choices}}
    base = [rec("full", i, ["a", "b", "c"]) for i in range(4)]
    other = [rec("small", i, ["a", "b", "c" if i else "z"]) for i in range(4)]
    pairing = pair(base, other, lambda r: r["reference"])
    assert pairing.tasks["mc"].n == 3 and pairing.tasks["mc"].changed == 1
    assert pair(base, base, lambda r: r["reference"]).tasks["mc"].n == 4
