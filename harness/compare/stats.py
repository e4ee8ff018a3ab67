"""Paired statistics for comparing two models on the same items (pure: arrays in, numbers out).

* 0/1 outcomes: McNemar's test on the discordant pairs (b = baseline right and other wrong,
  c = the reverse): exact two-sided binomial on b + c trials at 1/2, or the continuity-corrected
  chi-square (|b - c| - 1)^2 / (b + c) on 1 degree of freedom above CHI2_ABOVE discordant pairs.
* Corpus metrics (BLEU, chrF, F1 macro, ...) and means: a paired bootstrap that draws the same item
  indices for both models and recomputes each model's metric from its additive per-item
  statistics, as sacrebleu's ``--paired-bs`` does (sacrebleu/significance.py ``_paired_bs_test``):
  indices from ``default_rng(seed).choice(n, (resamples, n))`` (``harness.metrics.bootstrap``, the one
  resampler, with its ``INDICES`` draw), and the p-value of the absolute
  difference, ``(#{|d*| - mean|d*| > |d|} + 1) / (resamples + 1)``. Approximate randomization
  (``_paired_ar_test``) swaps each item's two outputs with probability 1/2 and counts
  ``#{|a* - b*| > |d|}`` the same way.
* The delta's 95% interval is the 2.5th and 97.5th percentiles of the paired replicates
  ``other* - baseline*`` (for 0/1 outcomes too, from the same indices).

Where sacrebleu differs: an observed difference of exactly 0 gets p = 1 here, in both tests (two
models with identical per-item statistics, or outputs that differ but score the same, e.g. BLEU 0
against 0). sacrebleu counts ``#{null > |d|}``, which is 0 when every resample's difference is 0
too, and returns 1/(resamples + 1): a "significant" difference between a system and itself.

Each result also carries the spread the power statements of the gate need (harness.gate.power): the
standard deviation of the paired replicates of the delta, and of the baseline's own replicates.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from harness.metrics.bootstrap import INDICES, resample_counts, values_of
from harness.probes.stats import binomial_two_sided

CHI2_ABOVE = 25          # discordant pairs above which McNemar uses the continuity-corrected chi-square
MIN_ITEMS = 30           # fewer paired items than this: "too few items" (intervals and tests are unreliable)
ALPHA = 0.05


@dataclass(frozen=True)
class McNemar:
    baseline_only: int        # b: items the baseline got right and the other model wrong
    other_only: int           # c: the reverse
    test: str                 # "mcnemar_exact" | "mcnemar_chi2_cc"
    p_value: float
    statistic: float | None = None     # the chi-square, when that test was used


def mcnemar(baseline: np.ndarray, other: np.ndarray, chi2_above: int = CHI2_ABOVE) -> McNemar:
    """McNemar's test on paired 0/1 outcomes (1 = right)."""
    baseline, other = np.asarray(baseline) > 0, np.asarray(other) > 0
    b = int(np.sum(baseline & ~other))
    c = int(np.sum(~baseline & other))
    if b + c > chi2_above:
        chi2 = (abs(b - c) - 1) ** 2 / (b + c)
        return McNemar(b, c, "mcnemar_chi2_cc", min(1.0, math.erfc(math.sqrt(chi2 / 2))), chi2)
    return McNemar(b, c, "mcnemar_exact", binomial_two_sided(b, b + c))


def _exceed_p(null: np.ndarray, observed: float) -> float:
    """sacrebleu's ``_compute_p_value``: (#{null > observed} + 1) / (len + 1)."""
    return (int(np.sum(null > observed)) + 1) / (len(null) + 1)


@dataclass(frozen=True)
class PairedResult:
    baseline: float
    other: float
    delta: float
    ci95: tuple[float | None, float | None]
    p_value: float | None
    resamples: int
    sd_delta: float | None = None        # standard deviation of the paired replicates other* - baseline*
    sd_baseline: float | None = None     # standard deviation of the baseline's replicates


def no_difference(a: float, b: float) -> bool:
    """An observed difference of 0 (to float rounding of the same computation): never evidence of one."""
    return a == b or abs(a - b) <= 1e-12 * max(1.0, abs(a), abs(b))


def _sd(values: np.ndarray) -> float | None:
    values = values[~np.isnan(values)]
    return float(np.std(values, ddof=1)) if len(values) > 1 else None


def paired_bootstrap(baseline_stats: np.ndarray, other_stats: np.ndarray,
                     value_from_totals: Callable[[np.ndarray], float], resamples: int = 1000,
                     seed: int = 12345) -> PairedResult:
    """Paired bootstrap of ``other - baseline`` over the same resampled items. Row i of both
    statistics matrices is item i, and both share one column layout (see ``harness.compare.build``)."""
    baseline_stats, other_stats = np.asarray(baseline_stats, float), np.asarray(other_stats, float)
    n = len(baseline_stats)
    if n == 0 or len(other_stats) != n:
        raise ValueError(f"paired statistics need the same positive number of rows, got {n} and {len(other_stats)}")
    base = value_from_totals(baseline_stats.sum(axis=0))
    oth = value_from_totals(other_stats.sum(axis=0))
    counts = resample_counts(n, resamples, seed, draw=INDICES)      # the same items for both models
    base_star = values_of(counts @ baseline_stats, value_from_totals)
    sd_base = _sd(base_star)
    if np.array_equal(baseline_stats, other_stats):          # every resample's difference is exactly 0
        return PairedResult(base, oth, oth - base, (0.0, 0.0), 1.0, resamples, 0.0, sd_base)
    diffs = values_of(counts @ other_stats, value_from_totals) - base_star
    diffs = diffs[~np.isnan(diffs)]                          # a resample where a ratio metric is undefined
    if len(diffs) == 0:
        return PairedResult(base, oth, oth - base, (None, None), None, resamples, None, sd_base)
    low, high = np.percentile(diffs, [2.5, 97.5])
    absolute = np.abs(diffs)
    p = 1.0 if no_difference(base, oth) else _exceed_p(absolute - absolute.mean(), abs(oth - base))
    return PairedResult(base, oth, oth - base, (float(low), float(high)), p, resamples, _sd(diffs), sd_base)


def approximate_randomization(baseline_stats: np.ndarray, other_stats: np.ndarray,
                              value_from_totals: Callable[[np.ndarray], float], trials: int = 10_000,
                              seed: int = 12345) -> float:
    """Paired approximate randomization p-value (sacrebleu's ``_paired_ar_test`` definition): each
    trial swaps each item's two outputs with probability 1/2. Needs both models' statistics in the
    same layout."""
    baseline_stats, other_stats = np.asarray(baseline_stats, float), np.asarray(other_stats, float)
    if np.array_equal(baseline_stats, other_stats):
        return 1.0
    base, oth = value_from_totals(baseline_stats.sum(0)), value_from_totals(other_stats.sum(0))
    if no_difference(base, oth):
        return 1.0
    observed = abs(base - oth)
    keep = np.random.default_rng(seed).integers(2, size=(trials, len(baseline_stats)), dtype=bool)
    swapped = ~keep
    shuffled_a = keep @ baseline_stats + swapped @ other_stats
    shuffled_b = swapped @ baseline_stats + keep @ other_stats
    null = np.abs(values_of(shuffled_a, value_from_totals) - values_of(shuffled_b, value_from_totals))
    null = null[~np.isnan(null)]
    return _exceed_p(null, observed)


