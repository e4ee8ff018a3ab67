"""Meters against a synthetic NVML device and a fake RAPL tree, with expected values derived by hand.

The GPU trace (tests/fake_nvml.py): 50 W until t=1 s (the idle baseline), 100 W from 1 s, 300 W
from 2 s; clock-event reasons: gpu_idle before 1 s, sw_power_cap from 2.5 s to 2.8 s. The energy
counter is the exact integral of power, updated every 0.1 s. The sampler runs every 0.1 s.
"""
from __future__ import annotations


import pytest

from fake_nvml import FakeClock, FakeNvml
from harness.meters.carbon import CarbonIntensity, resolve_intensity
from harness.meters.cpu import HostMeter, find_rapl_domains
from harness.meters.energy import aggregate, energy_object
from harness.meters.nvml import NvmlMeter, decode_reasons, visible_indices
from harness.meters.session import MeterSession, read_windows
from harness.errors import HarnessError

POWER = [(0.0, 50.0), (1.0, 100.0), (2.0, 300.0)]
REASONS = [(0.0, 0x1), (1.0, 0x0), (2.5, 0x4), (2.8, 0x0)]


def make_meter(**fake_kwargs):
    clock = FakeClock()
    fake = FakeNvml(clock, POWER, REASONS, **fake_kwargs)
    meter = NvmlMeter(period_s=0.1, idle_s=1.0, nvml=fake, clock=clock, sleep=clock.sleep, threaded=False, visible=None)
    meter.start()                      # idle baseline: samples at 0.0 ... 0.9, ends at t = 1.0
    return clock, meter


def sample_until(clock, meter, end_s):
    while clock() <= end_s + 1e-9:
        meter.sample_once()
        clock.sleep(0.1)


def window(clock, meter, t0, t1):
    clock.set(t0)
    begin = meter.read()
    clock.set(t1)
    end = meter.read()
    return meter.figures(begin, end)


@pytest.fixture
def traced():
    clock, meter = make_meter()
    assert clock() == 1.0
    sample_until(clock, meter, 3.0)    # samples at 1.0, 1.1, ..., 3.0
    return clock, meter


def test_idle_baseline_is_the_counter_energy_over_the_idle_time():
    _, meter = make_meter()
    assert meter.idle_power_w == {0: pytest.approx(50.0)}            # 50 J over 1.0 s


def test_window_energy_from_counter_and_from_integrated_power(traced):
    clock, meter = traced
    f = window(clock, meter, 1.5, 2.5)
    # counter: 0.5 s at 100 W + 0.5 s at 300 W = 200 J
    assert f["gpu_energy_j"] == {"value": pytest.approx(200.0), "unit": "J", "source": "nvml_energy_counter"}
    # trapezoids over samples 1.5..2.5: 0.4 s at 100 W = 40 J; 1.9->2.0 ramps 100->300 W = 20 J; 0.5 s at 300 W = 150 J
    assert f["gpu_energy_integrated_j"]["value"] == pytest.approx(210.0)
    assert f["gpu_energy_discrepancy_pct"]["value"] == pytest.approx(5.0)
    # net of idle: 200 J - 50 W x 1.0 s
    assert f["gpu_energy_net_j"]["value"] == pytest.approx(150.0)
    assert f["gpu_power_mean_w"]["value"] == pytest.approx(200.0)
    assert f["gpu_power_peak_w"]["value"] == pytest.approx(300.0)
    assert f["short_window"] is False                                # 1.0 s >= 5 x 0.1 s
    (gpu,) = f["gpus"]
    assert gpu["update_period_s"] == pytest.approx(0.1)
    assert gpu["pstates"] == [0] and gpu["temp_c_max"] == 71


def test_throttle_time_and_violation_counters(traced):
    clock, meter = traced
    f = window(clock, meter, 2.0, 3.0)
    # sw_power_cap seen at samples 2.5, 2.6 and 2.7, each held 0.1 s until the next sample
    assert f["throttle_s"] == {"sw_power_cap": pytest.approx(0.3)}
    (gpu,) = f["gpus"]
    assert gpu["violation_s"]["power"] == pytest.approx(0.3)
    assert gpu["sm_clock_mhz"]["min"] == 1500 and gpu["sm_clock_mhz"]["max"] == 1980
    assert decode_reasons(0x4 | 0x40) == ["sw_power_cap", "hw_thermal_slowdown"]


