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
