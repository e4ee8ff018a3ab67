"""Standard error and 95% confidence interval by the bootstrap, from additive statistics (pure)."""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Callable

import numpy as np


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


def replicates(stats: np.ndarray, value_from_totals: Callable[[np.ndarray], float],
               resamples: int = 1000, seed: int = 0) -> np.ndarray:
    """The metric on ``resamples`` bootstrap resamples of the examples. Resample counts come from
    one multinomial draw, so each resample's totals are ``counts @ stats``."""
    n = len(stats)
    counts = np.random.default_rng(seed).multinomial(n, np.full(n, 1.0 / n), size=resamples)
    return np.array([value_from_totals(t) for t in counts @ stats])


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def bootstrap(stats: np.ndarray, value_from_totals: Callable[[np.ndarray], float],
              resamples: int = 1000, seed: int = 0,
              why_not_finite: Callable[[np.ndarray], str] | None = None) -> MetricValue:
    """Percentile bootstrap over examples. A value that is not a finite number (a perplexity beyond the
    largest float) is not measured, with ``why_not_finite(totals)`` as the reason; an interval bound or
    standard error that a non-finite resample made infinite is null."""
    n = len(stats)
    totals = stats.sum(axis=0)
    value = float(value_from_totals(totals))
    if not math.isfinite(value):
        reason = why_not_finite(totals) if why_not_finite else f"the value is not a finite number ({value})"
        return MetricValue(value=None, stderr=None, ci95=(None, None), n=n, reason=reason)
    replicates_ = replicates(stats, value_from_totals, resamples, seed)
    with np.errstate(invalid="ignore", over="ignore"):
        low, high = np.percentile(replicates_, [2.5, 97.5])
        stderr = float(replicates_.std(ddof=1)) if resamples > 1 else 0.0
    return MetricValue(value=value, stderr=_finite(stderr), ci95=(_finite(low), _finite(high)), n=n)
