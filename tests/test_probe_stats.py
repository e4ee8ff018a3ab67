"""The one exact binomial test (harness.probes.stats.binomial_two_sided, scipy.stats.binomtest) at
every size: CrowS-Pairs' whole 1,508 pairs overflowed the float sum it replaced (``math.comb(n, k) *
p**k`` above ~1,030 items), which lost a whole run's results while summarizing."""
from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import binomtest

from harness.compare import stats as compare_stats
from harness.probes.base import ProbeConfig
from harness.probes.pairs import CrowsPairs, pair_outcome
from harness.probes.stats import binomial_two_sided

from support import run_cli


@pytest.mark.parametrize("k, n", [(0, 1), (1, 7), (9, 10), (5, 10), (520, 1030), (733, 1507), (754, 1508),
                                  (1, 5000), (2600, 5000), (60_000, 100_000)])
def test_the_binomial_test_equals_scipys_binomtest_at_any_size(k, n):
    assert binomial_two_sided(k, n) == binomtest(k, n, 0.5).pvalue
    assert binomial_two_sided(k, n, 0.3) == binomtest(k, n, 0.3).pvalue
    assert 0.0 <= binomial_two_sided(k, n) <= 1.0


def test_no_items_is_p_one():
    assert binomial_two_sided(0, 0) == 1.0


def test_mcnemars_exact_test_is_the_same_binomial():
    base = np.array([1] * 9 + [0] * 3 + [1] * 10)
    other = np.array([0] * 9 + [1] * 3 + [1] * 10)
    test = compare_stats.mcnemar(base, other)
    assert test.test == "mcnemar_exact" and test.p_value == binomtest(3, 12, 0.5).pvalue
    assert not hasattr(compare_stats, "binomial_two_sided_half")        # one binomial test, not two


def _pair_record(i: int, stereotyping: bool, subgroup: str) -> dict:
    return {"model": "m", "task": "probe:crows_pairs", "id": f"p{i}", "index": i, "input": "a", "reference": "b",
            "scores": {"ll_stereotyping": -1.0 if stereotyping else -2.0, "ll_other": -2.0 if stereotyping else -1.0},
            "details": {"subgroup": subgroup}}


def test_crows_pairs_summarizes_all_1508_pairs_with_scipys_p_values():
    records = [_pair_record(i, i % 7 < 3 or i < 200, "race-color" if i < 1100 else "gender") for i in range(1508)]
    summary = CrowsPairs().summarize(records, ProbeConfig(name="crows_pairs", probe="crows_pairs"), 1234)
    json.dumps(summary, allow_nan=False)
    for group, mine in (("race-color", records[:1100]), ("gender", records[1100:])):
        k = sum(r["scores"]["ll_stereotyping"] > r["scores"]["ll_other"] for r in mine)
        assert summary["subgroups"][group]["p_value_vs_50"] == binomtest(k, len(mine), 0.5).pvalue


@pytest.mark.slow
def test_crows_pairs_on_every_pair_completes_with_scipys_p_values(tmp_path):
    """The issue's command, as written (``--probe-limit 0``: every item): it ran every model,
    then died with a traceback while summarizing, and no results.json was written. ~50 s on 2 cores."""
    proc = run_cli("run", "--model", "tiny-gpt2", "--tasks", "facts_mc", "--limit", "4", "--probes", "crows_pairs",
                   "--probe-limit", "0", "--out", str(tmp_path), "--no-progress", "--no-meters")
    assert proc.returncode == 0, proc.stderr[-2000:]
    run = next(p for p in tmp_path.iterdir() if p.is_dir())
    probe = json.loads((run / "results.json").read_text())["models"]["tiny-gpt2"]["probes"]["crows_pairs"]
    records = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
    pairs = [r for r in records if r["task"] == "probe:crows_pairs"]
    assert len(pairs) == 1508 and sum(s["pairs"] for s in probe["subgroups"].values()) == 1508
    assert probe["subgroups"]
    for group, stats in probe["subgroups"].items():
        outcomes = [pair_outcome(r["scores"]["ll_stereotyping"], r["scores"]["ll_other"])
                    for r in pairs if r["details"]["subgroup"] == group]
        untied = [o for o in outcomes if o != "tie"]
        k = sum(o == "stereotyping" for o in untied)
        assert len(outcomes) == stats["pairs"] and stats["p_value_vs_50"] == binomtest(k, len(untied), 0.5).pvalue
