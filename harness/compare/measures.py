"""What is compared per item: a ``Measure`` turns one model's records into one row of additive
statistics per unit (an item, or a group of items such as robustness's perturbations of one
example), and says how the headline is computed from the rows' totals (pure)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from harness.errors import HarnessError
from harness.kinds.base import MetricSpec
from harness.plugins import METRICS, TASK_KINDS


@dataclass(frozen=True)
class Measure:
    units: Callable[[Sequence[dict]], dict[str, list[float]]]   # records -> {unit key: stats row}, population only
    value_from_totals: Callable[[np.ndarray], float]
    higher_is_better: bool
    binary: bool = False              # rows are [outcome * scale, 1] with outcome 0/1: McNemar
    population: str = ""              # which items, when not all of them
    ideal: float | None = None        # where neither direction is better (e.g. 50% stereotype preference)
    scale: float = 1.0                # binary: the metric's units per 0/1 outcome (100 for a percentage)


def mean(totals: np.ndarray) -> float:
    return float(totals[0] / totals[1]) if totals[1] else float("nan")


def metric_spec(kind: str, name: str) -> MetricSpec:
    """The metric behind a task's reported metric name, as ``harness.kinds.base.metric_specs`` resolves it."""
    try:
        views = TASK_KINDS.get(kind).metric_views
    except HarnessError:
        views = {}
    return views.get(name, MetricSpec(name, name))


def is_binary_metric(kind: str | None, name: str) -> bool:
    """Whether a reported metric is a mean of 0/1 outcomes (accuracy, exact match, accuracy_norm)."""
    kinds = [kind] if kind else TASK_KINDS.names()
    specs = [metric_spec(k, name) for k in kinds] + [MetricSpec(name, name)]
    for spec in specs:
        try:
            if getattr(METRICS.get(spec.metric), "binary", False):
                return True
        except HarnessError:
            continue
    return False
