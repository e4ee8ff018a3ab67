"""The TaskKind protocol: how a kind of task turns an example into requests and scores the answers."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping, Protocol, Sequence

from harness.data import Example
from harness.errors import HarnessError
from harness.prompts import Template
from harness.requests import Request, Response
from harness.spec import TaskConfig


@dataclass(frozen=True)
class MetricSpec:
    """Report ``name`` by applying registered metric ``metric`` to the ``view`` of each prediction;
    ``options`` configure it (e.g. (("tokenize", "zh"),) for BLEU; see AdditiveMetric.configured)."""
    name: str
    metric: str
    view: str = "prediction"
    options: tuple[tuple[str, str], ...] = ()

    def resolve(self) -> Any:
        """The metric class, configured with the options."""
        from harness.plugins import METRICS
        metric = METRICS.get(self.metric)
        return metric.configured(**dict(self.options)) if self.options else metric


@dataclass(frozen=True)
class Scored:
    prediction: str
    reference: str
    scores: Mapping[str, float] = field(default_factory=dict)   # per-example numbers, e.g. correct
    views: Mapping[str, str] = field(default_factory=dict)      # other predictions metrics may read
    details: Mapping[str, Any] = field(default_factory=dict)    # e.g. per-choice log-likelihoods

    def view(self, name: str) -> str:
        return self.prediction if name == "prediction" else self.views[name]


class TaskKind(Protocol):
    name: ClassVar[str]
    request_type: ClassVar[type]
    default_metrics: ClassVar[tuple[str, ...]]
    metric_views: ClassVar[Mapping[str, MetricSpec]]   # metric names that read a view other than `prediction`
    # optional, checked at load (check_fit): ``answers`` - what a prediction is ("choice", "label", "text",
    # "document"), matched against each metric's ``fits``; ``reads`` - which of KIND_KEYS the kind reads

    def target(self, task: TaskConfig, example: Example) -> str:
        """The gold answer's text (used for few-shot shots and the record)."""

    def requests(self, task: TaskConfig, example: Example, context: str) -> list[Request]:
        """What the model must answer for this example, given the rendered context."""

    def score(self, task: TaskConfig, example: Example, responses: Sequence[Response]) -> Scored:
        """Turn the model's responses into a prediction and per-example scores."""


def metric_specs(kind: TaskKind, task: TaskConfig) -> list[MetricSpec]:
    """The task's metrics; a task's ``tokenize`` goes to the metrics that tokenize words (BLEU)."""
    from harness.plugins import METRICS
    names = task.metrics or kind.default_metrics
    specs = [kind.metric_views.get(n, MetricSpec(n, n)) for n in names]
    if task.tokenize:
        specs = [dataclasses.replace(s, options=(("tokenize", task.tokenize),))
                 if "tokenize" in METRICS.get(s.metric).options else s for s in specs]
    return specs


# task keys that only some kinds read, with their defaults: set on a kind that does not read them, they do nothing
KIND_KEYS: Mapping[str, Any] = {"choices": "choices", "answer_type": "", "labels": (), "stop": ("\n",), "max_tokens": 64,
                                "normalize": "", "stride": None}


def _kinds_where(test) -> str:
    from harness.plugins import TASK_KINDS
    found = []
    for name in TASK_KINDS.names():
        try:
            if test(TASK_KINDS.get(name)):
                found.append(name)
        except HarnessError:             # a plugin kind that does not load names nothing here
            continue
    return ", ".join(found) or "no registered"


def check_fit(kind: TaskKind, task: TaskConfig, specs: Sequence[MetricSpec]) -> None:
    """Refuses, at load, what would give numbers built from the wrong thing or do nothing: a metric that
    does not fit the kind's predictions (accuracy on perplexity, BLEU on multiple choice), a kind-specific
    key the kind never reads (``normalize`` on classify), ``tokenize`` that no metric of the task uses."""
    from harness.plugins import METRICS
    owner = f"task {task.name!r} ({task.source})"
    reads = getattr(kind, "reads", None)
    for key, default in KIND_KEYS.items():
        if reads is not None and key not in reads and getattr(task, key) != default:
            readers = _kinds_where(lambda k: key in (getattr(k, "reads", None) or ()))
            raise HarnessError(f"{owner}: `{key}` does nothing in a {kind.name} task (only {readers} tasks read it)",
                               f"remove `{key}:` from {task.source}")
    if task.tokenize and not any("tokenize" in METRICS.get(s.metric).options for s in specs):
        raise HarnessError(f"{owner}: `tokenize: {task.tokenize}` does nothing: none of its metrics "
                           f"({', '.join(s.name for s in specs)}) tokenizes words (bleu does)",
                           f"remove `tokenize:` from {task.source}, or list bleu under `metrics:`")
    answers = getattr(kind, "answers", None)
    for spec in specs:
        fits = getattr(METRICS.get(spec.metric), "fits", None)
        if answers is None or fits is None or answers in fits:
            continue
        fitting = _kinds_where(lambda k: getattr(k, "answers", None) in fits)
        raise HarnessError(f"{owner}: metric {spec.name!r} does not fit a {kind.name} task (its predictions are "
                           f"{answers}s); {spec.name} fits {fitting} tasks",
                           f"use the {kind.name} kind's metrics ({', '.join(kind.default_metrics)}), or leave "
                           "`metrics:` out for them")


def build_context(task: TaskConfig, kind: TaskKind, example: Example, shots: Sequence[Example]) -> str:
    def render(ex: Example) -> str:
        return Template(task.prompt, owner=f"task {task.name!r}, {ex.describe()}").render(ex.fields)
    parts = [render(s) + task.target_delimiter + kind.target(task, s) for s in shots]
    parts.append(render(example))
    return task.fewshot_delimiter.join(parts)


def field_value(task: TaskConfig, example: Example, key: str) -> Any:
    """The field's value; a missing or null field is refused, naming the example and its line."""
    if key not in example.fields:
        raise HarnessError(f"task {task.name!r}: {example.describe()} has no field {key!r}",
                           f"add it to the data or change the field name in {task.source}")
    value = example.fields[key]
    if value is None:
        raise HarnessError(f"task {task.name!r}: {example.describe()} field {key!r} is null",
                           "give it a value, or leave the example out of the data")
    return value


def text_value(task: TaskConfig, example: Example, key: str) -> str:
    """A reference or label: a string, or a whole number read as its digits. Anything else (null,
    true, 1.5, a list) is refused rather than compared as its Python spelling ("None", "True")."""
    value = field_value(task, example, key)
    if type(value) not in (str, int):
        raise HarnessError(f"task {task.name!r}: {example.describe()} field {key!r} is {value!r} "
                           f"(a {type(value).__name__}), not a text", "write it as a string")
    return str(value)
