"""The cost side of a comparison, from the typed results (pure): joules and seconds per example over
the task windows of the tasks both models ran, each model's own memory (its parameter and buffer
bytes, results' ``size.memory``: the headline, what a compressed variant saves) and the process's
peak memory (labelled as such: it holds the libraries and activations too, so an int8 model's
3.4 MiB reads as ~1 GiB there), with ratios to the baseline. A figure that is missing reads not
measured (a null side) with the reason, never 0."""
from __future__ import annotations

from typing import Iterable

from harness.results.types import ModelResult


def _cost(baseline: float | None, other: float | None, source: str, reason: str | None) -> dict:
    out = {"baseline": baseline, "other": other,
           "ratio": other / baseline if baseline and other is not None else None, "source": source}
    if reason:
        out["reason"] = reason
    elif out["ratio"] is None:
        out["reason"] = "no ratio: the baseline's figure is zero"
    return out


def _per_example(model: ModelResult, tasks: Iterable[str], key: str) -> tuple[float | None, str, str | None]:
    """Sum of ``key`` over the tasks' energy objects, over the examples computed in those windows."""
    total, examples, sources = 0.0, 0, set()
    for task in tasks:
        result = model.tasks.get(task)
        energy = result.energy if result is not None else None
        figure = energy.figure(key) if energy is not None else None
        if figure is None or figure.value is None:
            return None, "not_measured", f"{task}: {(figure.reason if figure else None) or 'no figure recorded'}"
        total += figure.value
        examples += int(energy.examples or 0)
        sources.add(figure.source)
    if not examples:
        return None, "not_measured", "no examples were computed in the task windows (all resumed from samples.jsonl?)"
    return total / examples, ", ".join(sorted(sources)), None


def _pair(baseline: ModelResult, other: ModelResult, tasks: list[str], key: str, label: str) -> dict:
    if not tasks:
        return _cost(None, None, "not_measured", "no task both models ran")
    b, b_source, b_reason = _per_example(baseline, tasks, key)
    o, o_source, o_reason = _per_example(other, tasks, key)
    reason = "; ".join(f"{who}: {r}" for who, r in (("baseline", b_reason), ("other", o_reason)) if r) or None
    source = b_source if b_source == o_source else f"baseline {b_source}, other {o_source}"
    return _cost(b, o, f"{label} ({source})" if not reason else label, reason)


def _memory(model: ModelResult) -> tuple[float | None, str, str | None]:
    figure = model.peak_memory
    if figure is None:
        return None, "not_measured", "not recorded by this run (made before harness recorded peak memory)"
    if figure.value is None:
        return None, "not_measured", figure.reason or "not measured"
    return float(figure.value), figure.source, None


MODEL_MEMORY = "the model's parameter and buffer bytes (size.memory)"
PROCESS_PEAK = "process peak memory"


def _model_memory(model: ModelResult) -> tuple[float | None, str, str | None]:
    size = model.extra("size")
    memory = size.get("memory") if isinstance(size, dict) else None
    value = memory.get("value") if isinstance(memory, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None, "not_measured", "the run records no size.memory for this model (an adapter that reports none)"
    return float(value), MODEL_MEMORY, None


def _both(b_side, o_side, not_alike: str) -> dict:
    (b, b_source, b_reason), (o, o_source, o_reason) = b_side, o_side
    reason = "; ".join(f"{who}: {r}" for who, r in (("baseline", b_reason), ("other", o_reason)) if r) or None
    if not reason and b_source != o_source:
        return {**_cost(b, o, f"baseline {b_source}, other {o_source}", None), "ratio": None, "reason": not_alike}
    return _cost(b, o, b_source if not reason else "not_measured", reason)


def cost(baseline: ModelResult, other: ModelResult, tasks: list[str]) -> dict:
    """The comparison's ``cost`` object for two models' results.json entries, over ``tasks``."""
    peak = _both(_memory(baseline), _memory(other), "measured differently (GPU allocator vs process RSS): not comparable")
    if peak.get("source") and peak["source"] != "not_measured" and not peak["source"].startswith(PROCESS_PEAK):
        peak["source"] = f"{PROCESS_PEAK}: {peak['source']}"
    return {"j_per_example": _pair(baseline, other, tasks, "total_energy_j", "task windows' energy"),
            "latency_s_per_example": _pair(baseline, other, tasks, "duration_s", "task windows' seconds"),
            "model_memory_bytes": _both(_model_memory(baseline), _model_memory(other), "not comparable"),
            "peak_memory_bytes": peak,
            "tasks": list(tasks)}
