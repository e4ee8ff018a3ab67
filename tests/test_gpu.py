"""The real NVML path on a real GPU (skipped without one). Run with `pytest -m gpu -s` to see the figures."""
from __future__ import annotations

import json
import time

import pytest
import torch

from support import run_cli

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs an NVIDIA GPU")]


def test_matmul_load_energy_from_counter_and_integrated_power(tmp_path):
    from harness.meters.nvml import NvmlMeter
    meter = NvmlMeter(period_s=0.05, idle_s=2.0)
    meter.start()
    assert meter.unavailable is None, meter.unavailable
    try:
        a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
        begin = meter.read()
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            for _ in range(20):
                a = (a @ a).clamp_(-1, 1)
            torch.cuda.synchronize()
        end = meter.read()
        figures = meter.figures(begin, end)
    finally:
        meter.stop()
    print(json.dumps({"environment": meter.environment(), "figures": figures}, indent=1, default=str))
    counter = figures["gpu_energy_j"]
    assert counter["source"] == "nvml_energy_counter" and counter["value"] > 0
    integrated = figures["gpu_energy_integrated_j"]["value"]
    assert integrated > 0
    assert abs(figures["gpu_energy_discrepancy_pct"]["value"]) < 15
    assert figures["gpu_energy_discrepancy_pct"]["coverage"] == 1.0      # edge samples: covered to both edges
    assert figures["gpu_power_mean_w"]["value"] > meter.idle_power_w[meter.devices[0].index]
    (gpu,) = [g for g in figures["gpus"] if g["samples"]][:1]
    assert gpu["sm_clock_mhz"]["max"] > 0 and gpu["pstates"]
    assert figures["short_window"] is False


def test_default_run_on_the_gpu_reads_the_energy_counter(tmp_path):
    proc = run_cli("run", "--model", "tiny-gpt2", "--tasks", "toylang,facts_mc", "--out", str(tmp_path), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    results = json.loads(next(tmp_path.glob("*/results.json")).read_text())
    info = results["models"]["tiny-gpt2"]
    assert info["device"].startswith("cuda") and info["dtype"] in ("bfloat16", "float16")
    for task in ("toylang", "facts_mc"):
        energy = info["tasks"][task]["energy"]
        assert energy["gpu_energy_j"]["source"] == "nvml_energy_counter"
        assert energy["gpu_energy_j"]["value"] > 0
        discrepancy = energy["gpu_energy_discrepancy_pct"]          # every window covered to its edges
        assert discrepancy["source"] == "nvml_power_integrated" and discrepancy["coverage"] == pytest.approx(1.0)
    print(json.dumps({t: info["tasks"][t]["energy"] for t in ("toylang", "facts_mc")}, indent=1))
