"""A run as TensorBoard events (torch.utils.tensorboard's SummaryWriter), in DIR/<run-id>/ so that
a log folder of many runs shows each as its own TensorBoard run.

* scalars at step 0: ``<model>/task/<task>/<metric>`` with ``.../ci95_lower`` and ``.../ci95_upper``,
  ``<model>/probe/<probe>/<metric>``, energy ``<model>/energy/<task|probe:NAME|model>/<figure>`` and
  ``run/energy/<figure>`` (figures: total_energy_j, j_per_example, gco2e);
* timelines from telemetry.csv, step = milliseconds since the run started, wall time = the sample's:
  ``telemetry/gpu<N>/power_w``, ``sm_clock_mhz``, ``gfx_clock_mhz``, ``mem_clock_mhz``, ``temp_c``,
  ``util_gpu_pct``, and ``telemetry/host/cpu_power_w`` (with its source in a text summary). Only
  samples the meters wrote are used: a CPU machine has no GPU rows, so no GPU tag is written;
* a text summary ``not_measured`` listing every figure that could not be measured (never written as 0).
Exporting the same run again replaces its event files (a second file would show every point twice)."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.exports.prometheus import ENERGY
from harness.results.energy import Energy, energy_reason
from harness.results.reading import as_results
from harness.results.types import Results
from harness.results.values import MetricValue

GPU_COLUMNS = ("power_w", "sm_clock_mhz", "gfx_clock_mhz", "mem_clock_mhz", "temp_c", "util_gpu_pct")


def _num(value: Any) -> float | None:
    """A telemetry.csv cell as a number (empty or garbage: None)."""
    if isinstance(value, str):
        try:
            value = float(value) if value else None
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def scalars(results: Results | dict) -> tuple[dict[str, float], list[str]]:
    """(tag -> value, ["tag: reason"] for the figures not measured)."""
    results = as_results(results)
    out: dict[str, float] = {}
    missing: list[str] = []

    def metrics(prefix: str, values: dict[str, MetricValue]) -> None:
        for metric, m in values.items():
            if m.value is None:
                missing.append(f"{prefix}/{metric}: {m.reason}")
                continue
            out[f"{prefix}/{metric}"] = float(m.value)
            lo, hi = m.ci95
            if lo is not None and hi is not None:
                out[f"{prefix}/{metric}/ci95_lower"], out[f"{prefix}/{metric}/ci95_upper"] = float(lo), float(hi)

    def energy(prefix: str, obj: Energy | None) -> None:
        for key, _, _ in ENERGY:
            fig = obj.figure(key) if obj is not None else None
            if fig is None or fig.value is None:
                missing.append(f"{prefix}/{key}: {fig.reason if fig else energy_reason(obj)}")
            else:
                out[f"{prefix}/{key}"] = float(fig.value)

    for name, m in results.models.items():
        for task, t in m.tasks.items():
            metrics(f"{name}/task/{task}", t.metrics)
            energy(f"{name}/energy/{task}", t.energy)
        for probe, p in m.probes.items():
            metrics(f"{name}/probe/{probe}", p.metrics)
            energy(f"{name}/energy/probe:{probe}", p.energy)
        energy(f"{name}/energy/model", m.energy)
    energy("run/energy", results.energy.run if results.energy is not None else None)
    return out, missing


def timelines(rows: list[dict]) -> dict[str, list[tuple[int, float, float]]]:
    """tag -> [(step in ms since the first row, value, unix time)] from telemetry.csv's sample rows."""
    times = [_num(r.get("unix_time")) for r in rows]
    t0 = min((t for t in times if t is not None), default=None)
    out: dict[str, list[tuple[int, float, float]]] = {}
    for r, t in zip(rows, times):
        if r.get("event") != "sample" or t is None:
            continue
        step = int(round((t - t0) * 1000))
        gpu = r.get("gpu")
        if gpu not in (None, ""):
            for column in GPU_COLUMNS:
                value = _num(r.get(column))
                if value is not None:
                    out.setdefault(f"telemetry/gpu{gpu}/{column}", []).append((step, value, t))
        cpu = _num(r.get("cpu_power_w"))
        if cpu is not None:
            out.setdefault("telemetry/host/cpu_power_w", []).append((step, cpu, t))
    return out


def write_events(results: Results | dict, run_dir: Path, log_dir: Path) -> Path:
    """Writes the run's events to ``log_dir/<run-id>/``; returns that folder."""
    from torch.utils.tensorboard import SummaryWriter

    from harness.meters.session import read_telemetry
    results = as_results(results)             # run.id is a plain folder name (checked by the types)
    run = results.run
    name = run.id
    target = Path(log_dir) / name
    rows = read_telemetry(Path(run_dir))
    values, missing = scalars(results)
    sources = sorted({r.get("cpu_power_source") for r in rows if r.get("event") == "sample" and r.get("cpu_power_source")})
    try:
        target.mkdir(parents=True, exist_ok=True)
        for old in target.glob("events.out.tfevents.*"):      # an export of the run again replaces the last one
            old.unlink()
        writer = SummaryWriter(log_dir=str(target))
        try:
            for tag, value in values.items():
                writer.add_scalar(tag, value, global_step=0)
            for tag, points in timelines(rows).items():
                for step, value, wall in points:
                    writer.add_scalar(tag, value, global_step=step, walltime=wall)
            if missing:
                writer.add_text("not_measured", "\n".join(f"* {line}" for line in missing), global_step=0)
            if sources:
                writer.add_text("telemetry/host/source", ", ".join(sources), global_step=0)
            writer.add_text("run", f"run {run.id} ({run.status}), git {run.git_sha}", global_step=0)
        finally:
            writer.close()
    except OSError as exc:
        raise HarnessError(f"cannot write TensorBoard events to {target} ({exc.strerror or exc})",
                           "pass a writable --tensorboard DIR") from None
    return target
