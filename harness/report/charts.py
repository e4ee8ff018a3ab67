"""Static charts for report.html as coordinates (drawn by the template as inline SVG, no script):
quality against energy per example with its Pareto front, horizontal energy bars, and interval
("forest") plots of effects with their 95% CIs. Pure functions: values in, geometry out."""
from __future__ import annotations

from dataclasses import dataclass, field

from harness.report.numbers import nice_ticks, sig, tick_label

PALETTE = ["#0969da", "#bf3989", "#1a7f37", "#9a6700", "#8250df", "#cf222e", "#57606a", "#0550ae"]


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


@dataclass(frozen=True)
class Axis:
    ticks: tuple[tuple[float, str], ...]   # (pixel, label)
    title: str


def _scale(lo: float, hi: float, p0: float, p1: float):
    span = (hi - lo) or 1.0
    return lambda v: p0 + (v - lo) / span * (p1 - p0)


# quality against J per example ------------------------------------------------------------------

@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str
    color: str
    on_front: bool
    title: str                      # the tooltip: model, values
    y_lo: float | None = None       # CI whisker ends (pixels)
    y_hi: float | None = None


@dataclass
class Scatter:
    title: str
    points: list[Point]
    front: str                      # polyline points of the Pareto front
    x_axis: Axis
    y_axis: Axis
    higher_is_better: bool = True   # the y metric's direction: its axis reads "↑ better" or "↓ better"
    width: int = 300
    height: int = 190
    left: int = 44
    bottom: int = 34
    top: int = 10
    right: int = 10


def pareto(items: list[tuple[float, float]], higher_is_better: bool = True) -> list[int]:
    """Indices of the items no other item beats on both cost (x, lower is better) and quality (y)."""
    sign = 1 if higher_is_better else -1
    front = []
    for i, (cost, quality) in enumerate(items):
        dominated = any((c <= cost and sign * q >= sign * quality) and (c < cost or sign * q > sign * quality)
                        for j, (c, q) in enumerate(items) if j != i)
        if not dominated:
            front.append(i)
    return front


def scatter(title: str, rows: list[dict], x_title: str, y_title: str, higher_is_better: bool = True) -> Scatter:
    """rows: {label, x, y, ci: [lo, hi] | None, color}; x and y finite numbers."""
    chart = Scatter(title, [], "", Axis((), x_title), Axis((), y_title), higher_is_better)
    xs = [r["x"] for r in rows]
    ys = [r["y"] for r in rows] + [v for r in rows for v in (r.get("ci") or []) if v is not None]
    x_ticks = nice_ticks(0.0, max(xs) if max(xs) > 0 else 1.0, 4)
    y_ticks = nice_ticks(min(ys), max(ys), 4)
    px = _scale(x_ticks[0], x_ticks[-1], chart.left, chart.width - chart.right)
    py = _scale(y_ticks[0], y_ticks[-1], chart.height - chart.bottom, chart.top)
    front = set(pareto([(r["x"], r["y"]) for r in rows], higher_is_better))
    for i, r in enumerate(rows):
        lo, hi = (r.get("ci") or [None, None])[:2]
        chart.points.append(Point(px(r["x"]), py(r["y"]), r["label"], r["color"], i in front,
                                  f"{r['label']}: {y_title} {sig(r['y'])}, {sig(r['x'])} {x_title}" + (" (Pareto front)" if i in front else ""),
                                  py(lo) if lo is not None else None, py(hi) if hi is not None else None))
    on = sorted((p for p in chart.points if p.on_front), key=lambda p: p.x)
    chart.front = " ".join(f"{p.x:.1f},{p.y:.1f}" for p in on)
    chart.x_axis = Axis(tuple((px(v), tick_label(v, x_ticks)) for v in x_ticks), x_title)
    chart.y_axis = Axis(tuple((py(v), tick_label(v, y_ticks)) for v in y_ticks), y_title)
    return chart


