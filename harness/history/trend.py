"""Each figure's trend across runs, as plain data: pure functions over the index's rows.

A *series* is one figure of one model name (``MODEL task:NAME METRIC``): the name is what a periodic
audit follows. A point whose model recipe or weights differ from the point before is an *event* on
the series ("recipe changed: tiny-gpt2 → tiny-gpt2,prune=0.9"), not the start of another series, and
a point whose task data or configuration differ says that comparability may break (``Point.events``).

A point is *changed* when its 95% CI and the baseline point's 95% CI do not overlap (both must
have one; energy figures carry none and are never flagged). The baseline of a series is the
point of the baseline run when the series has one, else the series' first measured point. A point
is *failed* when what it measures scored nothing (harness.history.entry).

`harness history --fail-on` judges each series that its model's newest run has a point in
(``current``) by that run's point (``findings``), never by an older one: a failed point, or a point
the newest run did not measure where the baseline had a value, fails under either mode; ``changed``
fails on any change, ``worse`` only on a change in the direction the metric's results.json records
as worse (``Series.higher_is_better``; a series without a recorded direction is left to
``changed``). Each finding says what changed since the baseline (recipe, inputs)."""
from __future__ import annotations

import json
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
    recipe: str = ""             # the recipe hash of the model in this run
    recipe_text: str = ""        # the model as asked in this run ("tiny-gpt2,prune=0.9 (float32)")
    inputs: str = ""             # the hash of the task's or probe's inputs in this run
    inputs_json: str = ""        # their fingerprints ({data, prompt, config}) as run.json recorded them
    failed: bool = False         # what this figure measures scored nothing in this run
    events: tuple[str, ...] = ()  # what changed since the series' previous point (recipe, weights, inputs)

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

    @property
    def events(self) -> list[tuple[Point, str]]:
        """Every (point, event) of the series, oldest first: recipe, weights or inputs changed."""
        return [(p, e) for p in self.points for e in p.events]


def ci_overlaps(a: Point, b: Point) -> bool:
    return not (a.ci_lo > b.ci_hi or a.ci_hi < b.ci_lo)


def _flag(points: list[Point], baseline_run: str | None, judged: bool = True) -> tuple[tuple[Point, ...], str | None]:
    """``judged`` False (energy, whose interval over repeats is drawn but not judged here): nothing is flagged."""
    measured = [p for p in points if p.value is not None]
    base = next((p for p in measured if p.run_id == baseline_run), measured[0] if measured else None)
    out = []
    for p in points:
        change = ""
        if judged and base is not None and p is not base and p.has_ci and base.has_ci and not ci_overlaps(p, base):
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


def _input_parts(a: str, b: str) -> str:
    """Which fingerprint parts differ between two points' inputs ("data, config"), or "" if unknown."""
    try:
        old, new = json.loads(a or "null"), json.loads(b or "null")
    except ValueError:
        return ""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return ""
    return ", ".join(k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k))


def differences(before: Point, after: Point, model: str) -> list[str]:
    """What changed from ``before`` to ``after`` on one series: the recipe or weights, the inputs."""
    out = []
    if model == "run":                         # the run's own figures: its hashes cover every model and input
        return ["the run's models or inputs changed"] if (before.recipe, before.inputs) != (after.recipe, after.inputs) \
            else []
    if before.recipe != after.recipe:
        if before.recipe_text and after.recipe_text and before.recipe_text != after.recipe_text:
            out.append(f"recipe changed: {before.recipe_text} → {after.recipe_text}")
        else:
            out.append(f"recipe or weights changed ({before.recipe[:8]} → {after.recipe[:8]})")
    if before.inputs != after.inputs:
        parts = _input_parts(before.inputs_json, after.inputs_json)
        out.append(f"inputs changed ({parts or 'task data or configuration'}): comparability may break")
    return out


def _with_events(points: list[Point], model: str) -> list[Point]:
    return [p if i == 0 else replace(p, events=tuple(differences(points[i - 1], p, model)))
            for i, p in enumerate(points)]


def series_of(row: dict) -> tuple[str, str, str, str]:
    """The series a figure belongs to: its model's name, scope, task or probe, and metric."""
    return row["model"], row["scope"], row["subject"], row["metric"]


def build_series(rows: Sequence[dict], baseline_run: str | None = None, models: Sequence[str] = (),
                 metrics: Sequence[str] = ()) -> list[Series]:
    """rows: HistoryIndex.figures() (oldest run first). ``models``/``metrics`` keep only those
    (unknown names are refused with close matches)."""
    _choose(models, (r["model"] for r in rows), "model")
    _choose(metrics, (r["metric"] for r in rows), "metric")
    grouped: dict[tuple[str, str, str, str], list[dict]] = {}
    for r in rows:
        if (models and r["model"] not in models) or (metrics and r["metric"] not in metrics):
            continue
        grouped.setdefault(series_of(r), []).append(r)
    out = []
    for (model, scope, subject, metric), mine in grouped.items():
        points = [Point(r["run_id"], r["started"], r["git_sha"] or "", r["value"], r["ci_lo"], r["ci_hi"], r["n"],
                        r["reason"] or "", r["source"] or "", r["unit"] or "", recipe=r.get("recipe_hash") or "",
                        recipe_text=r.get("recipe_text") or "", inputs=r.get("subject_hash") or "",
                        inputs_json=r.get("inputs_json") or "", failed=bool(r.get("failed"))) for r in mine]
        flagged, base = _flag(_with_events(points, model), baseline_run, judged=scope != "energy")
        out.append(Series(f"{model}/{scope}:{subject}/{metric}", f"{model} {scope}:{subject} {metric}", model, scope,
                          subject, metric, flagged, base, direction(mine)))
    order = {"task": 0, "probe": 1, "energy": 2}
    return sorted(out, key=lambda s: (order.get(s.scope, 3), s.model, s.subject, s.metric, s.points[0].started, s.key))


def fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def point_text(p: Point) -> str:
    if p.failed:
        return f"FAILED (scored nothing: {p.reason.removeprefix('not measured: ') or 'no item scored'})"
    if p.value is None:
        return f"not measured: {p.reason.removeprefix('not measured: ') or 'no reason recorded'}"
    ci = f" [{fmt(p.ci_lo)}, {fmt(p.ci_hi)}]" if p.has_ci else ""
    mark = {"up": " ▲", "down": " ▼"}.get(p.changed, "")
    return f"{fmt(p.value)}{ci}{mark}"


def series_line(s: Series) -> str:
    """One line per series: its label and the values over time with CIs, oldest first, each event
    marked where it happened (⟂ before the point), then what changed in which run."""
    n = len(s.points)
    base = f"; baseline {s.baseline_run}" if s.baseline_run else ""
    flags = f"; {len(s.changed)} outside the baseline CI" if s.changed else ""
    failed = sum(p.failed for p in s.points)
    flags += f"; {failed} failed" if failed else ""
    events = "".join(f"; {p.run_id}: {e}" for p, e in s.events)
    values = " → ".join(("⟂ " if p.events else "") + point_text(p) for p in s.points)
    return f"{s.label}: {values}  ({n} run{'s' * (n != 1)}{base}{flags}{events})"


FAIL_ON = ("never", "changed", "worse")


def fail_on_mode(text: str) -> str:
    if text not in FAIL_ON:
        raise HarnessError(f"--fail-on {text!r} is not one of {', '.join(FAIL_ON)}",
                           did_you_mean(text, FAIL_ON, "pass --fail-on worse or --fail-on changed", n=2, shown=repr))
    return text


@dataclass(frozen=True)
class Drift:
    """A series whose newest point (its model's newest run's) failed, or lies outside the baseline
    point's CI."""
    series: Series
    newest: Point
    base: Point | None

    @property
    def worse(self) -> bool | None:
        """Whether it moved the way the series records as worse (a failed or unmeasured point always
        did); None: no direction recorded."""
        if self.newest.failed or self.newest.value is None:
            return True
        higher = self.series.higher_is_better
        return None if higher is None else (self.newest.changed == "down") == higher

    @property
    def since_baseline(self) -> list[str]:
        """What changed between the baseline point and the newest one (recipe, weights, inputs)."""
        return differences(self.base, self.newest, self.series.model) if self.base is not None else []


def newest_measured(s: Series) -> Point | None:
    return next((p for p in reversed(s.points) if p.value is not None), None)


def current(series: Iterable[Series], newest_run: dict[str, str]) -> tuple[list[Series], list[Series]]:
    """(the series that the newest run of their model has a point in, the stale ones).
    ``newest_run`` maps each model name to the newest run that evaluated it. A series that run has
    no point in (a task or metric it no longer evaluates) is history, not a finding, and must not
    fail every later scheduled job; a model's series are not made stale by a newer run of another
    model sharing the folder."""
    live, stale = [], []
    for s in series:
        run = newest_run.get(s.model)
        (live if run is not None and any(p.run_id == run for p in s.points) else stale).append(s)
    return live, stale


def findings(series: Iterable[Series], newest_run: dict[str, str]) -> list[Drift]:
    """The series (of the live ones, ``current``) whose newest-run point failed, was not measured
    where the baseline point was, or changed against the baseline."""
    out = []
    for s in series:
        newest = next((p for p in s.points if p.run_id == newest_run.get(s.model)), None)
        base = next((p for p in s.points if p.baseline), None)
        if newest is None:
            continue
        if newest.failed or (base is not None and (newest.changed or newest.value is None)):
            out.append(Drift(s, newest, base))
    return out


def drifts(series: Iterable[Series]) -> list[Drift]:
    """The series whose newest measured point lies outside the baseline's CI (any run)."""
    out = []
    for s in series:
        newest = newest_measured(s)
        base = next((p for p in s.points if p.baseline), None)
        if newest is not None and base is not None and newest.changed:
            out.append(Drift(s, newest, base))
    return out


def failing(found: Sequence[Drift], mode: str) -> tuple[list[Drift], list[Drift]]:
    """(the drifts that fail under ``mode``, the changed ones ``worse`` cannot judge: no direction).
    A failed point fails under either mode."""
    if mode == "changed":
        return list(found), []
    if mode == "worse":
        return [d for d in found if d.worse], [d for d in found if d.worse is None]
    return [], []


def _at(p: Point | None) -> str:
    return "none (nothing measured)" if p is None else f"{point_text(p)} in {p.run_id}"


def _since(d: Drift) -> str:
    changes = d.since_baseline
    return f"; since the baseline: {'; '.join(changes)}" if changes else ""


def fail_line(d: Drift) -> str:
    if d.newest.value is None and not d.newest.failed:
        return (f"FAIL {d.series.label}: not measured in the newest run {d.newest.run_id} "
                f"({d.newest.reason.removeprefix('not measured: ')}) vs baseline {_at(d.base)}{_since(d)}")
    way = "" if d.series.higher_is_better is None or d.newest.failed else \
        f" ({'higher' if d.series.higher_is_better else 'lower'} is better)"
    return f"FAIL {d.series.label}: {_at(d.newest)} vs baseline {_at(d.base)}{way}{_since(d)}"


def undirected_line(d: Drift) -> str:
    return (f"NOT JUDGED {d.series.label}: {_at(d.newest)} vs baseline {_at(d.base)} changed, but its runs record no "
            f"direction for {d.series.metric}; --fail-on worse leaves it to --fail-on changed{_since(d)}")

