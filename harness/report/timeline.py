"""Telemetry timelines for report.html as plain data (coordinates), drawn by the template as SVG.

Every window the run opened (each task and each probe, per model) is a band; throttled periods are
shaded; window labels are laid out in lanes so none overlaps another (what does not fit is
numbered and named in the legend under the chart). Computing coordinates here and letting the
autoescaping template write the markup means no string is ever marked safe. The rows come from
harness.meters.session.read_telemetry, beside the writer of telemetry.csv."""
from __future__ import annotations

from dataclasses import dataclass, field

from harness.report.numbers import nice_ticks, sig, tick_label

WIDTH, HEIGHT, PAD_LEFT, PAD_RIGHT, PAD_BOTTOM = 900, 150, 56, 12, 22
CHAR_W = 5.6          # px per character of the 10 px label font (a safe over-estimate)
LANE_H, MAX_LANES = 13, 3


@dataclass(frozen=True)
class Band:
    x0: float
    x1: float
    label: str
    kind: str = "task"        # task | probe | throttle
    number: int = 0
    model: str = ""
    duration_s: float | None = None


@dataclass(frozen=True)
class Label:
    x: float
    lane: int
    text: str
    number: int


@dataclass
class Chart:
    title: str
    unit: str
    points: str
    y_ticks: list[tuple[float, str]]
    x_ticks: list[tuple[float, str]]
    tasks: list[Band] = field(default_factory=list)
    throttled: list[Band] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    models: list[Band] = field(default_factory=list)     # one span per model, drawn above the labels
    width: int = WIDTH
    height: int = HEIGHT
    top: int = 6
    pad_left: int = PAD_LEFT
    pad_bottom: int = PAD_BOTTOM

    @property
    def plot_bottom(self) -> float:
        return self.height - self.pad_bottom

    @property
    def plot_right(self) -> float:
        return self.width - PAD_RIGHT


@dataclass
class Timeline:
    charts: list[Chart]
    windows: list[Band]          # the legend: every band, numbered


def _num(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def _candidates(band: Band, char_w: float) -> list[str]:
    """The full label, the window's name alone, then shorter cuts ending in "…" that fit the band, then the bare number."""
    full = f"{band.number} {band.label}"
    name = f"{band.number} {band.label.split(' · ', 1)[-1].removeprefix('probe ')}"
    room = int((band.x1 - band.x0 + OVERHANG) / char_w)
    out = [text for text in dict.fromkeys((full, name)) if len(text) <= room]
    if room >= len(str(band.number)) + 1 + MIN_CUT and not out:
        out.append(name[:room - 1] + "…")
    return out + [str(band.number)]


OVERHANG = 40         # px a label may run past the end of its band
MIN_CUT = 8          # characters of a name a cut label keeps (fewer: the number alone)
GAP = 8              # px between two labels in one lane


def layout_labels(bands: list[Band], char_w: float = CHAR_W, lanes: int = MAX_LANES, right: float = WIDTH) -> list[Label]:
    """One label per band, in the first of ``lanes`` lanes where it starts inside its band and
    does not overlap the previous label: the full name if it fits the band (plus a small overhang),
    else a cut ending in "…", else the band's number. A band with no free lane at all gets no label
    (its number and name are in the legend); no two labels ever overlap."""
    ends = [float("-inf")] * lanes
    out = []
    for band in sorted(bands, key=lambda b: b.x0):
        for text in _candidates(band, char_w):
            width = len(text) * char_w
            lane = next((k for k in range(lanes)
                         if max(band.x0 + 1, ends[k] + GAP) <= band.x0 + max(band.x1 - band.x0, 14)
                         and max(band.x0 + 1, ends[k] + GAP) + width <= right), None)
            if lane is not None:
                x = max(band.x0 + 1, ends[lane] + GAP)
                out.append(Label(x, lane, text, band.number))
                ends[lane] = x + width
                break
    return out


def build_timeline(rows: list[dict]) -> Timeline:
    times = [t for t in (_num(r["unix_time"]) for r in rows) if t is not None]
    if not times:
        return Timeline([], [])
    t0, t1 = min(times), max(times)
    span = max(t1 - t0, 1e-6)
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    x = lambda t: PAD_LEFT + (t - t0) / span * plot_w  # noqa: E731
    windows = _window_bands(rows, x, t0)
    ticks = [t for t in nice_ticks(0, span, 7) if t <= span + 1e-9]
    x_ticks = [(x(t0 + t), tick_label(t, ticks) + " s") for t in ticks]
    labels = layout_labels(windows, right=WIDTH - PAD_RIGHT)
    models = _model_spans(windows)
    lanes = max((lab.lane for lab in labels), default=-1) + 1 + (1 if len(models) > 1 else 0)
    if len(models) > 1:
        labels = [Label(lab.x, lab.lane + 1, lab.text, lab.number) for lab in labels]
    specs = []        # (title, unit, series, throttled)
    gpus = sorted({r["gpu"] for r in rows if r["event"] == "sample" and r["gpu"] not in ("", None)})
    for gpu in gpus:
        mine = [r for r in rows if r["event"] == "sample" and r["gpu"] == gpu]
        throttled = _throttle_bands(mine, x)
        for column, title, unit in (("power_w", "power", "W"), ("sm_clock_mhz", "SM clock", "MHz"), ("temp_c", "temperature", "°C")):
            specs.append((f"GPU {gpu} {title}", unit, [(_num(r["unix_time"]), _num(r[column])) for r in mine], throttled))
    cpu = [r for r in rows if r["event"] == "sample" and _num(r.get("cpu_power_w")) is not None]
    if cpu:
        source = cpu[0].get("cpu_power_source") or "?"
        specs.append((f"CPU power, whole machine ({source})", "W",
                      [(_num(r["unix_time"]), _num(r["cpu_power_w"])) for r in cpu], []))
    charts = []
    for title, unit, series, throttled in specs:
        label_room = lanes * LANE_H if not charts else 0        # the labels go above the first chart only
        chart = _chart(title, unit, series, x, x_ticks, top=6 + label_room)
        if chart:
            chart.tasks, chart.throttled = windows, throttled
            chart.labels = labels if label_room else []
            chart.models = models if label_room and len(models) > 1 else []
            charts.append(chart)
    return Timeline(charts, windows)


def build_charts(rows: list[dict]) -> list[Chart]:
    return build_timeline(rows).charts


def _chart(title: str, unit: str, series: list[tuple[float | None, float | None]], x, x_ticks, top: int = 6) -> Chart | None:
    series = [(t, v) for t, v in series if t is not None and v is not None]
    if not series:
        return None
    lo, hi = min(v for _, v in series), max(v for _, v in series)
    ticks = nice_ticks(min(0.0, lo), hi if hi > 0 else 1.0, 4)
    lo, hi = ticks[0], ticks[-1]
    height = HEIGHT + top - 6
    plot_h = height - PAD_BOTTOM - top
    y = lambda v: top + plot_h - (v - lo) / (hi - lo) * plot_h  # noqa: E731
    points = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in sorted(series))
    y_ticks = [(y(v), tick_label(v, ticks)) for v in ticks]
    return Chart(title=title, unit=unit, points=points, y_ticks=y_ticks, x_ticks=x_ticks, height=height, top=top)


