"""history.html: one self-contained page (inline CSS and SVG, no scripts). Chart coordinates are
computed here as numbers; the Jinja2 template (autoescape on) writes every string, so no run id,
model name or task name can inject markup.

Each series is labelled for a reader: the model's name and recipe ("tiny-gpt2 (float32, prune=0.9)"),
the task or probe, the metric - the hashes that keep series apart stay in the tooltip, and two series
that would read alike say from which run their inputs or recipe date. Energy charts start at zero, so a
wobble of a few percent looks like one, and draw the interval over repeats as a band where a run
measured one. A series with a single measured point is a row of a compact table, not a full chart.
A series follows one model's name: a changed recipe, weights or inputs is an event drawn on its chart
and listed, and a point that scored nothing is a failed point, marked and listed, never a plain gap."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import jinja2

from harness.history.trend import Series, fmt, point_text
from harness.report.numbers import nice_ticks, tick_label

_ENV = jinja2.Environment(loader=jinja2.PackageLoader("harness.history", "templates"),
                          autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
                          undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_ENV.filters["num"] = fmt

WIDTH, HEIGHT, PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 600, 150, 70, 40, 10, 24
RUN_LABEL = "all models (the run)"


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    title: str
    changed: str
    baseline: bool
    failed: bool = False          # what the point measures scored nothing in that run


@dataclass(frozen=True)
class TrendChart:
    label: str
    key: str
    unit: str
    line: str                     # polyline points of the measured values
    bands: tuple[str, ...]        # polygons of the CI band, one per run of consecutive points with a CI
    markers: tuple[Marker, ...]
    gaps: tuple[tuple[float, str], ...]     # x and reason of points not measured
    y_ticks: tuple[tuple[float, str], ...]
    x_ticks: tuple[tuple[float, str], ...]
    baseline_y: float | None
    summary: str
    zero_based: bool = False      # the y axis starts at 0 (energy)
    code: str = ""                # the label `harness history` prints (with the hashes)
    events: tuple[tuple[float, str], ...] = ()   # x and what changed there (a recipe, weights, inputs)
    width: int = WIDTH
    height: int = HEIGHT
    pad_left: int = PAD_LEFT
    pad_right: int = PAD_RIGHT


@dataclass(frozen=True)
class SinglePoint:
    """A series measured in one run only: one row of the compact table."""
    label: str
    code: str                     # the label `harness history` prints (with the hashes)
    value: str
    unit: str
    run_id: str
    started: str


def series_label(s: Series, recipe: str = "") -> str:
    """"tiny-gpt2 (float32, prune=0.9) · task facts_mc · accuracy"; ``recipe``: the model's recipe in words."""
    who = RUN_LABEL if s.model == "run" and s.scope == "energy" else s.model
    text = recipe
    if text and s.model != "run":
        who += f" ({text})"
    what = {"task": f"task {s.subject}", "probe": f"probe {s.subject}"}.get(s.scope)
    if what is None:                                       # energy: of a task, a probe, the model or the run
        what = "the model" if s.subject == "model" else "the run" if s.subject == "run" else s.subject.replace(":", " ")
        what = f"energy of {what}"
    return f"{who} · {what} · {s.metric}"


def _newest_recipe(s: Series) -> str:
    """The recipe of the series' newest point, where its points record one in words (a series that
    follows a model's name across recipe changes)."""
    text = next((getattr(p, "recipe_text", "") for p in reversed(s.points) if getattr(p, "recipe_text", "")), "")
    return recipe_in_words(text)


def recipe_in_words(text: str) -> str:
    """"tiny-gpt2,prune=0.9 (float32)" (the model as asked, as the index keeps it) -> "float32, prune=0.9"."""
    spec, _, dtype = text.rpartition(" (") if text.endswith(")") else (text, "", "")
    options = [o for o in spec.split(",")[1:] if o]
    return ", ".join(([dtype[:-1]] if dtype else []) + options)


def labels(series: Sequence[Series], recipes: Mapping[str, str]) -> dict[str, str]:
    """Each series' label (``recipes``: series key -> its recipe in words); series that read alike (other
    inputs, or recipes that read the same) say from which run on they hold."""
    plain = {s.key: series_label(s, _newest_recipe(s) or recipes.get(s.key, "")) for s in series}
    count: dict[str, int] = {}
    for text in plain.values():
        count[text] = count.get(text, 0) + 1
    first = {s.key: (next((p.started for p in s.points), ""), next((p.run_id for p in s.points), "")) for s in series}
    earliest: dict[str, tuple[str, str]] = {}
    for key, text in plain.items():
        earliest[text] = min(earliest.get(text, first[key]), first[key])
    return {key: text if count[text] == 1 or first[key] == earliest[text]
            else f"{text} · other inputs or recipe, from run {first[key][1]}" for key, text in plain.items()}


