"""Reading one figure of a gate target from the typed results (pure): a task or probe metric, or an
energy figure, with how many examples it rests on and, when it has no value, why."""
from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Union

from harness.gate.policy import Metric, is_glob
from harness.results.types import ModelResult, ProbeResult, TaskResult

Entry = Union[TaskResult, ProbeResult, ModelResult]


@dataclass(frozen=True)
class Reading:
    value: float | None
    n: int | None
    reason: str = ""                 # why value is None
    source: str = ""                 # energy figures: where the number came from


def metrics_of(entry: Entry | None) -> dict:
    return entry.metrics if isinstance(entry, (TaskResult, ProbeResult)) else {}


def names_of(entry: Entry | None, quantity: Metric) -> list[str]:
    """The metrics of ``entry`` a (possibly glob) metric name selects."""
    metrics = metrics_of(entry)
    if is_glob(quantity.name) and quantity.name not in metrics:    # lm-eval's exact_match[strip] is a name, not a glob
        return sorted(m for m in metrics if fnmatchcase(m, quantity.name)) or [quantity.name]
    return [quantity.name]


def read_metric(entry: Entry | None, name: str, what: str) -> Reading:
    """``what``: the piece in words for the reason ("task 'facts_mc'")."""
    metrics = metrics_of(entry)
    m = metrics.get(name)
    if m is None:
        return Reading(None, None, f"{what} reports no metric {name!r} (it reports {', '.join(sorted(metrics)) or 'none'})")
    n = m.n if "n" in m.model_fields_set else getattr(entry, "n", None)
    if m.value is None:
        return Reading(None, n, m.reason or f"{name} has no value")
    return Reading(float(m.value), n)


def read_energy(entry: Entry | None, name: str) -> Reading:
    energy = entry.energy if entry is not None else None
    n = energy.examples if energy is not None else None
    figure = energy.figure(name) if energy is not None else None
    if figure is None:
        total = energy.total_energy_j if energy is not None else None
        if total is not None and not total.measured:          # meters off: only the total is written, with why
            return Reading(None, n, total.reason or "not measured")
        present = energy is not None and bool(energy.model_fields_set)
        return Reading(None, n, f"no energy figure {name!r} here" + ("" if present else " (no energy object)"))
    if not figure.measured or figure.value is None:
        return Reading(None, n, figure.reason or "not measured", "not_measured")
    return Reading(float(figure.value), n, source=figure.source)
