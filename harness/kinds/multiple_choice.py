"""multiple_choice: the log-likelihood of each choice given the context; the most likely choice wins.

accuracy reads the raw sums; accuracy_norm divides each sum by the choice's length in characters
(lm-evaluation-harness's acc_norm), which removes the bias towards short choices.
"""
from __future__ import annotations

from typing import Sequence

from harness.data import Example
from harness.errors import HarnessError
from harness.kinds.base import MetricSpec, Scored, field_value
from harness.plugins import TASK_KINDS
from harness.requests import Loglikelihood, LoglikelihoodRequest
from harness.spec import TaskConfig


@TASK_KINDS.register("multiple_choice")
class MultipleChoice:
    name = "multiple_choice"
    request_type = LoglikelihoodRequest
    default_metrics = ("accuracy", "accuracy_norm")
    metric_views = {"accuracy_norm": MetricSpec("accuracy_norm", "accuracy", "prediction_norm")}

    def choices(self, task: TaskConfig, example: Example) -> list[str]:
        choices = field_value(task, example, task.choices)
        if not isinstance(choices, list) or len(choices) < 2:
            raise HarnessError(f"task {task.name!r}: example {example.id!r} field {task.choices!r} is not a list of 2+ choices",
                               "give every example a list of choices")
        return [str(c) for c in choices]

    def gold_index(self, task: TaskConfig, example: Example) -> int:
        choices = self.choices(task, example)
        answer = field_value(task, example, task.answer)
        if isinstance(answer, str) and not answer.isdigit():
            if answer not in choices:
                raise HarnessError(f"task {task.name!r}: example {example.id!r} answer {answer!r} is not among its choices",
                                   "make the answer a choice index or one of the choices")
            return choices.index(answer)
        index = int(answer)
        if not 0 <= index < len(choices):
            raise HarnessError(f"task {task.name!r}: example {example.id!r} answer index {index} is out of range",
                               f"use an index from 0 to {len(choices) - 1}")
        return index

    def target(self, task: TaskConfig, example: Example) -> str:
        return self.choices(task, example)[self.gold_index(task, example)]

    def requests(self, task: TaskConfig, example: Example, context: str) -> list[LoglikelihoodRequest]:
        return [LoglikelihoodRequest(context, task.target_delimiter + c) for c in self.choices(task, example)]

    def score(self, task: TaskConfig, example: Example, responses: Sequence[Loglikelihood]) -> Scored:
        choices = self.choices(task, example)
        gold = self.gold_index(task, example)
        logprobs = [r.logprob for r in responses]
        normalized = [lp / max(1, len(task.target_delimiter + c)) for lp, c in zip(logprobs, choices)]
        best = max(range(len(choices)), key=logprobs.__getitem__)
        best_norm = max(range(len(choices)), key=normalized.__getitem__)
        return Scored(prediction=choices[best], reference=choices[gold],
                      scores={"correct": float(best == gold), "correct_norm": float(best_norm == gold)},
                      views={"prediction_norm": choices[best_norm]},
                      details={"logprobs": logprobs, "is_greedy": [r.is_greedy for r in responses]})
