"""Metrics: local evaluate.Metric subclasses (see base.py) and the bootstrap."""
from harness.metrics.base import AdditiveMetric, MeanMetric
from harness.metrics.bootstrap import MetricValue, bootstrap
from harness.metrics.classification import Accuracy, ExactMatch, F1Macro
from harness.metrics.meteor import Meteor
from harness.metrics.perplexity import BitsPerByte, BytePerplexity, WordPerplexity
from harness.metrics.text import Bleu, Chrf, Rouge1, Rouge2, RougeL, RougeLsum

__all__ = ["AdditiveMetric", "MeanMetric", "MetricValue", "bootstrap", "Accuracy", "ExactMatch", "F1Macro",
           "Bleu", "Meteor", "BitsPerByte", "BytePerplexity", "WordPerplexity", "Chrf", "Rouge1", "Rouge2", "RougeL", "RougeLsum"]
