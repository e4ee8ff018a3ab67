"""history.html: one self-contained page (inline CSS and SVG, no scripts). Chart coordinates are
computed here as numbers; the Jinja2 template (autoescape on) writes every string, so no run id,
model name or task name can inject markup. A series is one figure of one model name: a changed
recipe, weights or inputs is an event drawn on its chart (a vertical mark titled with what changed),
and a point that scored nothing is a failed point (a red mark), never a silent gap."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import jinja2

from harness.history.trend import Series, fmt, point_text

_ENV = jinja2.Environment(loader=jinja2.PackageLoader("harness.history", "templates"),
                          autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
                          undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_ENV.filters["num"] = fmt

WIDTH, HEIGHT, PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 760, 150, 70, 60, 10, 24


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    title: str
    changed: str
    baseline: bool


@dataclass(frozen=True)
class FailedRow:
    run_id: str
    text: str


@dataclass(frozen=True)
class TrendChart:
    label: str
    key: str
    unit: str
    line: str                     # polyline points of the measured values
    bands: tuple[str, ...]        # polygons of the CI band, one per run of consecutive points with a CI
    markers: tuple[Marker, ...]
    gaps: tuple[tuple[float, str], ...]     # x and reason of points not measured (scored something)
    failed: tuple[tuple[float, str], ...]   # x and text of failed points: what they measure scored nothing
    events: tuple[tuple[float, str], ...]   # x and text of events: recipe, weights or inputs changed there
    y_ticks: tuple[tuple[float, str], ...]
    x_ticks: tuple[tuple[float, str], ...]
    baseline_y: float | None
    summary: str
    width: int = WIDTH
    height: int = HEIGHT
    pad_left: int = PAD_LEFT
    pad_right: int = PAD_RIGHT


def trend_chart(s: Series, run_order: dict[str, int]) -> TrendChart:
    slots = max(len(run_order) - 1, 1)
    plot_w, plot_h = WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - PAD_TOP - PAD_BOTTOM
    x = lambda run: PAD_LEFT + (run_order[run] / slots if len(run_order) > 1 else 0.5) * plot_w  # noqa: E731
    values = [v for p in s.points for v in (p.value, p.ci_lo if p.has_ci else None, p.ci_hi if p.has_ci else None) if v is not None]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    if hi - lo < 1e-12:
        lo, hi = lo - (abs(lo) * 0.1 or 0.5), hi + (abs(hi) * 0.1 or 0.5)
    pad = (hi - lo) * 0.08
    lo, hi = lo - pad, hi + pad
    y = lambda v: PAD_TOP + plot_h - (v - lo) / (hi - lo) * plot_h  # noqa: E731
    measured = [p for p in s.points if p.value is not None]
    line = " ".join(f"{x(p.run_id):.1f},{y(p.value):.1f}" for p in measured)
    bands, run = [], []
    for p in s.points + (None,):
        if p is not None and p.has_ci:
            run.append(p)
            continue
        if run:
            upper = [f"{x(q.run_id):.1f},{y(q.ci_hi):.1f}" for q in run]
            lower = [f"{x(q.run_id):.1f},{y(q.ci_lo):.1f}" for q in reversed(run)]
            if len(run) == 1:      # one point: a small bar, so a lone CI still shows
                cx = x(run[0].run_id)
                upper = [f"{cx - 3:.1f},{y(run[0].ci_hi):.1f}", f"{cx + 3:.1f},{y(run[0].ci_hi):.1f}"]
                lower = [f"{cx + 3:.1f},{y(run[0].ci_lo):.1f}", f"{cx - 3:.1f},{y(run[0].ci_lo):.1f}"]
            bands.append(" ".join(upper + lower))
            run = []
    markers = tuple(Marker(x(p.run_id), y(p.value), f"{p.run_id} ({p.started}, git {p.git_sha[:8] or '?'}): {point_text(p)}",
                           p.changed, p.baseline) for p in measured)
    gaps = tuple((x(p.run_id), f"{p.run_id}: {p.reason}") for p in s.points if p.value is None and not p.failed)
    failed = tuple((x(p.run_id), f"{p.run_id}: {point_text(p)}") for p in s.points if p.failed)
    events = tuple((x(p.run_id), f"{p.run_id}: {'; '.join(p.events)}") for p in s.points if p.events)
    base = next((p for p in s.points if p.baseline), None)
    ticks = tuple((y(lo + (hi - lo) * k / 2), fmt(lo + (hi - lo) * k / 2)) for k in range(3))
    order = sorted(run_order, key=run_order.get)
    step = max(1, len(order) // 6)
    x_ticks = tuple((x(r), r) for r in order[::step])
    summary = " → ".join(point_text(p) for p in s.points)
    return TrendChart(s.label, s.key, s.points[0].unit if s.points else "", line, tuple(bands), markers, gaps, failed, events, ticks,
                      x_ticks, y(base.value) if base else None, summary)


def render_history(series: Sequence[Series], runs: Sequence[dict], baseline: str | None, source: str) -> str:
    run_order = {r["run_id"]: i for i, r in enumerate(runs)}
    quality = [trend_chart(s, run_order) for s in series if s.scope in ("task", "probe")]
    energy = [trend_chart(s, run_order) for s in series if s.scope == "energy" and s.metric == "j_per_example"]
    changed = [(s, p) for s in series for p in s.changed]
    events = [(s, p, e) for s in series for p, e in s.events]
    failed = [(s, FailedRow(p.run_id, point_text(p))) for s in series for p in s.points if p.failed]
    return _ENV.get_template("history.html.j2").render(runs=runs, quality=quality, energy=energy, changed=changed,
                                                       events=events, failed=failed,
                                                       baseline=baseline, source=source, n_series=len(series))
