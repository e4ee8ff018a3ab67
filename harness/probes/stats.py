"""Statistics for probes and comparisons (pure): bootstrap intervals, the exact binomial test, permutation
tests, Holm."""
from __future__ import annotations

import math
from itertools import combinations
from typing import Callable, Sequence

import numpy as np

from harness.metrics.bootstrap import bootstrap, interval, replicates


TIE_RTOL = 1e-6     # relative (absolute below 1): float32 rounding noise in summed log-likelihoods


def is_tie(a: float, b: float, rtol: float = TIE_RTOL) -> bool:
    """Whether two model scores are equal up to rounding noise: |a - b| <= rtol * max(1, |a|, |b|)."""
    return abs(a - b) <= rtol * max(1.0, abs(a), abs(b))


def top_is_tied(scores: Sequence[float], rtol: float = TIE_RTOL) -> bool:
    """Whether the highest score is shared (an argmax over them then falls to the first, as in lm-eval)."""
    best = max(scores)
    return sum(is_tie(best, s, rtol) for s in scores) > 1


def mean_ci(values: Sequence[float], seed: int, resamples: int = 1000, scale: float = 1.0,
            empty: str = "no items (none applied, or all were too long for the model)") -> dict:
    """Mean with bootstrap stderr and 95% interval, as {value, stderr, ci95, n}; with no values,
    value None and ``reason`` saying why."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return {"value": None, "stderr": None, "ci95": [None, None], "n": 0, "reason": empty}
    stats = np.column_stack([values * scale, np.ones(len(values))])
    return bootstrap(stats, lambda t: float(t[0] / t[1]), resamples, seed).to_json()


def ratio_ci(numerators: Sequence[float], denominators: Sequence[float], transform: Callable[[float], float],
             seed: int, resamples: int = 1000) -> dict:
    """``transform(sum(num) / sum(den))`` with a bootstrap over items (e.g. BBQ's bias scores)."""
    num, den = np.asarray(numerators, float), np.asarray(denominators, float)
    if den.sum() == 0:
        reason = "no items in the denominator (none applied, or all were too long for the model)"
        return {"value": None, "stderr": None, "ci95": [None, None], "n": len(num), "reason": reason}

    def value(t):
        return transform(t[0] / t[1]) if t[1] else float("nan")
    stats = np.column_stack([num, den])
    reps = replicates(stats, value, resamples, seed)
    out = interval(value(stats.sum(axis=0)), reps, len(stats)).to_json()
    reps = reps[~np.isnan(reps)]
    if any(v is None or math.isnan(v) for v in (out["stderr"], *out["ci95"])):   # interval nulls what is not finite
        out["stderr"], out["ci95"] = None, [None, None]
    # two-sided bootstrap p-value for "the value is 0"
    out["p_value_vs_0"] = float(min(1.0, 2 * min(np.mean(reps <= 0), np.mean(reps >= 0)))) if len(reps) else None
    return out


def binomial_two_sided(successes: int, n: int, p: float = 0.5) -> float:
    """Exact two-sided binomial test (``scipy.stats.binomtest``): the probability of outcomes no likelier
    than the observed one. The one binomial test of the harness (CrowS-Pairs' and WinoBias' p against 50%,
    McNemar's exact test in comparisons); exact at any n (a float sum of ``comb(n, k) * p**k`` overflows
    above ~1,030 items)."""
    if n == 0:
        return 1.0
    from scipy.stats import binomtest       # imported here: scipy.stats takes ~0.6 s, and a gate without a baseline needs none
    return float(binomtest(int(successes), int(n), p).pvalue)


def holm(p_values: dict[str, float]) -> dict[str, float]:
    """Holm-Bonferroni adjusted p-values (step-down, monotone)."""
    order = sorted(p_values, key=p_values.get)
    m = len(order)
    adjusted, running = {}, 0.0
    for rank, key in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[key]))
        adjusted[key] = running
    return adjusted


def sign_flip_p(differences: Sequence[float], seed: int, samples: int = 10_000) -> float:
    """Two-sided paired permutation (sign-flip) test of mean difference = 0; exact up to 2^12 items."""
    d = np.asarray(differences, float)
    n = len(d)
    if n == 0 or not np.any(d):
        return 1.0
    observed = abs(d.mean())
    if n <= 12:
        signs = np.array([[1 if (mask >> i) & 1 else -1 for i in range(n)] for mask in range(2 ** n)])
    else:
        signs = np.random.default_rng(seed).choice([-1, 1], size=(samples, n))
    means = np.abs((signs * d).mean(axis=1))
    return float((np.sum(means >= observed - 1e-12) + (0 if n <= 12 else 1)) / (len(means) + (0 if n <= 12 else 1)))


def permutation_partitions(n_total: int, n_first: int, seed: int, limit: int = 10_000,
                           samples: int = 10_000) -> tuple[np.ndarray, bool]:
    """Index rows for the first group of every partition (exact, when there are at most ``limit``)
    or of ``samples`` random ones."""
    if math.comb(n_total, n_first) <= limit:
        return np.array(list(combinations(range(n_total), n_first)), dtype=np.int64).reshape(-1, n_first), True
    rng = np.random.default_rng(seed)
    return np.argsort(rng.random((samples, n_total)), axis=1)[:, :n_first], False
