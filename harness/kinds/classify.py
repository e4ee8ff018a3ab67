"""classify: the label from the model's classifier head."""
from __future__ import annotations

from typing import Sequence

from harness.calibration import Forecast
from harness.data import Example
from harness.kinds.base import Scored, text_value
from harness.requests import Classification, ClassifyRequest
from harness.spec import TaskConfig


class Classify:
    name = "classify"
    request_type = ClassifyRequest
    default_metrics = ("accuracy", "f1_macro")
    metric_views: dict = {}

    def target(self, task: TaskConfig, example: Example) -> str:
        return text_value(task, example, task.answer)

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
