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
from typing import ClassVar, Mapping, Sequence

import numpy as np


TEXT = frozenset({"text"})                              # generated text against a reference text
ANSWERS = frozenset({"choice", "label", "text"})         # one answer per item, right or wrong
DOCUMENTS = frozenset({"document"})                     # per-document scores (log-likelihood, words, bytes)


class AdditiveMetric:
    name_: ClassVar[str]
    description_: ClassVar[str]
    higher_is_better: ClassVar[bool] = True
    binary: ClassVar[bool] = False      # every example scores 0 or 1 (paired comparisons use McNemar's test)

    options: ClassVar[tuple[str, ...]] = ()       # the options ``configured`` takes
    # the predictions it fits, matched against a task kind's ``answers`` at load ("choice", "label", "text",
    # "document"); None: any kind (a plugin metric that declares nothing)
    fits: ClassVar[frozenset[str] | None] = None

    @classmethod
    def configured(cls, **options: str) -> type["AdditiveMetric"]:
        """This metric with options (e.g. BLEU's tokenize); a metric without options refuses any."""
        if options:
            from harness.errors import HarnessError
            raise HarnessError(f"metric {cls.name_!r} takes no options ({', '.join(options)})",
                               "leave the option out of the task YAML")
        return cls

    @classmethod
    def describe(cls) -> dict:
        """How the value was computed where that varies (e.g. the tokenizer), recorded with the value."""
        return {}

    @classmethod
    def unavailable(cls) -> str | None:
        """Why this metric cannot be computed on this machine (e.g. data it needs is missing), or None.
        A task then reports it as not_measured with this reason."""
        return None

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

    @classmethod
    def record_stats(cls, predictions: Sequence[str], references: Sequence[str],
                     scores: Sequence[Mapping[str, float]]) -> np.ndarray:
        """The statistics from stored records: text metrics read the texts; ScoreMetric reads the
        numbers a task kind put in each record's ``scores``."""
        return cls.example_stats(predictions, references)

    @classmethod
    def record_value(cls, prediction: str, reference: str, scores: Mapping[str, float]) -> float:
        return cls.example_value(prediction, reference)

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


class ScoreMetric(AdditiveMetric):
    """A metric over numbers each example's task kind computed (e.g. a document's log-likelihood,
    word and byte counts), named by ``fields``: the statistics are those numbers themselves.
    As an evaluate.Metric it takes one column per field: ``compute(loglikelihood=[...], words=[...])``."""
    fields: ClassVar[tuple[str, ...]]

    def _info(self):                 # the evaluate interface (evaluate_metric keeps it); imported only then
        import datasets
        import evaluate
        return evaluate.MetricInfo(
            description=self.description_, citation="", inputs_description=f"one number per example for {self.fields}",
            features=datasets.Features({f: datasets.Value("float64") for f in self.fields}))

    def _compute(self, **columns):
        rows = [dict(zip(self.fields, values)) for values in zip(*(columns[f] for f in self.fields))]
        return {self.name_: self.value_from_totals(self.record_stats([], [], rows).sum(axis=0))}

    @classmethod
    def record_stats(cls, predictions, references, scores) -> np.ndarray:
        return np.asarray([[float(s[f]) for f in cls.fields] for s in scores], dtype=float).reshape(-1, len(cls.fields))

    @classmethod
    def record_value(cls, prediction, reference, scores) -> float:
        return cls.value_from_totals(cls.record_stats([], [], [scores])[0])

    @classmethod
    def example_stats(cls, predictions, references) -> np.ndarray:
        raise TypeError(f"{cls.name_} is computed from per-example scores ({', '.join(cls.fields)}), not from texts")


@lru_cache(maxsize=None)
def evaluate_metric(metric: type[AdditiveMetric]) -> type:
    """``metric`` as a local ``evaluate.Metric`` subclass (same statistics, evaluate's interface:
    ``compute``, ``add_batch``, ``info``), built once per metric class. A statistics class that
    defines its own ``_info``/``_compute`` (ScoreMetric: one number column per field) keeps them;
    the others get string predictions and references."""
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

    namespace = {"__init__": __init__, "__module__": "harness.metrics",
                 "__qualname__": metric.__qualname__, "__doc__": metric.__doc__}
    if not hasattr(metric, "_info"):
        namespace["_info"] = _info
    if not hasattr(metric, "_compute"):
        namespace["_compute"] = _compute
    return type(metric.__name__, (metric, evaluate.Metric), namespace)
