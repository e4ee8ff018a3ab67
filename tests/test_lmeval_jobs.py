"""The three jobs on lm-eval tasks: a variant comparison (`harness run --model full=... --model
int8=...,quantize=int8-dynamic --baseline-model full`, and `harness compare` of two runs), a release gate
on an lm-eval task's metrics (with a filter's `exact_match[strip]` and a baseline rule), and history."""
from __future__ import annotations

import json

import pytest

from lmeval_tasks import REPO, write
from run_folders import in_process

pytest.importorskip("lm_eval", reason="lm-eval is in the test extra")

TASKS = "lm-eval:tl_facts,lm-eval:tl_gen,lm-eval:tl_group"
RUN = ("--no-probes", "--no-meters", "--no-progress")

POLICY = """version: 1
rules:
  - name: facts accuracy floor
    select: {model: full, task: "lm-eval:tl_facts"}
    metric: acc
    min: 0.2
  - name: group accuracy floor
    select: {model: full, task: "lm-eval:tl_group"}
    metric: acc
    min: 0.1
  - name: translations exact after strip
    select: {model: full, task: "lm-eval:tl_gen"}
    metric: "exact_match[strip]"
    min: 0.99
"""

BASELINE_POLICY = """version: 1
rules:
  - name: no accuracy regression
    select: {task: "lm-eval:tl_facts"}
    metric: acc
    baseline: {max_drop: 0.5, underpowered: ignore}
  - name: no BLEU collapse
    select: {task: "lm-eval:tl_gen"}
    metric: bleu
    baseline: {max_drop_pct: 50, underpowered: ignore}
"""


@pytest.fixture(scope="module")
def include(tmp_path_factory):
    return write(tmp_path_factory.mktemp("lm_eval_tasks"), n_facts=24, n_gen=8)


def only_run(out):
    return next(p for p in out.iterdir() if p.is_dir())


@pytest.mark.slow
def test_a_variant_comparison_on_lm_eval_tasks_pairs_items_with_lm_evals_metrics(include, capsys, tmp_path):
    out = tmp_path / "out"
    proc = in_process(capsys, "run", "--model", "full=tiny-gpt2", "--model", "int8=tiny-gpt2,quantize=int8-dynamic",
                      "--baseline-model", "full", "--tasks", TASKS, "--lm-eval-include", str(include), "--out", str(out), *RUN)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads((only_run(out) / "results.json").read_text())
    models, comparison = results["models"], results["comparison"]["models"]["int8"]
    acc = comparison["tasks"]["lm-eval:tl_facts"]["acc"]
    assert acc["test"].startswith("mcnemar") and acc["n"] == 24
    full, int8 = (models[m]["tasks"]["lm-eval:tl_facts"]["metrics"]["acc"]["value"] for m in ("full", "int8"))
    assert acc["baseline"] == pytest.approx(full) and acc["delta"] == pytest.approx(int8 - full)
    assert comparison["tasks"]["lm-eval:tl_gen"]["exact_match[strip]"]["test"].startswith("mcnemar")
    bleu = comparison["tasks"]["lm-eval:tl_gen"]["bleu"]
    assert bleu["test"] == "paired_bootstrap" and "approximate_randomization" in bleu
    assert bleu["baseline"] == pytest.approx(models["full"]["tasks"]["lm-eval:tl_gen"]["metrics"]["bleu"]["value"])
    group = comparison["tasks"]["lm-eval:tl_group"]["acc"]
    assert group["baseline"] is None and "compared item by item" in group["reason"] and "not_measured" not in group
    assert comparison["flipped"]["by_task"]["lm-eval:tl_facts"]["metric"] == "acc"