def test_short_windows_are_flagged(traced):
    clock, meter = traced
    f = window(clock, meter, 2.0, 2.3)                               # 0.3 s < 5 x 0.1 s
    assert f["short_window"] is True
    assert f["gpu_energy_j"]["value"] == pytest.approx(90.0)        # 0.3 s at 300 W


def test_without_an_energy_counter_integrated_power_is_the_source():
    clock, meter = make_meter(has_energy_counter=False, has_field_values=False)
    sample_until(clock, meter, 3.0)
    f = window(clock, meter, 1.5, 2.5)
    assert f["gpu_energy_j"]["source"] == "nvml_power_integrated"
    assert f["gpu_energy_j"]["value"] == pytest.approx(210.0)
    assert "gpu_energy_discrepancy_pct" not in f
    assert meter.idle_power_w == {0: pytest.approx(50.0)}            # mean of the idle samples
    assert meter.environment()["gpus"][0]["unsupported_queries"]["total_energy"] == "Not Supported"


def test_missing_nvml_and_mig_are_reported_not_raised():
    clock = FakeClock()
    meter = NvmlMeter(nvml=FakeNvml(clock, POWER, init_error="NVML Shared Library Not Found"), clock=clock, threaded=False)
    meter.start()
    f = meter.figures(meter.read(), meter.read())
    assert f["gpu_energy_j"] == {"value": None, "unit": "J", "source": "not_measured",
                                 "reason": "GPU: NVML Shared Library Not Found"}
    mig = NvmlMeter(nvml=FakeNvml(clock, POWER, mig=True), clock=clock, threaded=False, idle_s=0)
    mig.start()
    assert "MIG" in mig.environment()["gpus"][0]["reason"]
    assert mig.figures(mig.read(), mig.read())["gpu_energy_j"]["source"] == "not_measured"


def test_the_real_nvml_on_a_machine_without_a_gpu_says_why():
    pytest.importorskip("pynvml")
    import torch
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    meter = NvmlMeter(threaded=False, idle_s=0)
    meter.start()
    assert meter.unavailable
    assert meter.figures(meter.read(), meter.read())["gpu_energy_j"]["reason"].startswith("GPU: ")


def test_cuda_visible_devices_selects_nvml_devices():
    uuid = {0: "GPU-a", 1: "GPU-b", 2: "GPU-c"}.__getitem__
    assert visible_indices(None, 3, uuid) == [0, 1, 2]
    assert visible_indices("2,0", 3, uuid) == [2, 0]
    assert visible_indices("GPU-b", 3, uuid) == [1]
    assert visible_indices("1,-1,2", 3, uuid) == [1]
    assert visible_indices("", 3, uuid) == []


def _rapl_tree(root, package_uj, max_uj=1000):
    zone = root / "intel-rapl:0"
    zone.mkdir(parents=True, exist_ok=True)
    (zone / "name").write_text("package-0\n")
    (zone / "max_energy_range_uj").write_text(f"{max_uj}\n")
    (zone / "energy_uj").write_text(f"{package_uj}\n")
    return zone


def test_rapl_counter_handles_wraparound(tmp_path):
    zone = _rapl_tree(tmp_path, 700)
    clock = FakeClock()
    meter = HostMeter(rapl_root=tmp_path, clock=clock)
    meter.start()
    assert meter.source == "rapl"
    begin = meter.read()
    (zone / "energy_uj").write_text("900\n")
    clock.set(1.0)
    meter.read()
    (zone / "energy_uj").write_text("100\n")                       # wrapped at 1000 uJ
    clock.set(2.0)
    end = meter.read()
    f = meter.figures(begin, end)
    # 700 -> 900 is 200 uJ; 900 -> wrap -> 100 is 200 uJ
    assert f["cpu_energy_j"] == {"value": pytest.approx(400e-6), "unit": "J", "source": "rapl"}
    assert f["cpu_power_mean_w"]["value"] == pytest.approx(200e-6)
    assert f["ram_energy_j"]["source"] == "not_measured"


def test_unreadable_rapl_without_estimate_is_not_measured(tmp_path):
    meter = HostMeter(rapl_root=tmp_path / "none", allow_estimate=False)
    meter.start()
    assert find_rapl_domains(tmp_path / "none")[0] == []
    assert meter.figures(meter.read(), meter.read())["cpu_energy_j"]["reason"].endswith("(no RAPL on this machine or kernel)")


