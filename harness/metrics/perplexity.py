"""word_perplexity, byte_perplexity and bits_per_byte of whole documents (lm-evaluation-harness
0.4's wikitext-style definitions): with ``ll`` a document's total log-likelihood (natural log,
from rolling windows), ``words`` = len(re.split(r"\\s+", text)) and ``bytes`` its UTF-8 length,

    word_perplexity = exp(-sum(ll) / sum(words))
    byte_perplexity = exp(-sum(ll) / sum(bytes))
    bits_per_byte   = -sum(ll) / sum(bytes) / ln 2

summed over the documents (lm-eval's weighted_perplexity and bits_per_byte aggregations). The
statistics (ll, words) and (ll, bytes) add, so the bootstrap resamples documents as for every metric.
"""
from __future__ import annotations

import math

import numpy as np

from harness.metrics.base import ScoreMetric


class WordPerplexity(ScoreMetric):
    name_ = "word_perplexity"
    description_ = "exp(-total log-likelihood / total words), words split on whitespace as lm-eval."
    higher_is_better = False
    fields = ("loglikelihood", "words")

    @staticmethod
    def value_from_totals(totals: np.ndarray) -> float:
        return math.exp(-totals[0] / totals[1])


class BytePerplexity(ScoreMetric):
    name_ = "byte_perplexity"
    description_ = "exp(-total log-likelihood / total UTF-8 bytes)."
    higher_is_better = False
    fields = ("loglikelihood", "bytes")

    @staticmethod
    def value_from_totals(totals: np.ndarray) -> float:
        return math.exp(-totals[0] / totals[1])


class BitsPerByte(ScoreMetric):
    name_ = "bits_per_byte"
    description_ = "-total log-likelihood / total UTF-8 bytes / ln 2."
    higher_is_better = False
    fields = ("loglikelihood", "bytes")

    @staticmethod
    def value_from_totals(totals: np.ndarray) -> float:
        return -totals[0] / totals[1] / math.log(2)
