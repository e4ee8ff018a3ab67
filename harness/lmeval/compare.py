"""Paired statistics of two models on an lm-eval task (pure: typed results entries and records in).

Each metric is recomputed from both models' paired records with the aggregation the run recorded
(``metrics.<m>.aggregation``). An aggregation over sums (mean, perplexity, weighted_perplexity,
bits_per_byte; BLEU, chrF, TER from sacrebleu's sentence statistics) goes through the harness's
paired statistics as any of our metrics: McNemar for a mean of 0/1 values (acc, exact_match), the
paired bootstrap with approximate randomization beside it otherwise. Any other registered
aggregation (F1, MCC, ...) is recomputed on the same resampled items for both models, as
sacrebleu's paired bootstrap does, with the comparison's own draw
(``harness.metrics.bootstrap``'s ``INDICES``, sacrebleu's indices). A task's own
aggregation function (``!function``) is not known outside the run's task files: not measured, with
the reason. A group is compared through its subtasks.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

from harness.lmeval import GROUP_KIND
from harness.lmeval.aggregate import ADDITIVE, _safe, additive_stats, items_of
from harness.metrics.bootstrap import INDICES, resample_counts
from harness.results.types import TaskResult


def _aggregation(name: str) -> Callable | None:
    if name.startswith("custom:"):
        return None
    from lm_eval.api.registry import get_aggregation
    try:
        return get_aggregation(name)
    except Exception:
        return None


def _binary(values: Sequence) -> bool:
    return all(isinstance(v, (int, float)) and v in (0, 1) for v in values)


def paired_items(base: list, other: list, fn: Callable, st, not_measured: Callable, *, higher_is_better: bool,
                 seed: int, resamples: int) -> dict:
    """The paired bootstrap of ``fn(other) - fn(baseline)`` over the same resampled items (``st``:
    harness.compare.stats, and ``not_measured``, handed in by harness.compare.build, which calls this)."""
    n = len(base)
    b, o = _safe(lambda: fn(base)), _safe(lambda: fn(other))
    if math.isnan(b) or math.isnan(o):
        return not_measured("the metric is undefined on the paired items", higher_is_better, n)
    out = {"baseline": b, "other": o, "n": n, "p_holm": None, "significant": False, "too_few_items": n < st.MIN_ITEMS,
           "higher_is_better": higher_is_better, "resamples": resamples, "seed": seed, "test": "paired_bootstrap",
           "discordant": None}
    if base == other:
        return {**out, "delta": 0.0, "ci95": [0.0, 0.0], "p_value": 1.0}
    index = np.arange(n)
    drawn = (np.repeat(index, row) for row in resample_counts(n, resamples, seed, draw=INDICES).astype(int))
    diffs = np.array([_safe(lambda idx=idx: fn([other[i] for i in idx])) - _safe(lambda idx=idx: fn([base[i] for i in idx]))
                      for idx in drawn])
    diffs = diffs[np.isfinite(diffs)]
    if len(diffs) == 0:
        return {**out, "delta": o - b, "ci95": [None, None], "p_value": None}
    low, high = np.percentile(diffs, [2.5, 97.5])
    absolute = np.abs(diffs)
    return {**out, "delta": o - b, "ci95": [float(low), float(high)],
            "p_value": st._exceed_p(absolute - absolute.mean(), abs(o - b))}


def task_stats(entry: TaskResult, names: Sequence[str], base: list[dict], other: list[dict], seed: int, resamples: int,
               ar_trials: int, *, paired_stat: Callable, not_measured: Callable, st) -> dict:
    """STAT per metric of an lm-eval task (``base``/``other``: the paired valid records). The
    comparison's own STAT builders come from harness.compare.build, which calls this."""
    out = {}
    for name in names:
        info = entry.metrics.get(name)
        higher = True if info is None or info.higher_is_better is None else info.higher_is_better
        aggregation = str((info.extra("aggregation") if info is not None else None) or "mean")
        if entry.kind == GROUP_KIND:
            out[name] = not_measured("an lm-eval group: its subtasks are compared item by item", higher)
            continue
        if not base:
            out[name] = not_measured("no item was scored under both models", higher)
            continue
        try:
            items_b, items_o = items_of(base, name), items_of(other, name)
        except KeyError:
            out[name] = not_measured(f"some paired records hold no value of {name}", higher)
            continue
        stats_b, stats_o = additive_stats(aggregation, items_b), additive_stats(aggregation, items_o)
        if stats_b is not None and stats_o is not None and stats_b.shape == stats_o.shape:
            out[name] = paired_stat(stats_b, stats_o, ADDITIVE[aggregation][1], higher_is_better=higher, seed=seed,
                                    resamples=resamples, ar_trials=ar_trials,
                                    binary=aggregation == "mean" and _binary(items_b) and _binary(items_o))
            continue
        fn = _aggregation(aggregation)
        if fn is None:
            out[name] = not_measured(f"aggregation {aggregation!r} is the task's own code, not known outside its run",
                                     higher)
            continue
        out[name] = paired_items(items_b, items_o, fn, st, not_measured, higher_is_better=higher, seed=seed,
                                 resamples=resamples)
    return out


def binary_metric(entry: TaskResult, records: Sequence[dict]) -> str | None:
    """The first metric of an lm-eval task that is a mean of 0/1 values on ``records`` (for the
    comparison's flipped items)."""
    for name, info in entry.metrics.items():
        if info.extra("aggregation") == "mean" and records and all(name in r.get("scores", {}) for r in records) \
                and _binary([r["scores"][name] for r in records]):
            return name
    return None