def test_nested_windows_are_recorded_with_their_work_and_telemetry(tmp_path):
    clock = FakeClock()
    fake = FakeNvml(clock, POWER, REASONS)
    meter = NvmlMeter(period_s=0.1, idle_s=1.0, nvml=fake, clock=clock, sleep=clock.sleep, threaded=False)
    with MeterSession([meter], tmp_path, clock=clock) as session:
        with session.window("run", "r"):
            with session.window("task", "t", model="m", task="t", examples=0) as w:
                sample_until(clock, meter, 2.0)        # samples at 1.0 .. 2.0; the clock ends at 2.1
                w.attrs["examples"] = 10
    windows = read_windows(tmp_path)
    task, run = windows
    assert (task["path"], run["path"]) == ("run:r/task:t", "run:r")
    assert task["examples"] == 10 and task["completed"]
    assert task["figures"]["gpu_energy_j"]["value"] == pytest.approx(130.0)    # 1.0 s at 100 W + 0.1 s at 300 W
    csv_lines = (tmp_path / "telemetry.csv").read_text().splitlines()
    assert sum(",sample," in line for line in csv_lines) == 21         # 10 idle + 11 in the window
    assert any(",begin,run:r/task:t," in line for line in csv_lines)


def test_derived_figures_by_hand():
    windows = [{"kind": "task", "duration_s": 2.0, "examples": 40, "generated_tokens": 400,
                "figures": {"gpu_energy_j": {"value": 600.0, "unit": "J", "source": "nvml_energy_counter"},
                            "cpu_energy_j": {"value": 100.0, "unit": "J", "source": "estimated"},
                            "ram_energy_j": {"value": 20.0, "unit": "J", "source": "estimated"},
                            "throttle_s": {"sw_power_cap": 0.5}, "short_window": False}},
               {"kind": "task", "duration_s": 1.0, "examples": 10, "generated_tokens": 100,
                "figures": {"gpu_energy_j": {"value": 300.0, "unit": "J", "source": "nvml_energy_counter"},
                            "cpu_energy_j": {"value": 50.0, "unit": "J", "source": "estimated"},
                            "ram_energy_j": {"value": 10.0, "unit": "J", "source": "estimated"},
                            "throttle_s": {"sw_power_cap": 0.25}, "short_window": True}}]
    intensity = CarbonIntensity(400.0, "user", pue=1.5)
    e = energy_object(aggregate(windows), intensity, metrics={"accuracy": {"value": 0.9}}, kind="generate")
    assert e["total_energy_j"]["value"] == pytest.approx(1080.0)     # 900 + 150 + 30
    assert e["total_energy_j"]["source"] == "estimated"                # the weakest part
    assert e["gpu_energy_j"]["source"] == "nvml_energy_counter"
    assert e["j_per_example"]["value"] == pytest.approx(1080 / 50)
    assert e["examples_per_j"]["value"] == pytest.approx(50 / 1080)
    assert e["j_per_generated_token"]["value"] == pytest.approx(1080 / 500)
    assert e["quality_per_kj"]["accuracy"]["value"] == pytest.approx(0.9 / 1.08)
    assert e["gpu_power_mean_w"]["value"] == pytest.approx(300.0)     # 900 J / 3 s
    grams = 1080 / 3.6e6 * 1.5 * 400                                    # kWh x PUE x g/kWh
    assert e["gco2e"]["value"] == pytest.approx(grams)
    assert e["gco2e_per_1000_examples"]["value"] == pytest.approx(grams * 1000 / 50)
    assert e["throttle_s"]["sw_power_cap"]["value"] == pytest.approx(0.75)
    assert e["short_window"] is True


def test_carbon_intensity_never_defaults_silently():
    none = resolve_intensity(None, None)
    assert not none.known and "--country" in none.source
    e = energy_object(aggregate([]), none)
    assert e["gco2e"]["source"] == "not_measured" and "--country" in e["gco2e"]["reason"]
    assert resolve_intensity(None, 120.0).g_per_kwh == 120.0
    fra = resolve_intensity("fra", None)
    assert 10 < fra.g_per_kwh < 200 and fra.source.startswith("codecarbon energy mix for FRA (France, ")
    with pytest.raises(HarnessError, match="no energy-mix data"):
        resolve_intensity("XYZ", None)
    with pytest.raises(HarnessError, match="PUE"):
        resolve_intensity(None, 100.0, pue=0.5)
