"""Each figure's trend across runs, as plain data: pure functions over the index's rows.

A point is *changed* when its 95% CI and the baseline point's 95% CI do not overlap (both must
have one; energy figures carry none and are never flagged). The baseline of a series is the
point of the baseline run when the series has one, else the series' first measured point.

`harness history --fail-on` judges each series that its model's newest run has a point in (``current``) by
its newest measured point (``drifts``,
``failing``): ``changed`` fails on any change, ``worse`` only on a change in the direction the
metric's results.json records as worse (``Series.higher_is_better``; a series without a recorded
direction is left to ``changed``)."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Sequence

from harness.errors import HarnessError
from harness.suggest import did_you_mean


@dataclass(frozen=True)
class Point:
    run_id: str
    started: str
    git_sha: str
    value: float | None
    ci_lo: float | None
    ci_hi: float | None
    n: int | None
    reason: str
    source: str
    unit: str
    changed: str = ""            # "", "up" or "down": the CI lies wholly above / below the baseline's
    baseline: bool = False

    @property
    def has_ci(self) -> bool:
        return self.value is not None and self.ci_lo is not None and self.ci_hi is not None


@dataclass(frozen=True)
class Series:
    key: str
    label: str
    model: str
    scope: str
    subject: str
    metric: str
    points: tuple[Point, ...]
    baseline_run: str | None      # the run the points are compared with (None: nothing measured)
    higher_is_better: bool | None = None    # as its runs recorded it; None: not recorded, or recorded both ways

    @property
    def changed(self) -> list[Point]:
        return [p for p in self.points if p.changed]


def ci_overlaps(a: Point, b: Point) -> bool:
    return not (a.ci_lo > b.ci_hi or a.ci_hi < b.ci_lo)


def _flag(points: list[Point], baseline_run: str | None) -> tuple[tuple[Point, ...], str | None]:
    measured = [p for p in points if p.value is not None]
    base = next((p for p in measured if p.run_id == baseline_run), measured[0] if measured else None)
    out = []
    for p in points:
        change = ""
        if base is not None and p is not base and p.has_ci and base.has_ci and not ci_overlaps(p, base):
            change = "up" if p.ci_lo > base.ci_hi else "down"
        out.append(replace(p, changed=change, baseline=p is base))
    return tuple(out), base.run_id if base else None


def _choose(given: Sequence[str], known: Iterable[str], what: str) -> None:
    known = sorted(set(known))
    for name in given:
        if name not in known:
            raise HarnessError(f"no {what} {name!r} in the history",
                               did_you_mean(name, known, f"known: {', '.join(known[:12])}", shown=repr))


def direction(rows: Sequence[dict]) -> bool | None:
    """The direction the rows of one series record (the index's higher_is_better: 1, 0 or NULL);
    None when none records one, or when they disagree."""
    recorded = {bool(r["higher_is_better"]) for r in rows if r.get("higher_is_better") is not None}
    return recorded.pop() if len(recorded) == 1 else None


def build_series(rows: Sequence[dict], baseline_run: str | None = None, models: Sequence[str] = (),
                 metrics: Sequence[str] = ()) -> list[Series]:
    """rows: HistoryIndex.figures() (oldest run first). ``models``/``metrics`` keep only those
    (unknown names are refused with close matches)."""
    _choose(models, (r["model"] for r in rows), "model")
    _choose(metrics, (r["metric"] for r in rows), "metric")
    grouped: dict[str, list[dict]] = {}
    for r in rows:
        if (models and r["model"] not in models) or (metrics and r["metric"] not in metrics):
            continue
        grouped.setdefault(r["series_key"], []).append(r)
    out = []
    for key, mine in grouped.items():
        first = mine[0]
        points = [Point(r["run_id"], r["started"], r["git_sha"] or "", r["value"], r["ci_lo"], r["ci_hi"], r["n"],
                        r["reason"] or "", r["source"] or "", r["unit"] or "") for r in mine]
        flagged, base = _flag(points, baseline_run)
        out.append(Series(key, first["label"], first["model"], first["scope"], first["subject"], first["metric"], flagged, base,
                          direction(mine)))
    order = {"task": 0, "probe": 1, "energy": 2}
    return sorted(out, key=lambda s: (order.get(s.scope, 3), s.model, s.subject, s.metric, s.points[0].started, s.key))


def fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def point_text(p: Point) -> str:
    if p.value is None:
        return f"n/m ({p.reason.removeprefix('not measured: ')})"
    ci = f" [{fmt(p.ci_lo)}, {fmt(p.ci_hi)}]" if p.has_ci else ""
    mark = {"up": " ▲", "down": " ▼"}.get(p.changed, "")
    return f"{fmt(p.value)}{ci}{mark}"


def series_line(s: Series) -> str:
    """One line per series: its key and the values over time with CIs, oldest first."""
    n = len(s.points)
    base = f"; baseline {s.baseline_run}" if s.baseline_run else ""
    flags = f"; {len(s.changed)} outside the baseline CI" if s.changed else ""
    return f"{s.label}: {' → '.join(point_text(p) for p in s.points)}  ({n} run{'s' * (n != 1)}{base}{flags})"


FAIL_ON = ("never", "changed", "worse")


def fail_on_mode(text: str) -> str:
    if text not in FAIL_ON:
        raise HarnessError(f"--fail-on {text!r} is not one of {', '.join(FAIL_ON)}",
                           did_you_mean(text, FAIL_ON, "pass --fail-on worse or --fail-on changed", n=2, shown=repr))
    return text


@dataclass(frozen=True)
class Drift:
    """A series whose newest measured point lies outside the baseline point's CI."""
    series: Series
    newest: Point
    base: Point

    @property
    def worse(self) -> bool | None:
        """Whether it moved the way the series records as worse; None: no direction recorded."""
        higher = self.series.higher_is_better
        return None if higher is None else (self.newest.changed == "down") == higher


def newest_measured(s: Series) -> Point | None:
    return next((p for p in reversed(s.points) if p.value is not None), None)


def current(series: Iterable[Series], newest_run: dict[str, str]) -> tuple[list[Series], list[Series]]:
    """(the series that the newest run of their model has a point in, the stale ones).
    ``newest_run`` maps each model name to the newest run that evaluated it. A series that run has
    no point in (its recipe or inputs changed, which starts a new series) is history, not a finding,
    and must not fail every later scheduled job; a model's series are not made stale by a newer
    run of another model sharing the folder."""
    live, stale = [], []
    for s in series:
        run = newest_run.get(s.model)
        (live if run is not None and any(p.run_id == run for p in s.points) else stale).append(s)
    return live, stale


def drifts(series: Iterable[Series]) -> list[Drift]:
    out = []
    for s in series:
        newest = newest_measured(s)
        base = next((p for p in s.points if p.baseline), None)
        if newest is not None and base is not None and newest.changed:
            out.append(Drift(s, newest, base))
    return out


def failing(found: Sequence[Drift], mode: str) -> tuple[list[Drift], list[Drift]]:
    """(the drifts that fail under ``mode``, the changed ones ``worse`` cannot judge: no direction)."""
    if mode == "changed":
        return list(found), []
    if mode == "worse":
        return [d for d in found if d.worse], [d for d in found if d.worse is None]
    return [], []


def _at(p: Point) -> str:
    return f"{point_text(p)} in {p.run_id}"


def fail_line(d: Drift) -> str:
    way = "" if d.series.higher_is_better is None else \
        f" ({'higher' if d.series.higher_is_better else 'lower'} is better)"
    return f"FAIL {d.series.label}: {_at(d.newest)} vs baseline {_at(d.base)}{way}"


def undirected_line(d: Drift) -> str:
    return (f"NOT JUDGED {d.series.label}: {_at(d.newest)} vs baseline {_at(d.base)} changed, but its runs record no "
            f"direction for {d.series.metric}; --fail-on worse leaves it to --fail-on changed")
