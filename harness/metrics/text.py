"""bleu and chrf (sacrebleu), rouge1/rouge2/rougeL/rougeLsum (rouge-score). Scores are 0-100 for
sacrebleu's metrics, as sacrebleu reports them, and 0-1 mean F-measures for ROUGE, as rouge-score does."""
from __future__ import annotations

import logging
from functools import lru_cache

import numpy as np

from harness.metrics.base import AdditiveMetric, MeanMetric
from harness.plugins import METRICS


# sacrebleu warns on every call when references look tokenized; the choice of data is the task's.
logging.getLogger("sacrebleu").setLevel(logging.ERROR)


@lru_cache(maxsize=None)
def _sacrebleu_scorer(name: str):
    """sacrebleu's scorer with its defaults, imported and built on first use."""
    from sacrebleu.metrics import BLEU, CHRF
    return {"bleu": BLEU, "chrf": CHRF}[name]()


class _SacrebleuMetric(AdditiveMetric):
    """sacrebleu computes a corpus score from summed sentence statistics; we keep the sentences'
    statistics so a bootstrap resample needs no re-tokenization."""

    @classmethod
    def scorer(cls):
        return _sacrebleu_scorer(cls.name_)

    @classmethod
    def example_stats(cls, predictions, references) -> np.ndarray:
        rows = cls.scorer()._extract_corpus_statistics(list(predictions), [list(references)])
        return np.asarray(rows, dtype=float)

    @classmethod
    def value_from_totals(cls, totals: np.ndarray) -> float:
        return float(cls.scorer()._compute_score_from_stats([int(round(t)) for t in totals]).score)


@METRICS.register("bleu")
class Bleu(_SacrebleuMetric):
    name_ = "bleu"
    description_ = "Corpus BLEU (sacrebleu defaults: 13a tokenization, exponential smoothing), 0-100."


@METRICS.register("chrf")
class Chrf(_SacrebleuMetric):
    name_ = "chrf"
    description_ = "Corpus chrF (sacrebleu defaults: char order 6, beta 2), 0-100."


@lru_cache(maxsize=1)
def _rouge():
    from rouge_score import rouge_scorer
    return rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=False)


def _rouge_metric(rouge_type: str) -> type[MeanMetric]:
    class Rouge(MeanMetric):
        name_ = rouge_type
        description_ = f"Mean {rouge_type} F-measure (rouge-score, no stemming), 0-1."

        @staticmethod
        def example_score(prediction: str, reference: str) -> float:
            return _rouge().score(reference, prediction)[rouge_type].fmeasure

    Rouge.__name__ = Rouge.__qualname__ = rouge_type.capitalize()
    return METRICS.register(rouge_type)(Rouge)


Rouge1, Rouge2, RougeL, RougeLsum = (_rouge_metric(t) for t in ("rouge1", "rouge2", "rougeL", "rougeLsum"))