def _y_range(values: list[float], zero_based: bool) -> tuple[float, float]:
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    if zero_based and lo >= 0:
        return 0.0, hi if hi > 0 else 1.0
    if hi - lo < 1e-12:
        lo, hi = lo - (abs(lo) * 0.1 or 0.5), hi + (abs(hi) * 0.1 or 0.5)
    pad = (hi - lo) * 0.05
    return lo - pad, hi + pad


def trend_chart(s: Series, run_order: dict[str, int], label: str | None = None) -> TrendChart:
    slots = max(len(run_order) - 1, 1)
    plot_w, plot_h = WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - PAD_TOP - PAD_BOTTOM
    x = lambda run: PAD_LEFT + (run_order[run] / slots if len(run_order) > 1 else 0.5) * plot_w  # noqa: E731
    values = [v for p in s.points for v in (p.value, p.ci_lo if p.has_ci else None, p.ci_hi if p.has_ci else None) if v is not None]
    zero_based = s.scope == "energy"
    ticks_at = nice_ticks(*_y_range(values, zero_based), 3)         # round steps: 0 / 0.5 / 1, not 0.3942
    lo, hi = ticks_at[0], ticks_at[-1]
    zero_based = zero_based and lo == 0.0
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
    failed = tuple(Marker(x(p.run_id), PAD_TOP + plot_h, f"{p.run_id}: {point_text(p)}", "", False, True)
                   for p in s.points if getattr(p, "failed", False))
    markers += failed
    gaps = tuple((x(p.run_id), f"{p.run_id}: {p.reason}") for p in s.points
                 if p.value is None and not getattr(p, "failed", False))
    events = tuple((x(p.run_id), f"{p.run_id}: " + "; ".join(getattr(p, "events", ())))
                   for p in s.points if getattr(p, "events", ()))
    base = next((p for p in s.points if p.baseline), None)
    ticks = tuple((y(v), tick_label(v, ticks_at)) for v in ticks_at)
    order = sorted(run_order, key=run_order.get)
    step = max(1, len(order) // 6)
    x_ticks = tuple((x(r), r) for r in order[::step])
    summary = " → ".join(point_text(p) for p in s.points)
    return TrendChart(label or s.label, s.key, s.points[0].unit if s.points else "", line, tuple(bands), markers, gaps,
                      ticks, x_ticks, y(base.value) if base else None, summary, zero_based, s.label, events)


def _single(s: Series, label: str) -> SinglePoint | None:
    """The series as one table row when a chart would show no trend: one run, or no measured point."""
    measured = [p for p in s.points if p.value is not None]
    if len(s.points) == 1:
        p = s.points[0]
        return SinglePoint(label, s.label, point_text(p), p.unit if p.value is not None else "", p.run_id, p.started)
    if not measured:
        reasons = sorted({p.reason.removeprefix("not measured: ") for p in s.points})
        first, last = s.points[0], s.points[-1]
        return SinglePoint(label, s.label, f"not measured in any of its {len(s.points)} runs ({'; '.join(reasons)})", "",
                           f"{first.run_id} … {last.run_id}", first.started)
    return None


def render_history(series: Sequence[Series], runs: Sequence[dict], baseline: str | None, source: str,
                   recipes: Mapping[str, str] | None = None) -> str:
    """``recipes``: series key -> its model's recipe in words ("float32, prune=0.9"), for the series labels."""
    run_order = {r["run_id"]: i for i, r in enumerate(runs)}
    names = labels(series, recipes or {})
    shown = [s for s in series if s.scope in ("task", "probe") or (s.scope == "energy" and s.metric == "j_per_example")]
    single = {s.key: _single(s, names[s.key]) for s in shown}
    quality = [trend_chart(s, run_order, names[s.key]) for s in shown if s.scope != "energy" and single[s.key] is None]
    energy = [trend_chart(s, run_order, names[s.key]) for s in shown if s.scope == "energy" and single[s.key] is None]
    singles = [p for p in single.values() if p is not None]
    changed = [(names.get(s.key, s.label), s, p) for s in series for p in s.changed]
    events = [(names.get(s.key, s.label), p.run_id, e) for s in series for p, e in s.events]
    failed = [(names.get(s.key, s.label), p.run_id, point_text(p)) for s in series for p in s.points if p.failed]
    return _ENV.get_template("history.html.j2").render(runs=runs, quality=quality, energy=energy, singles=singles,
                                                       changed=changed, events=events, failed=failed,
                                                       baseline=baseline, source=source,
                                                       n_series=len(series))