# horizontal bars ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Bar:
    y: float
    width: float
    label: str
    value: str
    kind: str          # task | probe | load
    lo: float | None = None         # an interval over repeats: whisker ends (pixels)
    hi: float | None = None


@dataclass
class Bars:
    title: str
    bars: list[Bar]
    x_axis: Axis
    width: int = 420
    left: int = 150
    row: int = 16
    top: int = 4
    bottom: int = 26
    right: int = 56

    @property
    def height(self) -> int:
        return self.top + self.row * len(self.bars) + self.bottom


def bars(title: str, rows: list[tuple], unit: str, scale_max: float | None = None) -> Bars:
    """rows: (label, value >= 0, kind[, (lo, hi) | None]). ``scale_max``: the axis end shared with other
    charts (so that bars of different models compare by length); default: this chart's largest value."""
    chart = Bars(title, [], Axis((), unit))
    top = scale_max if scale_max else max((r[1] for r in rows), default=1.0)
    ticks = nice_ticks(0.0, top or 1.0, 4)
    px = _scale(0.0, ticks[-1], chart.left, chart.width - chart.right)
    for i, (label, value, kind, *rest) in enumerate(rows):
        whisker = rest[0] if rest and rest[0] else (None, None)
        short = label if len(label) <= 24 else label[:23] + "…"
        text = f"{sig(value)} {unit}" + (f" [{sig(whisker[0])}, {sig(whisker[1])}]" if whisker[0] is not None else "")
        chart.bars.append(Bar(chart.top + i * chart.row, px(value) - chart.left, short, text, kind,
                              px(whisker[0]) if whisker[0] is not None else None,
                              px(whisker[1]) if whisker[1] is not None else None))
    chart.x_axis = Axis(tuple((px(v), tick_label(v, ticks)) for v in ticks), unit)
    return chart


# intervals (forest plot) -------------------------------------------------------------------------

@dataclass(frozen=True)
class Interval:
    y: float
    x: float
    lo: float | None
    hi: float | None
    label: str
    title: str
    significant: bool = False


@dataclass
class Forest:
    title: str
    rows: list[Interval]
    x_axis: Axis
    zero: float | None             # pixel of the reference value, when in range
    width: int = 520
    left: int = 230
    row: int = 16
    top: int = 4
    bottom: int = 26
    right: int = 14
    notes: list[str] = field(default_factory=list)

    @property
    def height(self) -> int:
        return self.top + self.row * len(self.rows) + self.bottom


def forest(title: str, rows: list[dict], x_title: str, reference: float | None = 0.0) -> Forest | None:
    """rows: {label, value, ci: [lo, hi], significant?}; rows without a value are left out (and
    named in notes)."""
    kept = [r for r in rows if isinstance(r.get("value"), (int, float))]
    chart = Forest(title, [], Axis((), x_title), None)
    chart.notes = [r["label"] for r in rows if r not in kept]
    if not kept:
        return None
    values = [v for r in kept for v in (r["value"], *(r.get("ci") or [])) if isinstance(v, (int, float))]
    if reference is not None:
        values.append(reference)
    ticks = nice_ticks(min(values), max(values), 5)
    px = _scale(ticks[0], ticks[-1], chart.left, chart.width - chart.right)
    for i, r in enumerate(kept):
        lo, hi = (r.get("ci") or [None, None])[:2]
        ci_text = f" [{sig(lo)}, {sig(hi)}]" if lo is not None and hi is not None else ""
        short = r["label"] if len(r["label"]) <= 38 else r["label"][:37] + "…"
        chart.rows.append(Interval(chart.top + i * chart.row + chart.row / 2, px(r["value"]),
                                   px(lo) if isinstance(lo, (int, float)) else None,
                                   px(hi) if isinstance(hi, (int, float)) else None,
                                   short, r.get("title") or f"{r['label']}: {sig(r['value'])}{ci_text}",
                                   bool(r.get("significant"))))
    chart.zero = px(reference) if reference is not None else None
    chart.x_axis = Axis(tuple((px(v), tick_label(v, ticks)) for v in ticks), x_title)
    return chart
