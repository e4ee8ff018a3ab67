"""harness.compare.stats and what the comparison reports from it: a zero observed difference is never
significant, Holm runs per compared model (another model never weakens a comparison), and the cost
table's headline is the model's own memory, with the process's peak memory labelled as such."""
from __future__ import annotations

import numpy as np
import pytest

import results_builder as rb
from harness.compare import compare_within
from harness.compare import stats as st
from harness.compare.build import paired_stat
from harness.compare.cost import cost
from harness.compare.terminal import comparison_table
from harness.metrics.text import Bleu
from harness.results.types import ModelResult


def test_bleu_zero_against_zero_with_different_outputs_has_p_one():
    """toyzh: two models' garbage outputs differ on 2 of 30 items, BLEU 0 for both: Δ +0 printed
    p < 0.001 (Holm 0.003, "significant")."""
    refs = ["我 看 见 一 只 猫 。"] * 30
    base = ["la pano joli trovas la pano vexa ."] * 30
    other = list(base)
    other[3], other[7] = "la kato .", "hundo vidas"
    stats = Bleu.example_stats(base + other, refs + refs)
    assert not np.array_equal(stats[:30], stats[30:])
    s = paired_stat(stats[:30], stats[30:], Bleu.value_from_totals, binary=False, higher_is_better=True, seed=1)
    assert s["baseline"] == s["other"] == 0 and s["delta"] == 0
    assert s["p_value"] == 1.0 and s["approximate_randomization"]["p_value"] == 1.0


def test_a_nonzero_difference_keeps_sacrebleus_p_definition():
    rng = np.random.default_rng(0)
    b = np.column_stack([rng.uniform(0, 1, 40), np.ones(40)])
    o = b.copy()
    o[:, 0] += rng.normal(0.05, 0.02, 40)
    result = st.paired_bootstrap(b, o, lambda t: t[0] / t[1], 1000, 3)
    assert result.p_value == pytest.approx(1 / 1001) and result.sd_delta > 0 and result.sd_baseline > 0


def _records(model: str, wrong: set[int], n: int = 40) -> list[dict]:
    return [{"model": model, "task": "t", "id": f"q{i}", "index": i, "input": f"item {i}", "prediction":
             "b" if i in wrong else "a", "reference": "a", "scores": {}, "views": {}, "details": {}} for i in range(n)]


def _results(*models: str) -> dict:
    task = rb.task({"accuracy": rb.metric(0.5), "f1_macro": rb.metric(0.5)}, kind="classify")
    return rb.results("r1", {m: rb.model(tasks={"t": task}) for m in models}).to_json()


def test_holm_runs_per_compared_model_so_another_model_never_weakens_one():
    """In a three-model comparison p < 0.001 became Holm p 0.06."""
    two = compare_within(_results("full", "small"), _records("full", set()) + _records("small", set(range(12))), "full")
    three = compare_within(_results("full", "small", "pruned"),
                           _records("full", set()) + _records("small", set(range(12)))
                           + _records("pruned", set(range(20, 33))), "full")
    for metric in ("accuracy", "f1_macro"):
        assert two.models["small"].tasks["t"][metric].p_holm == three.models["small"].tasks["t"][metric].p_holm
    assert three.models["small"].tasks["t"]["accuracy"].significant
    assert three.holm_family.startswith("per compared model")
    assert "Holm's correction over each compared model's p-values" in comparison_table(three)


def _model(memory: int | None, peak: float, source: str = "process peak RSS since the model started loading") -> ModelResult:
    extra = {"size": {"memory": {"value": memory, "unit": "bytes"}}} if memory is not None else {}
    return rb.model(peak_memory=rb.figure(peak, "bytes", source), **extra)


def test_the_cost_headline_is_the_models_own_memory():
    """int8 read x1.17 ("1.02e+03 MiB") while the models themselves took 3.4 against 10.1 MiB."""
    c = cost(_model(10_572_800, 876e6), _model(3_529_472, 1_024e6), [])
    assert c["model_memory_bytes"]["baseline"] == 10_572_800 and c["model_memory_bytes"]["ratio"] == pytest.approx(0.3338, rel=1e-3)
    assert c["peak_memory_bytes"]["source"].startswith("process peak memory: ")
    comparison = rb.comparison({"int8": {"cost": c}}, baseline="full", source="run").to_json()
    text = comparison_table(comparison)
    lines = [line.strip() for line in text.splitlines()]
    model = next(i for i, line in enumerate(lines) if line.startswith("model memory:"))
    peak = next(i for i, line in enumerate(lines) if line.startswith("process peak memory:"))
    assert model < peak and "10.1 MiB -> 3.37 MiB (x0.334" in lines[model]
    assert not any(line.startswith("peak memory") for line in lines)
    missing = cost(_model(None, 876e6), _model(3_529_472, 1_024e6), [])["model_memory_bytes"]
    assert missing["baseline"] is None and "records no size.memory" in missing["reason"]
