"""Calibration of multiple-choice and classification answers (pure): expected calibration error
over equal-width confidence bins, the multi-class Brier score, and the reliability-diagram data.

A task kind that can say how sure the model was defines ``forecast(record) -> Forecast | None``
(multiple_choice: softmax over the choices' summed log-likelihoods; classify: the classifier's
class probabilities, renormalized to sum to 1) and ``forecast_source`` (a sentence saying so).

* confidence = the probability of the predicted answer; correct = the prediction is the gold answer
* ECE = sum over bins b of |sum_b correct - sum_b confidence| / N (Guo et al. 2017), bins of width
  1/B over [0, 1]: bin = min(floor(confidence * B), B - 1), so 1.0 falls in the last bin
* Brier = mean over examples of sum over classes k of (p_k - [k = gold])^2 (Brier 1950; 0 is
  perfect, 2 the worst)

Each example's statistics (per bin: count, confidence, correct; its Brier term, 1) add up, so the
bootstrap intervals come from the same resampling as every metric. The result is
``models.<m>.tasks.<t>.calibration``::

    {"source": "...", "binning": "equal-width", "bins": 10, "n": N,
     "metrics": {"ece": STAT, "brier": STAT},          # STAT = {value, stderr, ci95, n, higher_is_better}
     "reliability": [{"bin": 0, "lower": 0.0, "upper": 0.1, "count": c,
                      "confidence": mean or None, "accuracy": mean or None}, ...]}   # None: empty bin

or ``{"reason": "<why>"}`` (no metrics) when no scored example carries probabilities.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from harness.metrics.bootstrap import bootstrap

BINS = 10


@dataclass(frozen=True)
class Forecast:
    """One answer's probabilities over the options, which option was predicted, and the gold one."""
    probs: tuple[float, ...]
    predicted: int
    gold: int

    @property
    def confidence(self) -> float:
        return self.probs[self.predicted]

    @property
    def correct(self) -> bool:
        return self.predicted == self.gold

    @property
    def brier(self) -> float:
        return sum((p - (k == self.gold)) ** 2 for k, p in enumerate(self.probs))


def softmax(logprobs: Sequence[float]) -> tuple[float, ...]:
    top = max(logprobs)
    weights = [math.exp(lp - top) for lp in logprobs]
    total = sum(weights)
    return tuple(w / total for w in weights)


def bin_of(confidence: float, bins: int = BINS) -> int:
    return min(int(confidence * bins), bins - 1)


def example_stats(forecasts: Sequence[Forecast], bins: int = BINS) -> np.ndarray:
    """Rows of [count_b, confidence_b, correct_b for each bin b] + [brier, 1]."""
    stats = np.zeros((len(forecasts), 3 * bins + 2))
    for row, f in enumerate(forecasts):
        b = bin_of(f.confidence, bins)
        stats[row, 3 * b: 3 * b + 3] = (1.0, f.confidence, float(f.correct))
        stats[row, -2:] = (f.brier, 1.0)
    return stats


def ece_from_totals(totals: np.ndarray) -> float:
    per_bin = totals[:-2].reshape(-1, 3)
    return float(np.abs(per_bin[:, 2] - per_bin[:, 1]).sum() / totals[-1])


def brier_from_totals(totals: np.ndarray) -> float:
    return float(totals[-2] / totals[-1])


def reliability(stats: np.ndarray, bins: int = BINS) -> list[dict]:
    per_bin = stats.sum(axis=0)[:-2].reshape(-1, 3)
    rows = []
    for b, (count, conf, correct) in enumerate(per_bin):
        rows.append({"bin": b, "lower": b / bins, "upper": (b + 1) / bins, "count": int(count),
                     "confidence": float(conf / count) if count else None,
                     "accuracy": float(correct / count) if count else None})
    return rows


def calibration(forecasts: Sequence[Forecast], source: str, seed: int, resamples: int = 1000,
                bins: int = BINS) -> dict:
    if not forecasts:
        return {"reason": "no scored example carries probabilities (the model gave none, or every output "
                                "was invalid)"}
    stats = example_stats(forecasts, bins)
    metrics = {}
    for name, fn, offset in (("ece", ece_from_totals, 0), ("brier", brier_from_totals, 1)):
        metrics[name] = {**bootstrap(stats, fn, resamples, seed + offset).to_json(), "higher_is_better": False}
    return {"source": source, "binning": "equal-width", "bins": bins, "n": len(forecasts), "metrics": metrics,
            "reliability": reliability(stats, bins)}
