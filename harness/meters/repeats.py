"""Figures over repeats of the same work (pure functions; harness.protocol runs the repeats).

Each measured repeat's figures come from its own windows (``repeat`` 1..N in windows.jsonl; the
warm-up pass is ``repeat`` 0 and a run without --repeats has none). Per figure of INTERVAL_FIGURES,
the energy object then holds the mean over the repeats, with ``repeats``, ``per_repeat``, ``ci95``
(the 95% t-interval of the mean: mean +- t(0.975, N-1) s / sqrt(N)) and ``cv`` (s / mean); totals
(J, seconds, gCO2e) stay what the whole run spent. ``measurement`` says how: repeats, warm-up,
windows lengthened to --min-measure-s, whether the repeats reproduced the stored outputs.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Callable, Sequence

from harness.meters.figures import is_measured, weakest

# the figures that are a rate of one pass of the work, so a mean over repeats means something
INTERVAL_FIGURES = ("j_per_example", "j_per_generated_token", "examples_per_j", "s_per_example",
                    "gco2e_per_1000_examples", "total_power_mean_w", "gpu_power_mean_w", "cpu_power_mean_w")
WARM_UP = ("the first pass, which stored and scored every output (quality is computed from it once); its energy "
           "counts in the totals and in no mean")


@dataclass(frozen=True)
class RepeatStats:
    n: int
    mean: float
    stdev: float | None           # sample standard deviation (N - 1); None for one repeat
    ci95: tuple[float, float] | None
    cv: float | None              # stdev / |mean|


def repeat_stats(values: Sequence[float]) -> RepeatStats:
    """Mean, sample standard deviation, 95% t-interval of the mean and coefficient of variation."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError("no repeats")
    mean = statistics.fmean(values)
    if len(values) < 2:
        return RepeatStats(1, mean, None, None, None)
    from scipy.stats import t
    stdev = statistics.stdev(values)
    half = float(t.ppf(0.975, len(values) - 1)) * stdev / math.sqrt(len(values))
    return RepeatStats(len(values), mean, stdev, (mean - half, mean + half), stdev / abs(mean) if mean else None)


def by_repeat(windows: Sequence[dict]) -> dict[int, list[dict]]:
    """The measured repeats' completed windows (``repeat`` >= 1) by repeat. A repeat that lacks a
    piece another repeat has (stopped part-way and not resumed) is left out, so every repeat
    measures the same work."""
    out: dict[int, list[dict]] = {}
    for w in windows:
        k = w.get("repeat")
        if isinstance(k, int) and not isinstance(k, bool) and k >= 1 and w.get("completed", True):
            out.setdefault(k, []).append(w)
    pieces = {k: {(w["kind"], w.get("model"), w.get("name"), w.get("rank")) for w in ws} for k, ws in out.items()}
    every = set().union(*pieces.values()) if pieces else set()
    return {k: out[k] for k in sorted(out) if pieces[k] == every}


def with_repeats(obj: dict, windows: Sequence[dict], one_pass: Callable[[list[dict]], dict],
                 min_measure_s: float | None = None) -> dict:
    """``obj`` (an energy object over every window of a piece, model or run) with each figure of
    INTERVAL_FIGURES replaced by its mean over the measured repeats among ``windows``, and the
    ``measurement`` block. ``one_pass(windows)`` is the energy object of one repeat's windows."""
    repeats = by_repeat(windows)
    lengthened = [w for w in windows if w.get("passes", 1) > 1]
    if not repeats and not lengthened:
        return obj
    out = dict(obj)
    if len(repeats) >= 2:
        per = [one_pass(ws) for ws in repeats.values()]
        for name in INTERVAL_FIGURES:
            figures = [p.get(name) for p in per]
            if name not in out or not all(is_measured(f) for f in figures):
                continue
            stats = repeat_stats([f["value"] for f in figures])
            out[name] = {**{k: v for k, v in out[name].items() if k not in ("value", "source", "reason")},
                         "value": stats.mean, "source": _weakest(f["source"] for f in figures),
                         "repeats": stats.n, "per_repeat": [f["value"] for f in figures],
                         "ci95": [max(stats.ci95[0], 0.0), stats.ci95[1]], "cv": stats.cv}   # a rate is never < 0
    out["measurement"] = measurement(windows, len(repeats), lengthened, min_measure_s)
    return out


def _weakest(sources) -> str:
    sources = set(sources)
    return sources.pop() if len(sources) == 1 else weakest(sources)     # "clock" is no meter's source


def measurement(windows: Sequence[dict], repeats: int, lengthened: list[dict], min_measure_s: float | None) -> dict:
    """How an energy object was measured, as results.json's ``measurement``."""
    out: dict = {"repeats": max(repeats, 1)}
    notes = []
    if repeats >= 2:
        differing = sum(w.get("outputs_differing", 0) for ws in by_repeat(windows).values() for w in ws)
        out.update(warm_up=WARM_UP, outputs_identical=differing == 0, outputs_differing=differing)
        notes.append(f"mean of {repeats} repeats after a warm-up pass, with the 95% interval across repeats")
        if differing:
            notes.append(f"{differing} outputs of the repeats differed from the stored ones: decoding was not "
                         "deterministic here, and quality describes the stored pass only")
    if lengthened:
        passes = max(w["passes"] for w in lengthened)
        out.update(lengthened_windows=len(lengthened), max_passes=passes)
        if min_measure_s:
            out["min_measure_s"] = min_measure_s
        notes.append(f"{len(lengthened)} window(s) shorter than --min-measure-s repeated their work (up to {passes} "
                     "passes); every pass counts its examples")
        short = sum(1 for w in lengthened if w.get("short_of_min"))
        if short:
            out["short_windows"] = short
            notes.append(f"{short} of them stopped at the cap on passes before lasting --min-measure-s")
    out["note"] = "; ".join(notes) if notes else "one measured pass"
    return out
