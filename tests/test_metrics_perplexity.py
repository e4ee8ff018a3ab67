"""Perplexity in log space (harness/metrics/perplexity.py, harness/metrics/bootstrap.py): a document with
few whitespace-separated words and many tokens (300 emoji, long Chinese or Japanese text) has a word
perplexity beyond the largest float. It reads not measured with an overflow reason, the other metrics
of the task stay, and the run ends normally - never an OverflowError that loses the task (exit 1)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from support import run_cli, write_task
from harness.metrics.bootstrap import bootstrap
from harness.metrics.perplexity import BitsPerByte, BytePerplexity, WordPerplexity


def test_word_perplexity_beyond_the_largest_float_is_not_measured_with_the_reason():
    stats = np.array([[-8000.0, 1.0], [-7000.0, 2.0]])                # log-likelihood, words
    assert WordPerplexity.value_from_totals(stats.sum(axis=0)) == math.inf
    value = bootstrap(stats, WordPerplexity.value_from_totals, 200, 0, WordPerplexity.overflow_reason).to_json()
    assert value["value"] is None and value["ci95"] == [None, None] and value["n"] == 2
    assert value["reason"].startswith("overflow: word_perplexity = exp(5000)")
    assert "3 whitespace-separated words" in value["reason"] and "bits_per_byte stays finite" in value["reason"]
    bytes_stats = np.array([[-8000.0, 1200.0], [-7000.0, 2400.0]])
    assert BitsPerByte.value_from_totals(bytes_stats.sum(axis=0)) == pytest.approx(15000 / 3600 / math.log(2))
    assert BytePerplexity.value_from_totals(bytes_stats.sum(axis=0)) == pytest.approx(math.exp(15000 / 3600))


def test_a_finite_value_whose_resamples_overflow_keeps_its_value_and_nulls_the_bound():
    stats = np.array([[-100.0, 1.0], [-2000.0, 1.0], [-10.0, 5.0]])    # one resample of only row 2 overflows
    value = bootstrap(stats, WordPerplexity.value_from_totals, 400, 3, WordPerplexity.overflow_reason)
    assert value.value == pytest.approx(math.exp(2110 / 7)) and value.reason is None
    assert value.ci95[0] is not None and value.ci95[1] is None and value.stderr is None


def test_ordinary_values_are_unchanged():
    stats = np.array([[-20.0, 10.0], [-31.0, 12.0], [-12.0, 9.0]])
    value = bootstrap(stats, WordPerplexity.value_from_totals, 300, 1)
    assert value.value == math.exp(63 / 31) and all(math.isfinite(b) for b in value.ci95)


@pytest.mark.slow
@pytest.mark.parametrize("text", ["\U0001F600" * 300, "天下大势分久必合合久必分" * 30 + "。"])
def test_a_run_on_text_without_spaces_reports_the_overflow_and_the_other_metrics(tmp_path, text):
    write_task(tmp_path / "tasks" / "doc", "doc", [{"id": "1", "text": text}], kind="perplexity")
    out = tmp_path / "out"
    proc = run_cli("run", "--model", "tiny-gpt2", "--tasks-dir", str(tmp_path / "tasks"), "--tasks", "doc",
                   "--no-probes", "--no-meters", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads(next(out.glob("*/results.json")).read_text())["models"]["tiny-gpt2"]["tasks"]["doc"]["metrics"]
    assert metrics["word_perplexity"]["value"] is None
    assert metrics["word_perplexity"]["reason"].startswith("overflow: word_perplexity = exp(")
    assert metrics["bits_per_byte"]["value"] > 0 and metrics["byte_perplexity"]["value"] > 1
