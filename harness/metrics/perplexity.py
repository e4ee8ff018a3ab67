"""word_perplexity, byte_perplexity and bits_per_byte of whole documents (lm-evaluation-harness
0.4's wikitext-style definitions): with ``ll`` a document's total log-likelihood (natural log,
from rolling windows), ``words`` = len(re.split(r"\\s+", text)) and ``bytes`` its UTF-8 length,

    word_perplexity = exp(-sum(ll) / sum(words))
    byte_perplexity = exp(-sum(ll) / sum(bytes))
    bits_per_byte   = -sum(ll) / sum(bytes) / ln 2

summed over the documents (lm-eval's weighted_perplexity and bits_per_byte aggregations). The
statistics (ll, words) and (ll, bytes) add, so the bootstrap resamples documents as for every metric.

Everything is computed in log space; only the final ``exp`` can leave the floats: text with few
whitespace-separated words and many tokens (300 emoji, a long Chinese or Japanese document) can have
a word perplexity beyond 1.8e308. That value is then infinite, and reads not measured with the reason
``overflow_reason`` gives (harness.metrics.bootstrap), never an exception that loses the task.
"""
from __future__ import annotations

import math

import numpy as np

from harness.metrics.base import DOCUMENTS, ScoreMetric

LOG_MAX = math.log(np.finfo(float).max)        # ~709.78: exp of more overflows a float


def exp_or_inf(log_value: float) -> float:
    """exp(``log_value``), or infinity where that is beyond the largest float (math.exp would raise)."""
    return math.exp(log_value) if log_value <= LOG_MAX else math.inf


class _Perplexity(ScoreMetric):
    fits = DOCUMENTS
    higher_is_better = False
    unit: str

    @staticmethod
    def log_value_from_totals(totals: np.ndarray) -> float:
        return float(-totals[0] / totals[1])

    @classmethod
    def value_from_totals(cls, totals: np.ndarray) -> float:
        return exp_or_inf(cls.log_value_from_totals(totals))

    @classmethod
    def overflow_reason(cls, totals: np.ndarray) -> str:
        log_value = cls.log_value_from_totals(totals)
        return (f"overflow: {cls.name_} = exp({log_value:.6g}) (= 10^{log_value / math.log(10):.6g}) is beyond the largest "
                f"float (about 1.8e308): {totals[1]:g} {cls.unit} for a log-likelihood of {totals[0]:.6g}; "
                "bits_per_byte stays finite")


class WordPerplexity(_Perplexity):
    name_ = "word_perplexity"
    description_ = "exp(-total log-likelihood / total words), words split on whitespace as lm-eval."
    fields = ("loglikelihood", "words")
    unit = "whitespace-separated words"


class BytePerplexity(_Perplexity):
    name_ = "byte_perplexity"
    description_ = "exp(-total log-likelihood / total UTF-8 bytes)."
    fields = ("loglikelihood", "bytes")
    unit = "UTF-8 bytes"


class BitsPerByte(ScoreMetric):
    name_ = "bits_per_byte"
    description_ = "-total log-likelihood / total UTF-8 bytes / ln 2."
    fits = DOCUMENTS
    higher_is_better = False
    fields = ("loglikelihood", "bytes")

    @staticmethod
    def value_from_totals(totals: np.ndarray) -> float:
        return -totals[0] / totals[1] / math.log(2)
