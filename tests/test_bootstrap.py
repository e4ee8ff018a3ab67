"""harness.metrics.bootstrap is the one bootstrap resampler: single-run intervals (multinomial draw)
and the paired comparison (sacrebleu's index draw) both resample through ``resample_counts``, with
the numbers each gave before (the draws are written out here as they were)."""
from __future__ import annotations

import numpy as np

from harness.compare import stats as compare_stats
from harness.metrics.bootstrap import INDICES, MULTINOMIAL, bootstrap, replicates, resample_counts

STATS = np.random.default_rng(3).integers(0, 5, size=(40, 2)).astype(float) + [0, 1]


def ratio(t):
    return float(t[0] / t[1])


def test_the_multinomial_draw_gives_the_single_run_intervals_it_gave():
    counts = np.random.default_rng(11).multinomial(40, np.full(40, 1 / 40), size=200)
    before = np.array([ratio(t) for t in counts @ STATS])
    assert np.array_equal(replicates(STATS, ratio, 200, 11), before)
    value = bootstrap(STATS, ratio, 200, 11)
    low, high = np.percentile(before, [2.5, 97.5])
    assert (value.ci95, value.stderr, value.n) == ((float(low), float(high)), float(before.std(ddof=1)), 40)


def test_the_index_draw_is_sacrebleus_and_serves_the_paired_bootstrap():
    indices = np.random.default_rng(12345).choice(40, size=(300, 40), replace=True)   # sacrebleu's _paired_bs_test
    assert np.array_equal(resample_counts(40, 300, 12345, INDICES) @ STATS, STATS[indices].sum(axis=1))
    other = STATS + np.random.default_rng(5).integers(0, 2, size=STATS.shape)
    paired = compare_stats.paired_bootstrap(STATS, other, ratio, resamples=300, seed=12345)
    diffs = replicates(other, ratio, 300, 12345, INDICES) - replicates(STATS, ratio, 300, 12345, INDICES)
    low, high = np.percentile(diffs, [2.5, 97.5])
    assert paired.ci95 == (float(low), float(high))


def test_the_two_draws_are_the_only_ones_and_counts_sum_to_n():
    for draw in (MULTINOMIAL, INDICES):
        counts = resample_counts(17, 50, 1, draw)
        assert counts.shape == (50, 17) and set(counts.sum(axis=1)) == {17}
    assert not hasattr(compare_stats, "bootstrap_indices") and not hasattr(compare_stats, "resample_totals")