def _window_bands(rows: list[dict], x, t0: float) -> list[Band]:
    begins: dict[str, float] = {}
    bands = []
    for r in rows:
        window = r.get("window") or ""
        last = window.rsplit("/", 1)[-1]
        if not last.startswith(("task:", "probe:")) or r["event"] not in ("begin", "end"):
            continue
        t = _num(r["unix_time"])
        if t is None:
            continue
        if r["event"] == "begin":
            begins[window] = t
        elif window in begins:
            parts = window.split("/")
            model = next((p.removeprefix("model:") for p in parts if p.startswith("model:")), "")
            kind, name = last.split(":", 1)
            start = begins.pop(window)
            label = f"{model} · {name if kind == 'task' else 'probe ' + name}" if model else name
            bands.append(Band(x(start), x(t), label, kind, 0, model, t - start))
    bands.sort(key=lambda b: b.x0)
    return [Band(b.x0, b.x1, b.label, b.kind, i + 1, b.model, b.duration_s) for i, b in enumerate(bands)]


def _model_spans(windows: list[Band]) -> list[Band]:
    spans: dict[str, list[float]] = {}
    for b in windows:
        if b.model:
            span = spans.setdefault(b.model, [b.x0, b.x1])
            span[0], span[1] = min(span[0], b.x0), max(span[1], b.x1)
    return [Band(x0, x1, model, "model", 0, model) for model, (x0, x1) in spans.items()]


def _throttle_bands(samples: list[dict], x) -> list[Band]:
    bands, start, label = [], None, ""
    for r, nxt in zip(samples, samples[1:] + [None]):
        reasons = [n for n in (r.get("clock_event_reasons") or "").split("|") if n and n != "gpu_idle"]
        t = _num(r["unix_time"])
        if reasons and start is None:
            start, label = t, ", ".join(reasons)
        if start is not None and (not reasons or nxt is None):
            bands.append(Band(x(start), x(t), label, "throttle"))
            start = None
    return bands


def duration_text(band: Band) -> str:
    return "—" if band.duration_s is None else sig(band.duration_s) + " s"
