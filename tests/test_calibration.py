"""Calibration: ECE over equal-width bins, the Brier score and reliability data, on hand-computed cases."""
from __future__ import annotations

import math

import numpy as np
import pytest

import results_builder as rb
from support import REPO, write_task
from harness.audit import run_audit
from harness.calibration import Forecast, bin_of, calibration, softmax
from harness.kinds.classify import Classify
from harness.kinds.multiple_choice import MultipleChoice
from harness.results.types import Calibration
from harness.run_dir import RunState
from harness.spec import MeterOptions, ModelSpec, RunSpec


def test_ece_brier_and_reliability_by_hand():
    # four binary answers; confidences 0.9 (right), 0.8 (wrong), 0.65 (right), 0.95 (right), 10 bins:
    # bin 9 holds 0.9 and 0.95 (acc 1, conf 0.925): |2 - 1.85| = 0.15; bin 8: 0.8 wrong: |0 - 0.8| = 0.8;
    # bin 6: 0.65 right: |1 - 0.65| = 0.35. ECE = (0.15 + 0.8 + 0.35) / 4 = 0.325.
    # Brier: (0.1^2 * 2) = 0.02, (0.8^2 + 0.8^2) = 1.28, (0.35^2 * 2) = 0.245, (0.05^2 * 2) = 0.005 -> mean 0.3875
    forecasts = [Forecast((0.9, 0.1), 0, 0), Forecast((0.8, 0.2), 0, 1), Forecast((0.35, 0.65), 1, 1),
                 Forecast((0.05, 0.95), 1, 1)]
    out = calibration(forecasts, "test", seed=0, resamples=200)
    assert out["bins"] == 10 and out["binning"] == "equal-width" and out["n"] == 4
    assert out["metrics"]["ece"]["value"] == pytest.approx(0.325)
    assert out["metrics"]["brier"]["value"] == pytest.approx(0.3875)
    assert not out["metrics"]["ece"]["higher_is_better"]
    rows = {r["bin"]: r for r in out["reliability"]}
    assert len(out["reliability"]) == 10 and sum(r["count"] for r in out["reliability"]) == 4
    assert rows[9] == {"bin": 9, "lower": 0.9, "upper": 1.0, "count": 2, "confidence": pytest.approx(0.925),
                       "accuracy": 1.0}
    assert rows[8]["accuracy"] == 0.0 and rows[6]["confidence"] == pytest.approx(0.65)
    assert rows[0] == {"bin": 0, "lower": 0.0, "upper": 0.1, "count": 0, "confidence": None, "accuracy": None}
    lo, hi = out["metrics"]["ece"]["ci95"]
    assert 0 <= lo <= hi <= 1


def test_ece_matches_a_direct_loop_and_edges_fall_in_the_right_bin():
    assert bin_of(1.0) == 9 and bin_of(0.0) == 0 and bin_of(0.1) == 1 and bin_of(0.0999) == 0
    rng = np.random.default_rng(1)
    forecasts = []
    for _ in range(300):
        probs = rng.dirichlet(np.ones(4))
        forecasts.append(Forecast(tuple(probs), int(np.argmax(probs)), int(rng.integers(4))))
    conf = np.array([f.confidence for f in forecasts])
    correct = np.array([f.correct for f in forecasts], float)
    expected = 0.0
    for b in range(10):   # Guo et al.: sum_b |B_b|/N * |acc(B_b) - conf(B_b)|
        inside = (conf >= b / 10) & ((conf < (b + 1) / 10) | (b == 9))
        if inside.any():
            expected += inside.mean() * abs(correct[inside].mean() - conf[inside].mean())
    out = calibration(forecasts, "test", seed=0, resamples=10)
    assert out["metrics"]["ece"]["value"] == pytest.approx(expected)
    from sklearn.metrics import brier_score_loss
    two = [Forecast((1 - p, p), int(p >= 0.5), int(y)) for p, y in zip(rng.random(50), rng.integers(0, 2, 50))]
    # binary: the multi-class Brier (sum over both classes) is twice sklearn's brier_score_loss
    assert calibration(two, "t", 0, 10)["metrics"]["brier"]["value"] == pytest.approx(
        2 * brier_score_loss([f.gold for f in two], [f.probs[1] for f in two]))


