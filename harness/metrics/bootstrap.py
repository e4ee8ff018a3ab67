"""Standard error and 95% confidence interval by the bootstrap, from additive statistics (pure)."""
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


def replicates(stats: np.ndarray, value_from_totals: Callable[[np.ndarray], float],
               resamples: int = 1000, seed: int = 0) -> np.ndarray:
    """The metric on ``resamples`` bootstrap resamples of the examples. Resample counts come from
    one multinomial draw, so each resample's totals are ``counts @ stats``."""
    n = len(stats)
    counts = np.random.default_rng(seed).multinomial(n, np.full(n, 1.0 / n), size=resamples)
    return np.array([value_from_totals(t) for t in counts @ stats])


def bootstrap(stats: np.ndarray, value_from_totals: Callable[[np.ndarray], float],
              resamples: int = 1000, seed: int = 0) -> MetricValue:
    """Percentile bootstrap over examples."""
    n = len(stats)
    value = value_from_totals(stats.sum(axis=0))
    replicates_ = replicates(stats, value_from_totals, resamples, seed)
    low, high = np.percentile(replicates_, [2.5, 97.5])
    stderr = float(replicates_.std(ddof=1)) if resamples > 1 else 0.0
    return MetricValue(value=float(value), stderr=stderr, ci95=(float(low), float(high)), n=n)
