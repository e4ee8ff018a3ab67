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

import zlib
from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class MetricValue:
    value: float
    stderr: float
    ci95: tuple[float, float]
    n: int

    def to_json(self) -> dict:
        return {"value": self.value, "stderr": self.stderr, "ci95": list(self.ci95), "n": self.n}


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
    """The percentile 95% interval and standard error of bootstrap replicates around ``value``."""
    low, high = np.percentile(replicates_, [2.5, 97.5])
    stderr = float(replicates_.std(ddof=1)) if len(replicates_) > 1 else 0.0
    return MetricValue(value=float(value), stderr=stderr, ci95=(float(low), float(high)), n=n)


def bootstrap(stats: np.ndarray, value_from_totals: Callable[[np.ndarray], float],
              resamples: int = 1000, seed: int = 0) -> MetricValue:
    """Percentile bootstrap over examples."""
    return interval(value_from_totals(stats.sum(axis=0)), replicates(stats, value_from_totals, resamples, seed),
                    len(stats))
