"""accuracy, exact_match and f1_macro (scikit-learn's definition)."""
from __future__ import annotations

import numpy as np

from harness.metrics.base import ANSWERS, AdditiveMetric, MeanMetric


class Accuracy(MeanMetric):
    fits = ANSWERS
    name_ = "accuracy"
    description_ = "Fraction of predictions equal to the reference."
    binary = True

    @staticmethod
    def example_score(prediction: str, reference: str) -> float:
        return float(prediction == reference)


class ExactMatch(MeanMetric):
    fits = ANSWERS
    name_ = "exact_match"
    description_ = "Fraction of predictions equal to the reference after stripping surrounding whitespace."
    binary = True

    @staticmethod
    def example_score(prediction: str, reference: str) -> float:
        return float(prediction.strip() == reference.strip())


class F1Macro(AdditiveMetric):
    """Unweighted mean of per-class F1 over the classes present in references or predictions,
    as ``sklearn.metrics.f1_score(average="macro")``. Statistics: (tp, fp, fn) per class."""
    name_ = "f1_macro"
    fits = ANSWERS                   # over a fixed label or choice set (a text task whose answers are labels too)
    description_ = "Macro-averaged F1 over the labels present."

    @staticmethod
    def example_stats(predictions, references) -> np.ndarray:
        labels = sorted(set(predictions) | set(references))
        index = {label: i for i, label in enumerate(labels)}
        stats = np.zeros((len(predictions), 3 * len(labels)))
        for row, (p, r) in enumerate(zip(predictions, references, strict=True)):
            if p == r:
                stats[row, 3 * index[p]] = 1            # tp
            else:
                stats[row, 3 * index[p] + 1] = 1        # fp for the predicted class
                stats[row, 3 * index[r] + 2] = 1        # fn for the true class
        return stats

    @staticmethod
    def value_from_totals(totals: np.ndarray) -> float:
        tp, fp, fn = totals.reshape(-1, 3).T
        present = (tp + fp + fn) > 0
        f1 = np.divide(2 * tp, 2 * tp + fp + fn, out=np.zeros_like(tp), where=present)
        return float(f1[present].mean())
