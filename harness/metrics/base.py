"""The shape every built-in metric shares: per-example sufficient statistics that add up.

A corpus value is ``value_from_totals(example_stats(...).sum(axis=0))``. Accuracy's statistics
are (correct, 1); BLEU's are sacrebleu's n-gram match and length counts; macro-F1's are
per-class (tp, fp, fn). Because the statistics add, a bootstrap resample is one matrix
product, and the point value is exactly the reference library's corpus value.

These classes are the pure statistics and are what the METRICS registry holds; they import neither
`evaluate` nor `datasets` (importing `evaluate` takes seconds: it imports transformers' pipelines).
Each metric is also a local ``evaluate.Metric`` (no hub download), built the first time it is asked
for (``evaluate_metric`` below, or ``from harness.metrics import Bleu``), so
``Bleu().compute(predictions=[...], references=[...])`` works as users of `evaluate` expect.
"""
from __future__ import annotations

from functools import lru_cache
from typing import ClassVar, Sequence

import numpy as np


class AdditiveMetric:
    name_: ClassVar[str]
    description_: ClassVar[str]
    higher_is_better: ClassVar[bool] = True

    @classmethod
    def corpus_value(cls, predictions: Sequence[str], references: Sequence[str]) -> float:
        return cls.value_from_totals(cls.example_stats(predictions, references).sum(axis=0))

    @classmethod
    def example_value(cls, prediction: str, reference: str) -> float:
        """The metric on one example alone (e.g. sentence BLEU), kept in samples.jsonl."""
        return cls.corpus_value([prediction], [reference])

    @staticmethod
    def example_stats(predictions: Sequence[str], references: Sequence[str]) -> np.ndarray:
        """One row of additive statistics per example."""
        raise NotImplementedError

    @staticmethod
    def value_from_totals(totals: np.ndarray) -> float:
        raise NotImplementedError


class MeanMetric(AdditiveMetric):
    """A metric that is the mean of a per-example score; the statistics are (score, 1)."""

    @staticmethod
    def example_score(prediction: str, reference: str) -> float:
        raise NotImplementedError

    @classmethod
    def example_value(cls, prediction: str, reference: str) -> float:
        return cls.example_score(prediction, reference)

    @classmethod
    def example_stats(cls, predictions, references) -> np.ndarray:
        scores = [cls.example_score(p, r) for p, r in zip(predictions, references, strict=True)]
        return np.column_stack([np.asarray(scores, dtype=float), np.ones(len(scores))])

    @staticmethod
    def value_from_totals(totals: np.ndarray) -> float:
        return float(totals[0] / totals[1])


@lru_cache(maxsize=None)
def evaluate_metric(metric: type[AdditiveMetric]) -> type:
    """``metric`` as a local ``evaluate.Metric`` subclass (same statistics, evaluate's interface:
    ``compute``, ``add_batch``, ``info``), built once per metric class."""
    import datasets
    import evaluate

    def __init__(self, **kwargs):
        kwargs.setdefault("keep_in_memory", True)
        evaluate.Metric.__init__(self, **kwargs)

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=self.description_, citation="", inputs_description="predictions and references, strings",
            features=datasets.Features({"predictions": datasets.Value("string"),
                                        "references": datasets.Value("string")}))

    def _compute(self, predictions, references):
        return {self.name_: self.corpus_value(predictions, references)}

    return type(metric.__name__, (metric, evaluate.Metric),
                {"__init__": __init__, "_info": _info, "_compute": _compute, "__module__": "harness.metrics",
                 "__qualname__": metric.__qualname__, "__doc__": metric.__doc__})
