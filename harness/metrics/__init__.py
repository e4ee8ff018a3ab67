"""Metrics: additive statistics (the METRICS registry's entries, in base.py, classification.py,
text.py, meteor.py and perplexity.py) and the bootstrap.

The names exported here - ``Accuracy``, ``Bleu``, ``Meteor``, ``WordPerplexity``, ... - are the local
``evaluate.Metric`` subclasses (``Bleu().compute(predictions=..., references=...)``;
``WordPerplexity().compute(loglikelihood=[...], words=[...])``), built on first access so that
importing harness.metrics does not import `evaluate` (seconds: it imports transformers' pipelines).
"""
from __future__ import annotations

from harness.metrics import classification, meteor, perplexity, text
from harness.metrics.base import AdditiveMetric, MeanMetric, ScoreMetric, evaluate_metric
from harness.metrics.bootstrap import MetricValue, bootstrap

_STATISTICS = {"Accuracy": classification.Accuracy, "ExactMatch": classification.ExactMatch,
               "F1Macro": classification.F1Macro, "Bleu": text.Bleu, "Meteor": meteor.Meteor,
               "BitsPerByte": perplexity.BitsPerByte, "BytePerplexity": perplexity.BytePerplexity,
               "WordPerplexity": perplexity.WordPerplexity, "Chrf": text.Chrf, "Rouge1": text.Rouge1,
               "Rouge2": text.Rouge2, "RougeL": text.RougeL, "RougeLsum": text.RougeLsum}


def __getattr__(name: str):
    if name in _STATISTICS:
        return evaluate_metric(_STATISTICS[name])
    raise AttributeError(f"module 'harness.metrics' has no attribute {name!r}")


__all__ = ["AdditiveMetric", "MeanMetric", "ScoreMetric", "MetricValue", "bootstrap", "evaluate_metric",
           *_STATISTICS]
