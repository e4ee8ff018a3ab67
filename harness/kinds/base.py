"""The TaskKind protocol: how a kind of task turns an example into requests and scores the answers."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping, Protocol, Sequence

from harness.data import Example
from harness.prompts import Template
from harness.requests import Request, Response
from harness.spec import TaskConfig


@dataclass(frozen=True)
class MetricSpec:
    """Report ``name`` by applying registered metric ``metric`` to the ``view`` of each prediction."""
    name: str
    metric: str
    view: str = "prediction"


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
    names = task.metrics or kind.default_metrics
    return [kind.metric_views.get(n, MetricSpec(n, n)) for n in names]


def build_context(task: TaskConfig, kind: TaskKind, example: Example, shots: Sequence[Example]) -> str:
    prompt = Template(task.prompt, owner=f"task {task.name!r}")
    parts = [prompt.render(s.fields) + task.target_delimiter + kind.target(task, s) for s in shots]
    parts.append(prompt.render(example.fields))
    return task.fewshot_delimiter.join(parts)


def field_value(task: TaskConfig, example: Example, key: str) -> Any:
    from harness.errors import HarnessError
    if key not in example.fields:
        raise HarnessError(f"task {task.name!r}: example {example.id!r} has no field {key!r}",
                           f"add it to the data or change the field name in {task.source}")
    return example.fields[key]
