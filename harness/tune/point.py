"""A measured configuration as `harness tune` reports it: its spec, quality with intervals, J/example
(and J per correct answer) with intervals across repeats, and its floor verdict. Pure: a Measured
and a Floor in, a JSON-ready dict out (tune.json's ``pareto``, ``best`` and ``trials`` entries).

J per correct answer is the energy of the selected tasks' examples over the answers a task's first
0/1 metric (accuracy, exact match) counts correct: J/example x examples / correct, the same factor
applied to every repeat, so its interval is J/example's scaled.
"""
from __future__ import annotations

from typing import Any

from harness.results.values import Figure

OBJECTIVES = ("j_per_example", "j_per_correct")


def _figure(figure: Figure, scale: float = 1.0, unit: str | None = None) -> dict:
    if figure.value is None:
        return {"value": None, "unit": unit or figure.unit, "source": figure.source, "reason": figure.reason}
    lo, hi = figure.ci95 if figure.ci95 is not None else (None, None)
    return {"value": figure.value * scale, "unit": unit or figure.unit, "source": figure.source,
            "ci95": [None if lo is None else lo * scale, None if hi is None else hi * scale], "cv": figure.cv,
            "repeats": figure.repeats, "per_repeat": [v * scale for v in (figure.per_repeat or [])]}


def _correct(measured, tasks: tuple[str, ...]) -> tuple[int, int, str | None]:
    """(examples, correct answers, reason when not countable) over ``tasks``."""
    from harness.compare.measures import is_binary_metric
    examples = correct = 0
    for name in tasks:
        task = measured.tasks.get(name)
        if task is None:
            return 0, 0, f"task {name} has no result"
        binary = next((m for m in task.metrics if is_binary_metric(task.kind, m)), None)
        value = task.metrics[binary] if binary else None
        if value is None or value.value is None or not value.n:
            return 0, 0, f"task {name} has no 0/1 metric to count correct answers by"
        examples += value.n
        correct += round(value.value * value.n)
    return examples, correct, None


def j_per_correct(measured, tasks: tuple[str, ...]) -> dict:
    per_example = measured.j_per_example
    examples, correct, reason = _correct(measured, tasks)
    if per_example.value is None:
        return {"value": None, "unit": "J/correct", "source": per_example.source, "reason": per_example.reason}
    if reason or not correct:
        return {"value": None, "unit": "J/correct", "source": per_example.source,
                "reason": reason or "no answer was correct"}
    return _figure(per_example, examples / correct, "J/correct") | {"examples": examples, "correct": correct}


def quality(measured, tasks: tuple[str, ...]) -> dict:
    """Every metric of the selected tasks: value, 95% interval (bootstrap), n."""
    return {task: {name: {"value": m.value, "ci95": list(m.ci95) if m.ci95 else [None, None], "n": m.n,
                          "higher_is_better": m.higher_is_better}
                   for name, m in measured.quality.get(task, {}).items()} for task in tasks}


def headline(q: dict) -> tuple[float | None, list[float | None]]:
    """The front's quality axis: the mean over tasks of each task's first metric, and the mean of
    their interval bounds."""
    firsts = [next(iter(metrics.values())) for metrics in q.values() if metrics]
    values = [f["value"] for f in firsts]
    if not firsts or any(v is None for v in values):
        return None, [None, None]
    bounds = [[f["ci95"][i] for f in firsts] for i in (0, 1)]
    return sum(values) / len(values), [None if None in b else sum(b) / len(b) for b in bounds]


def point_of(measured, floor, *, spec: str, config: dict, command: str, tasks: tuple[str, ...], run_dir: str,
             trial: int | None) -> dict[str, Any]:
    q = quality(measured, tasks)
    mean, interval = headline(q)
    return {"trial": trial, "spec": spec, "config": config, "command": command, "run_dir": run_dir,
            "quality": q, "quality_mean": mean, "quality_ci95": interval,
            "j_per_example": _figure(measured.j_per_example), "j_per_correct": j_per_correct(measured, tasks),
            "floor": floor.to_json() if floor is not None else {"passed": True, "reason": "the full model itself"},
            "feasible": True if floor is None else floor.passed}
