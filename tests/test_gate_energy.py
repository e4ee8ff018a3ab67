"""Energy rules judged with their uncertainty (harness.gate.energy), on repeats measured through the
real meter stack: the synthetic NVML device (tests/fake_nvml.py) on a fake clock, MeterSession
windows, the protocol's repeats (harness.protocol.run_repeats), the energy objects of
harness.meters.energy, the typed results, and the gate's rules.

The workload: a task of 32 examples that keeps the GPU at 300 W (60 W idle) for ~1.2 s. Run-to-run
noise: each pass's duration varies by a normal factor of 3% (the machine's load), so its energy
does too. A candidate that uses 10% more energy draws 330 W. Each run: a warm-up pass, then 5
measured repeats.
"""
from __future__ import annotations

import random
from pathlib import Path

import pytest

import results_builder as rb
from fake_nvml import FakeClock, FakeNvml
from harness.gate.energy import judge_budget, welch_p
from harness.gate.policy import Bounds, parse_policy
from harness.gate.rules import evaluate
from harness.meters.carbon import CarbonIntensity
from harness.meters.energy import aggregate, energy_object
from harness.meters.nvml import NvmlMeter
from harness.meters.session import MeterSession, read_windows
from harness.protocol import Piece, run_repeats
from harness.results.energy import Energy
from harness.spec import MeasureOptions

IDLE_W, BUSY_W, EXAMPLES, PASS_S, NOISE = 60.0, 300.0, 32, 1.2, 0.03
SEEDS = 40
POLICY = parse_policy({"version": 1, "rules": [
    {"name": "energy vs baseline", "select": {"task": "t"}, "energy": "j_per_example",
     "baseline": {"max_increase_pct": 5}}]})


class _State:
    """What harness.failures.isolated needs of a run's state."""
    failures: list = []

    def clear_failure(self, *key):
        pass

    def record_failure(self, failure):
        self.failures.append(failure)


def measure(tmp: Path, seed: int, power_w: float, repeats: int = 5) -> Energy:
    """One run's task energy: a warm-up pass and ``repeats`` measured repeats on the synthetic GPU."""
    rng = random.Random(seed)
    clock = FakeClock()
    fake = FakeNvml(clock, [(0.0, IDLE_W)], counter_period=0.02)
    meter = NvmlMeter(period_s=0.1, idle_s=1.0, nvml=fake, clock=clock, sleep=clock.sleep, threaded=False, visible=None)

    def work(window) -> int:                     # one pass: the GPU busy for a noisy time, sampled every 100 ms
        end_ms = clock.ms + round(1000 * PASS_S * (1 + rng.gauss(0, NOISE)))
        fake.power_steps += [(clock(), power_w), (end_ms / 1000, IDLE_W)]
        while clock.ms < end_ms:
            clock.ms += 1
            if clock.ms % 100 == 0:
                meter.sample_once()
        window.attrs["examples"] += EXAMPLES
        return 0

    tmp.mkdir(parents=True)
    with MeterSession([meter], tmp, clock=clock, sync=lambda: None) as session:
        with session.window("task", "t", model="m", task="t", examples=0, repeat=0) as window:   # the warm-up pass
            work(window)
        run_repeats(_State(), "m", [Piece("task", "t", {"model": "m", "task": "t"}, work)],
                    MeasureOptions(repeats=repeats), session, set())
    windows = read_windows(tmp)
    return Energy.model_validate(energy_object(aggregate(windows), CarbonIntensity(None, "none"), repeated=windows))


def results(run_id: str, energy: Energy):
    task = rb.task({"accuracy": rb.metric(0.5, n=EXAMPLES)}, n=EXAMPLES, energy=energy)
    return rb.results(run_id, {"m": rb.model(tasks={"t": task})})


def verdict(tmp: Path, seed: int, planted: float, repeats: int = 5) -> tuple[str, str]:
    base = measure(tmp / f"base{seed}", seed, BUSY_W, repeats)
    other = measure(tmp / f"other{seed}", 1000 + seed, BUSY_W * (1 + planted), repeats)
    outcome = evaluate(POLICY, results("other", other), results("base", base))[1]
    return outcome.verdict, outcome.reason


def test_each_repeat_is_measured_from_the_counter(tmp_path):
    energy = measure(tmp_path / "r", 1, BUSY_W)
    jpe = energy.j_per_example
    assert jpe.repeats == 5 and jpe.source == "nvml_energy_counter"
    assert all(abs(v / (BUSY_W * PASS_S / EXAMPLES) - 1) < 0.12 for v in jpe.per_repeat)        # 11.25 J +- noise
    assert jpe.interval[0] < jpe.value < jpe.interval[1] and 0 < jpe.cv < 0.1
    assert energy.examples == 6 * EXAMPLES and energy.measurement.repeats == 5


def test_a_planted_10_percent_increase_is_detected_and_no_change_is_not(tmp_path):
    """The must-show figures (README): detection and false alarms over SEEDS seeds."""
    detected = sum(verdict(tmp_path, s, 0.10)[0] == "fail" for s in range(SEEDS))
    false_alarms = sum(verdict(tmp_path, s, 0.0)[0] == "fail" for s in range(SEEDS, 2 * SEEDS))
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
