"""benchmarks/gpu_sweep.py (issue 20's GPU sweep, ready for a GPU) on the CPU path with a tiny
Llama-shaped model: every row is read from the run's own files, a figure a CPU cannot give reads
"not measured: <reason>" (never 0), and the tune runs on the same model folder."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from support import REPO


@pytest.mark.slow
def test_the_sweep_runs_end_to_end_on_a_cpu_and_labels_what_it_could_not_measure(tmp_path):
    out = tmp_path / "sweep"
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_sweep.py"), "--out", str(out), "--shape", "tiny",
                           "--device", "cpu", "--dtype", "float32", "--batch-sizes", "2,4", "--limit", "4", "--repeats", "1",
                           "--tune-trials", "2"], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((out / "sweep.json").read_text())
    rows = report["rows"]
    assert [(r["batch_size"], r["task"]) for r in rows] == [(2, "toylang"), (2, "facts_mc"), (4, "toylang"), (4, "facts_mc")]
    for r in rows:
        assert r["device"] == "cpu" and r["status"] == "complete"
        assert r["j_per_example"]["value"] > 0 and r["j_per_example"]["source"]
        assert r["gpu_energy_j"]["value"] is None and r["gpu_energy_j"]["reason"]      # not 0: not measured, and why
        assert str(r["idle_power_w"]).startswith("not measured: ")
    gen = [r for r in rows if r["task"] == "toylang"]
    assert all(r["tokens"] > 0 and r["tokens_per_s"] > 0 and r["j_per_token"]["unit"] == "J/token" for r in gen)
    table = (out / "sweep.md").read_text()
    assert table.count("\n") == 6 and "not measured: " in table
    assert any(line.startswith("measuring the full model") for line in report["tune"]["stdout"])
    assert (out / "tune" / "tune.json").is_file()
