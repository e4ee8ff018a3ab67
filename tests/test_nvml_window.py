"""The counter-vs-integrated discrepancy is reported for every GPU window, with its coverage
(harness.meters.nvml_window), on a synthetic trace whose power steps and window edges all fall
between the sampler's samples.

The trace: 60 W idle until 1.0 s, then a power step every ~0.63 s (140-320 W), none on a sample's
time; the sampler runs every 0.1 s, the energy counter updates every 0.02 s; windows of ~2.2 s
begin and end between samples (1.037 s, 3.262 s, ...). Before the edge samples, the seconds after
a window's last sample were never covered, so no window reported a discrepancy.
"""
from __future__ import annotations

import json
import time

import pytest

from fake_nvml import FakeClock, FakeNvml
from harness.meters.carbon import CarbonIntensity
from harness.meters.energy import aggregate, energy_object
from harness.meters.nvml import NvmlMeter
from harness.meters.nvml_window import counter_over, covered_spans
from harness.meters.session import MeterSession, read_windows

TRACE = [(0.0, 60.0), (1.013, 180.0), (1.437, 260.0), (2.071, 140.0), (2.653, 310.0), (3.289, 220.0),
         (3.917, 290.0), (4.555, 170.0), (5.204, 240.0), (5.866, 300.0), (6.491, 150.0), (7.128, 270.0),
         (7.777, 200.0), (8.409, 320.0), (9.046, 180.0)]
EDGES_MS = [1037, 3262, 5541, 7813, 10049]


def run_trace(power_scale: float = 1.0) -> tuple[FakeNvml, list[tuple[float, dict]]]:
    """Samples every 100 ms and reads the window edges as a run does: each window's figures are
    computed at its end, before the sampler's next sample exists."""
    clock = FakeClock()
    fake = FakeNvml(clock, TRACE, counter_period=0.02, power_scale=power_scale)
    meter = NvmlMeter(period_s=0.1, idle_s=1.0, nvml=fake, clock=clock, sleep=clock.sleep, threaded=False, visible=None)
    meter.start()
    begin, out = None, []
    while clock.ms <= EDGES_MS[-1]:
        if clock.ms % 100 == 0:
            meter.sample_once()
        if clock.ms in EDGES_MS:
            reading = meter.read()
            if begin is not None:
                true_j = fake.energy_j(reading.t) - fake.energy_j(begin.t)
                out.append((true_j, meter.figures(begin, reading)))
            begin = reading
        clock.ms += 1
    return fake, out


@pytest.mark.parametrize("planted_pct", [0.0, 3.0])
def test_every_window_reports_the_discrepancy_within_2_points_of_the_planted_one(planted_pct):
    _, windows = run_trace(power_scale=1 + planted_pct / 100)
    assert len(windows) == 4
    for true_j, f in windows:
        d = f["gpu_energy_discrepancy_pct"]
        assert d["source"] == "nvml_power_integrated", d
        assert d["coverage"] == 1.0                       # edge samples: the whole window is covered
        assert d["value"] == pytest.approx(planted_pct, abs=2.0)
        assert f["gpu_energy_j"]["value"] == pytest.approx(true_j, rel=0.02)      # the counter
        assert f["gpu_energy_integrated_j"]["value"] == pytest.approx(true_j * (1 + planted_pct / 100), rel=0.02)
        assert "coverage" not in f["gpu_energy_integrated_j"]
        (gpu,) = f["gpus"]
        assert gpu["edge_samples"] == 2 and gpu["samples"] >= 22


def test_a_task_over_several_windows_reports_their_combined_discrepancy():
    _, windows = run_trace(power_scale=1.03)
    records = [{"kind": "task", "duration_s": 2.0, "figures": f} for _, f in windows]
    e = energy_object(aggregate(records), CarbonIntensity(None, "none"))
    d = e["gpu_energy_discrepancy_pct"]
    counter = sum(f["gpu_energy_discrepancy_pct"]["compared_counter_j"] for _, f in windows)
    integrated = sum(f["gpu_energy_discrepancy_pct"]["compared_integrated_j"] for _, f in windows)
    assert d["value"] == pytest.approx(100 * (integrated - counter) / counter)
    assert d["value"] == pytest.approx(3.0, abs=2.0) and d["coverage"] == pytest.approx(1.0)


def test_spans_and_the_counter_over_them():
    points = [(0.0, 100.0), (1.0, 100.0), (2.0, None), (3.0, 200.0), (4.0, 200.0)]
    spans = covered_spans(points, 0.5, 3.5)
    assert spans == [(0.5, 1.0), (3.0, 3.5)]
    assert counter_over(spans, {0.5: 1000, 1.0: 51_000, 3.0: 300_000, 3.5: 400_000}) == pytest.approx(150.0)
    assert counter_over(spans, {0.5: 1000, 1.0: 51_000, 3.0: 300_000}) is None      # not read at 3.5 s


class _RealClock:
    """The fake device on the real clock, for the threaded sampler."""

    def __init__(self):
        self.t0 = time.monotonic()

    def __call__(self) -> float:
        return time.monotonic() - self.t0


def test_with_the_threaded_sampler_every_window_is_covered_to_its_edges(tmp_path):
    clock = _RealClock()
    steps = [(0.0, 60.0)] + [(0.013 + 0.137 * i, 100.0 + 40 * (i % 5)) for i in range(60)]
    fake = FakeNvml(clock, steps, counter_period=0.005)
    meter = NvmlMeter(period_s=0.05, idle_s=0, nvml=fake, clock=clock, threaded=True, visible=None)
    with MeterSession([meter], tmp_path, clock=clock, sync=lambda: None) as session:
        with session.window("run", "r"):
            for i in range(4):
                with session.window("task", f"t{i}", model="m", task=f"t{i}", examples=1):
                    time.sleep(0.33)
    windows = read_windows(tmp_path)
    assert len(windows) == 5
    for w in windows:
        d = w["figures"]["gpu_energy_discrepancy_pct"]
        assert d["source"] == "nvml_power_integrated" and d["coverage"] == 1.0, json.dumps(w["figures"], default=str)[:500]
