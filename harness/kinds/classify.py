"""classify: the label from the model's classifier head.

Labels are input: with ``labels:`` in the task YAML every example's label is checked against them at
load (``check_examples``: a typo such as "weathr" is exit 2 naming the file, the line and the close
match). Without it, the model's labels are the check once it has loaded (``check_model_labels``): a
task none of whose labels the model has is skipped for it (another label set); one whose labels the
model has but for a few fails that task, naming the first such line."""
from __future__ import annotations

from typing import Sequence

from harness.calibration import Forecast
from harness.data import Example
from harness.errors import HarnessError
from harness.kinds.base import Scored, text_value
from harness.requests import Classification, ClassifyRequest
from harness.spec import TaskConfig
from harness.suggest import did_you_mean


def unknown_labels(task: TaskConfig, examples: Sequence[Example], known: Sequence[str], whose: str) -> HarnessError | None:
    """The error naming the first example whose label is not in ``known`` (with the close match), or None."""
    bad = [(ex, label) for ex in examples if (label := text_value(task, ex, task.answer)) not in known]
    if not bad:
        return None
    example, label = bad[0]
    hint = did_you_mean(label, known, "", n=1, shown=repr)
    more = f" (and {len(bad) - 1} more example{'s' * (len(bad) > 2)})" if len(bad) > 1 else ""
    return HarnessError(f"task {task.name!r}: {example.where or example.describe()} is labelled {label!r}, which is not "
                        f"one of {whose} ({', '.join(known)}){more}",
                        f"{hint} fix that line" if hint else
                        f"fix the label, or add it to `labels:` in {task.source}")


def check_model_labels(task, model_labels: Sequence[str]) -> None:
    """Once the model has loaded (a task without ``labels:``): labels the model lacks beside ones it has are
    a data error of that task (a HarnessError: the task fails, exit 3)."""
    if not model_labels:
        return
    error = unknown_labels(task.config, task.examples, tuple(model_labels), "the model's labels")
    if error is not None:
        raise error


class Classify:
    name = "classify"
    request_type = ClassifyRequest
    answers = "label"                  # what a prediction is (metrics declare the answers they fit)
    reads = frozenset({"labels"})   # the kind-specific task keys it reads (kinds.base.KIND_KEYS)
    default_metrics = ("accuracy", "f1_macro")
    metric_views: dict = {}

    def target(self, task: TaskConfig, example: Example) -> str:
        return text_value(task, example, task.answer)

    def check_examples(self, task: TaskConfig, examples: Sequence[Example]) -> None:
        """At load: the declared ``labels:`` are distinct, and every example's label is one of them."""
        if not task.labels:
            return
        twice = sorted({label for label in task.labels if task.labels.count(label) > 1})
        if twice or "" in task.labels:
            raise HarnessError(f"task {task.name!r} ({task.source}): `labels:` holds "
                               f"{'the empty label' if '' in task.labels else repr(twice[0]) + ' twice'}",
                               "list each label once")
        error = unknown_labels(task, examples, task.labels, f"its `labels:` in {task.source}")
        if error is not None:
            raise error

    def requests(self, task: TaskConfig, example: Example, context: str) -> list[ClassifyRequest]:
        return [ClassifyRequest(context)]

    def score(self, task: TaskConfig, example: Example, responses: Sequence[Classification]) -> Scored:
        (result,) = responses
        reference = self.target(task, example)
        return Scored(prediction=result.label, reference=reference, scores={"correct": float(result.label == reference)},
                      details={"probs": result.probs})

    forecast_source = "the classifier's class probabilities (renormalized to sum to 1)"

    def forecast(self, record: dict) -> Forecast | None:
        """The calibration forecast of a stored record: its class probabilities, with the predicted and
        gold labels given probability 0 where the model left them out. None without probabilities."""
        probs = dict(record.get("details", {}).get("probs") or {})
        total = sum(probs.values())
        if not probs or total <= 0 or any(p < 0 for p in probs.values()):
            return None
        labels = sorted(set(probs) | {record["prediction"], record["reference"]})
        values = tuple(probs.get(label, 0.0) / total for label in labels)
        return Forecast(values, labels.index(record["prediction"]), labels.index(record["reference"]))