@pytest.mark.slow
def test_a_gate_judges_lm_eval_metrics_and_a_baseline_rule_pairs_two_runs(include, capsys, tmp_path):
    runs, out = {}, tmp_path / "reports"
    for name, spec in (("full", "full=tiny-gpt2"), ("int8", "full=tiny-gpt2,quantize=int8-dynamic")):
        before = set(out.iterdir()) if out.exists() else set()
        proc = in_process(capsys, "run", "--model", spec, "--tasks", TASKS, "--lm-eval-include", str(include),
                          "--out", str(out), *RUN)
        assert proc.returncode == 0, proc.stderr[-2000:]
        (runs[name],) = [p for p in set(out.iterdir()) - before if p.is_dir()]
    policy = tmp_path / "gate.yaml"
    policy.write_text(POLICY)
    proc = in_process(capsys, "gate", str(runs["full"]), "--policy", str(policy))
    assert proc.returncode == 1, proc.stdout + proc.stderr            # exact match after strip is far below 0.99
    gate = json.loads((runs["full"] / "results.json").read_text())["gate"]
    verdicts = {o["name"]: o for o in gate["rules"]}
    tasks = json.loads((runs["full"] / "results.json").read_text())["models"]["full"]["tasks"]
    assert verdicts["facts accuracy floor"]["value"] == tasks["lm-eval:tl_facts"]["metrics"]["acc"]["value"]
    assert verdicts["group accuracy floor"]["verdict"] == "pass"
    strict = verdicts["translations exact after strip"]
    assert strict["verdict"] == "fail" and strict["target"] == "full/lm-eval:tl_gen/exact_match[strip]"
    assert strict["value"] == tasks["lm-eval:tl_gen"]["metrics"]["exact_match[strip]"]["value"]

    policy.write_text(BASELINE_POLICY)
    proc = in_process(capsys, "gate", str(runs["int8"]), "--policy", str(policy), "--baseline", str(runs["full"]))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    outcomes = json.loads((runs["int8"] / "results.json").read_text())["gate"]["rules"]
    judged = [o for o in outcomes if o["name"] in ("no accuracy regression", "no BLEU collapse")]
    assert [o["verdict"] for o in judged] == ["pass", "pass"], judged
    proc = in_process(capsys, "compare", str(runs["full"]), str(runs["int8"]), "--json", str(tmp_path / "cmp.json"))
    assert proc.returncode == 0, proc.stderr
    int8_id = json.loads((runs["int8"] / "results.json").read_text())["run"]["id"]
    compared = json.loads((tmp_path / "cmp.json").read_text())["comparison"]["models"][f"full@{int8_id}"]
    compared = compared["tasks"]["lm-eval:tl_facts"]["acc"]
    assert compared["n"] == 24 and compared["test"].startswith("mcnemar")

    proc = in_process(capsys, "history", str(out), "--html", str(tmp_path / "history.html"))
    assert proc.returncode == 0, proc.stderr
    assert "lm-eval:tl_facts" in (tmp_path / "history.html").read_text()


def test_energy_windows_of_lm_eval_tasks_and_groups(include, capsys, tmp_path):
    out = tmp_path / "out"
    proc = in_process(capsys, "run", "--model", "tiny-gpt2", "--tasks", "lm-eval:tl_gen,lm-eval:tl_group",
                      "--lm-eval-include", str(include), "--out", str(out), "--no-probes", "--no-progress",
                      "--carbon-intensity", "50")
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads((only_run(out) / "results.json").read_text())
    jsonschema = pytest.importorskip("jsonschema")           # lm-eval's entries are valid results.json
    jsonschema.Draft202012Validator(json.loads((REPO / "results.schema.json").read_text())).validate(results)
    tasks = results["models"]["tiny-gpt2"]["tasks"]
    gen = tasks["lm-eval:tl_gen"]["energy"]
    assert gen["examples"] == 8 and gen["total_energy_j"]["source"] != "not_measured"
    assert gen["j_per_generated_token"]["value"] > 0                 # the records' generated_tokens reached the window
    group = tasks["lm-eval:tl_group"]["energy"]
    parts = [tasks[f"lm-eval:tl_{n}"]["energy"] for n in ("sounds", "colours")]
    assert group["examples"] == sum(p["examples"] for p in parts) == 13
    assert group["total_energy_j"]["value"] == pytest.approx(sum(p["total_energy_j"]["value"] for p in parts), rel=1e-6)
    assert group["gco2e"]["value"] > 0 and "acc" in group["quality_per_kj"]
