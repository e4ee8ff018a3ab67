"""Telemetry timelines for report.html as plain data (coordinates), drawn by the template as SVG.

Computing coordinates here and letting the autoescaping template write the markup means no
string is ever marked safe."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM = 900, 160, 56, 22


@dataclass(frozen=True)
class Band:
    x0: float
    x1: float
    label: str


@dataclass
class Chart:
    title: str
    unit: str
    points: str
    y_ticks: list[tuple[float, str]]
    x_ticks: list[tuple[float, str]]
    tasks: list[Band] = field(default_factory=list)
    throttled: list[Band] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    pad_left: int = PAD_LEFT
    pad_bottom: int = PAD_BOTTOM


def read_telemetry(run_dir: Path) -> list[dict]:
    """telemetry.csv's rows. Whatever a kill left is read without guessing: a torn last row is left
    out, and a file whose header never reached the disk is read with the known columns."""
    from harness.meters.session import TELEMETRY_COLUMNS
    path = run_dir / "telemetry.csv"
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8", errors="replace")
    text = text[:text.rfind("\n") + 1]
    header = text.split("\n", 1)[0].split(",")
    names = header if header[0] == "unix_time" else TELEMETRY_COLUMNS
    return [row for row in csv.DictReader(io.StringIO(text), fieldnames=names) if row.get("unix_time") != "unix_time"]


def _num(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def build_charts(rows: list[dict]) -> list[Chart]:
    times = [_num(r["unix_time"]) for r in rows if _num(r["unix_time"]) is not None]
    if not times:
        return []
    t0, t1 = min(times), max(times)
    span = max(t1 - t0, 1e-6)
    plot_w = WIDTH - PAD_LEFT - 10
    x = lambda t: PAD_LEFT + (t - t0) / span * plot_w  # noqa: E731
    tasks = _task_bands(rows, x)
    x_ticks = [(x(t0 + span * k / 4), f"{span * k / 4:.1f} s") for k in range(5)]
    charts = []
    gpus = sorted({r["gpu"] for r in rows if r["event"] == "sample" and r["gpu"] not in ("", None)})
    for gpu in gpus:
        mine = [r for r in rows if r["event"] == "sample" and r["gpu"] == gpu]
        throttled = _throttle_bands(mine, x)
        for column, title, unit in (("power_w", "power", "W"), ("sm_clock_mhz", "SM clock", "MHz"), ("temp_c", "temperature", "°C")):
            chart = _chart(f"GPU {gpu} {title}", unit, [(_num(r["unix_time"]), _num(r[column])) for r in mine], x, x_ticks)
            if chart:
                chart.tasks, chart.throttled = tasks, throttled
                charts.append(chart)
    cpu = [r for r in rows if r["event"] == "sample" and _num(r.get("cpu_power_w")) is not None]
    if cpu:
        source = cpu[0].get("cpu_power_source") or "?"
        chart = _chart(f"CPU power ({source})", "W", [(_num(r["unix_time"]), _num(r["cpu_power_w"])) for r in cpu], x, x_ticks)
        if chart:
            chart.tasks = tasks
            charts.append(chart)
    return charts


def _chart(title: str, unit: str, series: list[tuple[float | None, float | None]], x, x_ticks) -> Chart | None:
    series = [(t, v) for t, v in series if t is not None and v is not None]
    if not series:
        return None
    lo, hi = min(v for _, v in series), max(v for _, v in series)
    lo, hi = (min(0.0, lo), hi * 1.1 if hi > 0 else 1.0)
    plot_h = HEIGHT - PAD_BOTTOM - 8
    y = lambda v: 8 + plot_h - (v - lo) / (hi - lo) * plot_h  # noqa: E731
    points = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in sorted(series))
    y_ticks = [(y(lo + (hi - lo) * k / 2), f"{lo + (hi - lo) * k / 2:.0f}") for k in range(3)]
    return Chart(title=title, unit=unit, points=points, y_ticks=y_ticks, x_ticks=x_ticks)


def _task_bands(rows: list[dict], x) -> list[Band]:
    begins: dict[str, float] = {}
    bands = []
    for r in rows:
        if "/task:" not in (r.get("window") or "") or r["event"] not in ("begin", "end"):
            continue
        t = _num(r["unix_time"])
        if r["event"] == "begin":
            begins[r["window"]] = t
        elif r["window"] in begins:
            parts = r["window"].split("/")
            label = f"{parts[-2].removeprefix('model:')} · {parts[-1].removeprefix('task:')}" if len(parts) > 1 else parts[-1]
            bands.append(Band(x(begins.pop(r["window"])), x(t), label))
    return bands


def _throttle_bands(samples: list[dict], x) -> list[Band]:
    bands, start, label = [], None, ""
    for r, nxt in zip(samples, samples[1:] + [None]):
        reasons = [n for n in (r.get("clock_event_reasons") or "").split("|") if n and n != "gpu_idle"]
        t = _num(r["unix_time"])
        if reasons and start is None:
            start, label = t, ", ".join(reasons)
        if start is not None and (not reasons or nxt is None):
            bands.append(Band(x(start), x(t), label))
            start = None
    return bands
