"""multiple_choice: the log-likelihood of each choice given the context; the most likely choice wins.

accuracy reads the raw sums; accuracy_norm divides each sum by the length in characters of the
choice text alone, without the target delimiter the request puts before it (exactly
lm-evaluation-harness 0.4's acc_norm: argmax of ll / len(choice)), which removes the bias towards
short choices. An empty choice never wins accuracy_norm (lm-eval's ll / 0 = -inf).
"""
from __future__ import annotations

import json
import math
from typing import Sequence

from harness.calibration import Forecast, softmax
from harness.data import Example
from harness.errors import HarnessError
from harness.kinds.base import MetricSpec, Scored, field_value
from harness.requests import Loglikelihood, LoglikelihoodRequest
from harness.spec import TaskConfig


class MultipleChoice:
    name = "multiple_choice"
    request_type = LoglikelihoodRequest
    answers = "choice"                  # what a prediction is (metrics declare the answers they fit)
    reads = frozenset({"choices", "answer_type"})   # the kind-specific task keys it reads (kinds.base.KIND_KEYS)
    default_metrics = ("accuracy", "accuracy_norm")
    metric_views = {"accuracy_norm": MetricSpec("accuracy_norm", "accuracy", "prediction_norm")}

    def choices(self, task: TaskConfig, example: Example) -> list[str]:
        """The choice texts: a list of strings, or (a CSV cell) a JSON list of strings."""
        choices = field_value(task, example, task.choices)
        owner = f"task {task.name!r}: {example.describe()} field {task.choices!r}"
        if isinstance(choices, str):
            try:
                choices = json.loads(choices)
            except ValueError:
                raise HarnessError(f"{owner} is text that is not a JSON list: {choices[:60]!r}",
                                   'write the cell as a JSON list, e.g. ["red", "green"]') from None
        if not isinstance(choices, list) or len(choices) < 2:
            raise HarnessError(f"{owner} is not a list of 2+ choices", "give every example a list of choices")
        for i, choice in enumerate(choices):
            if not isinstance(choice, str):
                raise HarnessError(f"{owner}: choice {i} is {choice!r} (a {type(choice).__name__}), not a text",
                                   'write every choice as a string, e.g. ["1", "2"]')
        twice = next((c for i, c in enumerate(choices) if c in choices[:i]), None)
        if twice is not None:
            raise HarnessError(f"{owner}: the choice {twice[:80]!r} is given twice (identical choices score alike, so "
                               "the first always wins)", "make the choices distinct, or leave the example out")
        return choices

    def gold_index(self, task: TaskConfig, example: Example) -> int:
        """An int answer is a choice's position, a string answer one of the choice texts (``answer_type``
        in the task YAML fixes one reading: `index` also takes digit strings, as CSV cells are text).
        Anything else - a bool, a float, a position out of range, a text that is no choice - is refused."""
        choices = self.choices(task, example)
        answer = field_value(task, example, task.answer)
        owner = f"task {task.name!r}: {example.describe()} answer {answer!r}"
        reading = task.answer_type or {int: "index", str: "text"}.get(type(answer))
        if reading == "index" and isinstance(answer, str) and answer.isascii() and answer.strip().isdigit():
            answer = int(answer)
        if reading == "index" and type(answer) is int:
            if not 0 <= answer < len(choices):
                raise HarnessError(f"{owner} is out of range for {len(choices)} choices",
                                   f"use an index from 0 to {len(choices) - 1}")
            return answer
        if reading == "text" and type(answer) is str:
            if answer not in choices:
                raise HarnessError(f"{owner} is not among its choices {choices}",
                                   "make the answer one of the choice texts exactly, or an int index")
            return choices.index(answer)
        given = f" (answer_type: {task.answer_type})" if task.answer_type else ""
        raise HarnessError(f"{owner} is of type {type(answer).__name__}{given}; an answer is a choice's index (an int) or "
                           "its text (a string)", "write the answer as an int index or as one of the choice texts; "
                           "set `answer_type: index` or `text` in the task YAML to fix one reading")

    def target(self, task: TaskConfig, example: Example) -> str:
        return self.choices(task, example)[self.gold_index(task, example)]

    def requests(self, task: TaskConfig, example: Example, context: str) -> list[LoglikelihoodRequest]:
        return [LoglikelihoodRequest(context, task.target_delimiter + c) for c in self.choices(task, example)]

    def score(self, task: TaskConfig, example: Example, responses: Sequence[Loglikelihood]) -> Scored:
        choices = self.choices(task, example)
        gold = self.gold_index(task, example)
        logprobs = [r.logprob for r in responses]
        normalized = [lp / len(c) if c else -math.inf for lp, c in zip(logprobs, choices)]
        best = max(range(len(choices)), key=logprobs.__getitem__)
        best_norm = max(range(len(choices)), key=normalized.__getitem__)
        return Scored(prediction=choices[best], reference=choices[gold],
                      scores={"correct": float(best == gold), "correct_norm": float(best_norm == gold)},
                      views={"prediction_norm": choices[best_norm]},
                      details={"logprobs": logprobs, "is_greedy": [r.is_greedy for r in responses], "gold": gold,
                               "choices": choices})       # part of the exact input that items pair on

    forecast_source = "softmax over the choices' summed log-likelihoods"

    def forecast(self, record: dict) -> Forecast | None:
        """The calibration forecast (harness.calibration) of a stored record: softmax over its choices'
        log-likelihoods; the prediction is their argmax, as for accuracy. None for records without the
        gold index (written before it was kept)."""
        details = record.get("details", {})
        logprobs, gold = details.get("logprobs"), details.get("gold")
        if not logprobs or gold is None:
            return None
        return Forecast(softmax(logprobs), max(range(len(logprobs)), key=logprobs.__getitem__), int(gold))
