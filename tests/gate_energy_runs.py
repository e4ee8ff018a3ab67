"""Synthetic runs for the energy gate, measured through the real meter stack: the synthetic NVML
device (fake_nvml.py) on a fake clock, MeterSession windows, the protocol's repeats
(harness.protocol.run_repeats), the energy objects of harness.meters.energy, the typed results and
the gate's rules. Shared by tests/test_gate_energy.py (the must-show) and
benchmarks/gate_energy.py (the README's table of detection and false-alarm rates).

The workload: a task of 32 examples that keeps the GPU at 300 W (60 W idle) for ~1.2 s a pass.
Run-to-run noise: each pass's duration varies by a normal factor (3% by default: the machine's
load), so its energy does too. A candidate that uses 10% more energy draws 330 W. Each run: a
warm-up pass, then ``repeats`` measured repeats.
"""
from __future__ import annotations

import random
from pathlib import Path

import results_builder as rb
from fake_nvml import FakeClock, FakeNvml
from harness.gate.policy import parse_policy
from harness.gate.rules import evaluate
from harness.meters.carbon import CarbonIntensity
from harness.meters.energy import aggregate, energy_object
from harness.meters.nvml import NvmlMeter
from harness.meters.session import MeterSession, read_windows
from harness.protocol import Piece, run_repeats
from harness.results.energy import Energy
from harness.spec import MeasureOptions

IDLE_W, BUSY_W, EXAMPLES, PASS_S, NOISE = 60.0, 300.0, 32, 1.2, 0.03
POLICY = parse_policy({"version": 1, "rules": [
    {"name": "energy vs baseline", "select": {"task": "t"}, "energy": "j_per_example",
     "baseline": {"max_increase_pct": 5}}]})


class _State:
    """What harness.failures.isolated needs of a run's state."""

    def __init__(self):
        self.failures: list = []

    def clear_failure(self, *key):
        pass

    def record_failure(self, failure):
        self.failures.append(failure)


def measure(tmp: Path, seed: int, power_w: float, repeats: int = 5, noise: float = NOISE) -> Energy:
    """One run's task energy: a warm-up pass and ``repeats`` measured repeats on the synthetic GPU."""
    rng = random.Random(seed)
    clock = FakeClock()
    fake = FakeNvml(clock, [(0.0, IDLE_W)], counter_period=0.02)
    meter = NvmlMeter(period_s=0.1, idle_s=1.0, nvml=fake, clock=clock, sleep=clock.sleep, threaded=False, visible=None)

    def work(window) -> int:                     # one pass: the GPU busy for a noisy time, sampled every 100 ms
        end_ms = clock.ms + round(1000 * PASS_S * (1 + rng.gauss(0, noise)))
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


def verdict(tmp: Path, seed: int, planted: float, repeats: int = 5, noise: float = NOISE) -> tuple[str, str]:
    """The gate's verdict and reason on a baseline run (seed) and a candidate drawing ``planted`` more
    power (seed + 1000), each measured with ``repeats`` repeats."""
    base = measure(tmp / f"base{seed}", seed, BUSY_W, repeats, noise)
    other = measure(tmp / f"other{seed}", 1000 + seed, BUSY_W * (1 + planted), repeats, noise)
    outcome = evaluate(POLICY, results("other", other), results("base", base))[1]
    return outcome.verdict, outcome.reason


def rates(tmp: Path, seeds: int, repeats: int = 5, noise: float = NOISE) -> dict[str, tuple[int, int]]:
    """(fails, warns) over ``seeds`` seeds for a planted +10% (seeds 0..n-1) and no change (n..2n-1)."""
    out = {}
    for name, planted, first in (("planted", 0.10, 0), ("unchanged", 0.0, seeds)):
        got = [verdict(tmp / name, s, planted, repeats, noise)[0] for s in range(first, first + seeds)]
        out[name] = (got.count("fail"), got.count("warn"))
    return out
