"""The bootstrap of the harness (pure): one resampler for single-run intervals and paired comparisons.

Every resample is a vector of counts (how often each example was drawn), and a metric's value on it
comes from its additive per-example statistics: ``value_from_totals(counts @ stats)``, so nothing is
re-tokenized or re-scored. Two draws make the counts, each pinned by tests to its reference:

* ``MULTINOMIAL`` (single-run 95% intervals, ``bootstrap``): one multinomial draw per resample;
* ``INDICES`` (``harness.compare.stats.paired_bootstrap``): item indices from
  ``default_rng(seed).choice(n, (resamples, n))``, exactly as sacrebleu's ``--paired-bs`` draws them
  (tested equal to sacrebleu), counted per item. Both models of a pair get the same counts.
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Callable

import numpy as np

from harness.finite import finite_or_none


@dataclass(frozen=True)
class MetricValue:
    """A value with its bootstrap standard error and interval; value None (with ``reason``) when it is not a
    finite number (an overflow), bounds None where a resample's value was not."""
    value: float | None
    stderr: float | None
    ci95: tuple[float | None, float | None]
    n: int
    reason: str | None = None

    def to_json(self) -> dict:
        out = {"value": self.value, "stderr": self.stderr, "ci95": list(self.ci95), "n": self.n}
        return {**out, "reason": self.reason} if self.reason else out


def seed_for(run_seed: int, *names: str) -> int:
    """The bootstrap seed of a task (or other unit): the run seed and the unit's names, never a
    model's, so every model compared on that unit is resampled with the same indices."""
    return (run_seed + zlib.crc32("/".join(names).encode())) % 2**32


MULTINOMIAL = "multinomial"
INDICES = "indices"


def resample_counts(n: int, resamples: int, seed: int, draw: str = MULTINOMIAL) -> np.ndarray:
    """(resamples, n) counts: how often each of ``n`` examples is drawn in each resample."""
    rng = np.random.default_rng(seed)
    if draw == MULTINOMIAL:
        return rng.multinomial(n, np.full(n, 1.0 / n), size=resamples)
    if draw == INDICES:
        indices = rng.choice(n, size=(resamples, n), replace=True)
        return np.stack([np.bincount(row, minlength=n) for row in indices]).astype(float)
    raise ValueError(f"unknown bootstrap draw {draw!r}")


def values_of(totals: np.ndarray, value_from_totals: Callable[[np.ndarray], float]) -> np.ndarray:
    """The metric on each row of summed statistics."""
    return np.array([value_from_totals(t) for t in totals], dtype=float)


def replicates(stats: np.ndarray, value_from_totals: Callable[[np.ndarray], float],
               resamples: int = 1000, seed: int = 0, draw: str = MULTINOMIAL) -> np.ndarray:
    """The metric on ``resamples`` bootstrap resamples of the examples (rows of ``stats``)."""
    return values_of(resample_counts(len(stats), resamples, seed, draw) @ stats, value_from_totals)


def interval(value: float, replicates_: np.ndarray, n: int) -> MetricValue:
    """The percentile 95% interval and standard error of bootstrap replicates around ``value``; a bound or
    standard error that a non-finite replicate (an overflowing resample) made infinite is null."""
    with np.errstate(invalid="ignore", over="ignore"):
        low, high = np.percentile(replicates_, [2.5, 97.5])
        stderr = float(replicates_.std(ddof=1)) if len(replicates_) > 1 else 0.0
    return MetricValue(value=float(value), stderr=finite_or_none(stderr), ci95=(finite_or_none(low), finite_or_none(high)), n=n)


def bootstrap(stats: np.ndarray, value_from_totals: Callable[[np.ndarray], float],
              resamples: int = 1000, seed: int = 0,
              why_not_finite: Callable[[np.ndarray], str] | None = None) -> MetricValue:
    """Percentile bootstrap over examples. A value that is not a finite number (a perplexity beyond the
    largest float) is not measured, with ``why_not_finite(totals)`` as the reason."""
    totals = stats.sum(axis=0)
    value = float(value_from_totals(totals))
    if not math.isfinite(value):
        reason = why_not_finite(totals) if why_not_finite else f"the value is not a finite number ({value})"
        return MetricValue(value=None, stderr=None, ci95=(None, None), n=len(stats), reason=reason)
    return interval(value, replicates(stats, value_from_totals, resamples, seed), len(stats))