def test_forecasts_from_stored_records():
    mc = MultipleChoice().forecast({"details": {"logprobs": [math.log(0.2), math.log(0.6), math.log(0.2)], "gold": 0}})
    assert mc.probs == pytest.approx((0.2, 0.6, 0.2)) and mc.predicted == 1 and not mc.correct
    assert softmax([-1000.0, -1000.0]) == (0.5, 0.5)
    assert MultipleChoice().forecast({"details": {"logprobs": [-1.0, -2.0]}}) is None     # no gold: not guessed
    cl = Classify().forecast({"prediction": "b", "reference": "c", "details": {"probs": {"a": 0.2, "b": 0.6}}})
    assert cl.probs == pytest.approx((0.25, 0.75, 0.0)) and cl.predicted == 1 and cl.gold == 2
    assert Classify().forecast({"prediction": "a", "reference": "a", "details": {"probs": {}}}) is None


def test_calibration_lands_in_results_for_multiple_choice_and_not_for_a_model_without_probabilities(tmp_path,
                                                                                                   monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "tests"))
    # ShortestChoice: log-likelihood = -len(" " + choice): choices "ab" (-3), "abcd" (-5): p = 1/(1+e^-2)
    rows = [{"id": str(i), "question": f"q{i}", "choices": ["ab", "abcd"], "answer": i % 2} for i in range(4)]
    write_task(tmp_path / "tasks" / "mc", "mc", rows, kind="multiple_choice", prompt="{question}")
    write_task(tmp_path / "tasks" / "cl", "cl", [{"id": "x", "text": "a cat", "label": "a"}], kind="classify",
               answer="label")
    spec = RunSpec(models=(ModelSpec("m", "py", "fake_models:ShortestChoice"),), tasks=("mc", "cl"),
                   tasks_dirs=(tmp_path / "tasks",), meters=MeterOptions(enabled=False), probes=())
    tasks = run_audit(RunState.create(tmp_path / "out", spec, argv=[]), progress=False).to_json()["models"]["m"]["tasks"]
    cal = tasks["mc"]["calibration"]
    p = 1 / (1 + math.exp(-2))
    assert cal["source"].startswith("softmax") and cal["n"] == 4
    # always picks "ab" with confidence p; right half the time: ECE = |0.5 - p|, Brier = (1-p)^2 + (1-p)^2 or 2p^2
    assert cal["metrics"]["ece"]["value"] == pytest.approx(abs(0.5 - p))
    assert cal["metrics"]["brier"]["value"] == pytest.approx(((1 - p) ** 2 * 2 + p ** 2 * 2) / 2)
    assert [r["count"] for r in cal["reliability"]][bin_of(p)] == 4
    assert set(tasks["cl"]["calibration"]) == {"reason"}          # not measured: only the reason, no metrics


def test_the_reliability_diagram_draws_the_non_empty_bins_and_the_page_escapes_its_text():
    from harness.report.html import render_html
    from harness.report.reliability import reliability_chart
    forecasts = [Forecast((0.9, 0.1), 0, 0), Forecast((0.8, 0.2), 0, 1), Forecast((0.35, 0.65), 1, 1)]
    cal = calibration(forecasts, "t", 0, 10)
    chart = reliability_chart("<b>mc</b>", Calibration.model_validate(cal))
    assert len(chart.bins) == 3 and chart.caption.startswith("ECE 0.417")   # (0.1 + 0.8 + 0.35) / 3 = 1.25 / 3
    assert reliability_chart("t", Calibration(reason="no probs")).reason == "no probs"
    results = rb.results("r", {"m": rb.model(tasks={
        "<b>mc</b>": rb.task({}, n=3, calibration=cal),
        "cl": rb.task({}, kind="classify", n=1, calibration={"reason": "no <probs>"})})})
    html = render_html(results, [])
    assert html.count('class="reliability"') == 1 and "ECE 0.417" in html
    assert "&lt;b&gt;mc&lt;/b&gt;" in html and "<b>mc</b>" not in html
    assert "not measured: no &lt;probs&gt;" in html
