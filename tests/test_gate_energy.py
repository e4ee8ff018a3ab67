"""Energy rules judged with their uncertainty (harness.gate.energy), on repeats measured through the
real meter stack (the synthetic runs of tests/gate_energy_runs.py: the synthetic NVML device on a
fake clock, a task of 32 examples at 300 W for ~1.2 s a pass with 3% run-to-run noise; a candidate
using 10% more energy draws 330 W; each run a warm-up pass, then 5 measured repeats).
"""
from __future__ import annotations

import pytest

import results_builder as rb
from gate_energy_runs import BUSY_W, EXAMPLES, PASS_S, measure, rates, verdict
from harness.gate.energy import judge_budget, welch_p
from harness.gate.policy import Bounds

SEEDS = 40


def test_each_repeat_is_measured_from_the_counter(tmp_path):
    energy = measure(tmp_path / "r", 1, BUSY_W)
    jpe = energy.j_per_example
    assert jpe.repeats == 5 and jpe.source == "nvml_energy_counter"
    assert all(abs(v / (BUSY_W * PASS_S / EXAMPLES) - 1) < 0.12 for v in jpe.per_repeat)        # 11.25 J +- noise
    assert jpe.interval[0] < jpe.value < jpe.interval[1] and 0 < jpe.cv < 0.1
    assert energy.examples == 6 * EXAMPLES and energy.measurement.repeats == 5


def test_a_planted_10_percent_increase_is_detected_and_no_change_is_not(tmp_path):
    """The must-show figures (README): detection and false alarms over SEEDS seeds."""
    got = rates(tmp_path, SEEDS)
    detected, false_alarms = got["planted"][0], got["unchanged"][0]
    print(f"\n+10%: {detected}/{SEEDS} detected; 0%: {false_alarms}/{SEEDS} false alarms")
    assert detected >= 0.95 * SEEDS
    assert false_alarms <= 0.05 * SEEDS


def test_the_reasons_name_the_test_and_its_repeats(tmp_path):
    outcome, reason = verdict(tmp_path, 7, 0.10)
    assert outcome == "fail" and "Welch p" in reason and "on 5 and 5 repeats" in reason and "significant" in reason
    outcome, reason = verdict(tmp_path, 8, 0.0)
    assert outcome in ("pass", "warn") and "Welch p" in reason


def test_one_repeat_is_judged_without_a_spread_and_says_so(tmp_path):
    outcome, reason = verdict(tmp_path, 3, 0.10, repeats=1)
    assert outcome == "fail" and "judged without a spread" in reason and "--repeats N" in reason


def test_welch_by_hand_and_without_any_spread():
    from scipy.stats import t
    # means 12 and 10.5, variances 1 and 0.25 over 3 each: se^2 = 1/3 + 0.25/3, t = 1.5 / se;
    # Welch-Satterthwaite df = se^4 / ((1/3)^2 / 2 + (0.25/3)^2 / 2) = 2.941
    se2 = 1 / 3 + 0.25 / 3
    df = se2 ** 2 / ((1 / 3) ** 2 / 2 + (0.25 / 3) ** 2 / 2)
    p = float(t.sf(1.5 / se2 ** 0.5, df))                                  # 0.0522
    assert welch_p([10.0, 10.5, 11.0], [11.0, 12.0, 13.0]) == pytest.approx(p)
    assert welch_p([10.0, 10.5, 11.0], [11.0, 12.0, 13.0], higher_is_worse=False) == pytest.approx(1 - p)
    assert welch_p([5.0, 5.0], [6.0, 6.0]) == 0.0 and welch_p([5.0, 5.0], [5.0, 5.0]) == 1.0


def _figure(value, lo=None, hi=None):
    spread = {} if lo is None else {"ci95": (lo, hi), "repeats": 5, "per_repeat": [value] * 5, "cv": 0.05}
    return rb.figure(value, "J/example", "nvml_energy_counter", **spread)


@pytest.mark.parametrize("figure, verdict", [
    (_figure(4.0, 3.5, 4.5), "pass"),
    (_figure(4.8, 4.4, 5.2), "warn"),          # only the upper bound is over 5
    (_figure(5.3, 4.9, 5.7), "warn"),          # the mean is over, the interval's lower bound is not
    (_figure(5.6, 5.1, 6.1), "fail"),          # the whole interval is over
    (_figure(5.6), "fail"),                    # one pass: the value alone
    (_figure(4.9), "pass"),
])
def test_an_absolute_budget_is_judged_on_the_interval(figure, verdict):
    got, reason = judge_budget(Bounds(max=5.0), figure)
    assert got == verdict, reason
    assert ("without a spread" in reason) == (figure.ci95 is None)


def test_a_floor_is_judged_on_the_interval_too():
    assert judge_budget(Bounds(min=5.0), _figure(5.2, 4.8, 5.6))[0] == "warn"
    assert judge_budget(Bounds(min=5.0), _figure(4.5, 4.2, 4.8))[0] == "fail"
    assert judge_budget(Bounds(min=5.0), _figure(5.5, 5.2, 5.8))[0] == "pass"
