"""The TaskKind of one lm-eval task: its Instances as our requests, and its own filters and
``process_results`` on our answers, exactly as lm-eval's evaluator applies them, one document at a
time (``harness.runner`` stores each document's record as soon as its answers are in).

A record keeps every per-item value lm-eval's ``process_results`` returned, under readable keys:
the metric's name for lm-eval's default filter "none" (``acc``), ``metric[filter]`` for a named
filter (``exact_match[strict-match]``). Numbers go to ``scores``; anything else (BLEU's
(reference, prediction) pairs, perplexity's (log-likelihood, words)) to
``details.lm_eval.values`` as JSON. ``details.lm_eval.metrics`` lists the keys, in lm-eval's order.
"""
from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, ClassVar, Sequence

import numpy as np

from harness.calibration import Forecast, softmax
from harness.errors import HarnessError
from harness.kinds.base import Scored
from harness.lmeval import KIND_PREFIX
from harness.lmeval.translate import REQUEST_TYPES, lm_eval_response, request_of
from harness.requests import Request, Response

NO_FILTER = "none"                   # lm-eval's name for the default take_first filter


def metric_key(metric: str, filter_name: str) -> str:
    return metric if filter_name == NO_FILTER else f"{metric}[{filter_name}]"


def parse_key(key: str) -> tuple[str, str]:
    """(metric, filter) of a readable key: ``acc`` -> (acc, none); ``exact_match[flex]`` -> (exact_match, flex)."""
    if key.endswith("]") and "[" in key:
        metric, _, rest = key.partition("[")
        return metric, rest[:-1]
    return key, NO_FILTER


def jsonable(value: Any, where: str) -> Any:
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [jsonable(v, where) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v, where) for k, v in value.items()}
    raise HarnessError(f"{where} is a {type(value).__name__}, which a record cannot hold",
                       "use a metric whose per-item values are numbers, strings or lists of them")


def _number(value: Any) -> float | None:
    if isinstance(value, (bool, np.bool_)):
        return float(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    return None


class LmEvalKind:
    """One lm-eval task (a ConfigurableTask after ``build_all_requests``) as a harness task kind."""
    metric_views: ClassVar[dict] = {}
    default_metrics: ClassVar[tuple[str, ...]] = ()

    def __init__(self, task, instances: dict[str, list], stop: tuple[str, ...] = (), max_tokens: int = 0):
        self.task = task
        self.output_type: str = task.OUTPUT_TYPE
        self.name = KIND_PREFIX + self.output_type
        self.request_type = REQUEST_TYPES[self.output_type]
        self.instances = instances                    # example id -> the document's Instances, by idx
        self.stop, self.max_tokens = stop, max_tokens
        self.has_choices = task.config.doc_to_choice is not None

    # --- the TaskKind protocol ------------------------------------------------------------------

    def requests(self, config, example, context: str) -> list[Request]:
        return [request_of(i, self.stop, self.max_tokens) for i in self.instances[example.id]]

    def target(self, config, example) -> str:
        return self._reference(example.fields, self._choices(example.fields))

    def score(self, config, example, responses: Sequence[Response]) -> Scored:
        """lm-eval's filters and process_results on one document; an error in them (the task's code)
        fails this task as one piece of the run, naming the document."""
        try:
            return self._score(example, responses)
        except HarnessError:
            raise
        except Exception as exc:
            raise HarnessError(f"lm-eval task {self.task.task_name!r} failed to score {example.describe()}: "
                               f"{type(exc).__name__}: {str(exc)[:300]}",
                               "fix the task's filters or process_results, or leave the task out") from None

    def _score(self, example, responses: Sequence[Response]) -> Scored:
        doc = example.fields
        copies = [dataclasses.replace(i, resps=[], filtered_resps={}) for i in self.instances[example.id]]
        for copy, response in zip(copies, responses, strict=True):
            copy.resps = [lm_eval_response(copy.request_type, response)] * max(1, copy.repeats or 1)
        for ensemble in self.task._filters:
            ensemble.apply(copies)
        keys, scores, values = [], {}, {}
        for filter_name in copies[0].filtered_resps:
            metrics = self.task.process_results(doc, [c.filtered_resps[filter_name] for c in copies])
            for metric, value in metrics.items():
                key = metric_key(metric, filter_name)
                keys.append(key)
                number = _number(value)
                if number is None:
                    values[key] = jsonable(value, f"lm-eval task {self.task.task_name!r}: {metric} on document {example.id}")
                else:
                    scores[key] = number
        choices = self._choices(doc)
        details: dict[str, Any] = {"lm_eval": {"metrics": keys, "values": values}}
        prediction = ""
        if self.output_type == "generate_until":
            first = copies[0].filtered_resps
            details["lm_eval"]["filtered"] = {k: jsonable(v, "a filtered response") for k, v in first.items()}
            shown = first.get(NO_FILTER, next(iter(first.values()), ""))
            prediction = shown if isinstance(shown, str) else json.dumps(jsonable(shown, "a response"), ensure_ascii=False)
            scores["generated_tokens"] = float(sum(r.n_tokens for r in responses))
        elif self.output_type == "multiple_choice":
            logprobs = [r.logprob for r in responses]
            details.update(logprobs=logprobs, is_greedy=[r.is_greedy for r in responses])
            shown = logprobs[:len(choices)] if choices else logprobs
            best = max(range(len(shown)), key=shown.__getitem__)
            prediction = choices[best] if choices and best < len(choices) else str(best)
            gold = self._gold(doc)
            if isinstance(gold, int):
                details["gold"] = gold
        elif self.output_type == "loglikelihood":
            details.update(logprob=responses[0].logprob, is_greedy=responses[0].is_greedy)
        if choices is not None:
            details["choices"] = choices           # part of the exact input that items pair on
        return Scored(prediction=prediction, reference=self._reference(doc, choices), scores=scores, details=details)

    # --- calibration (multiple choice) ------------------------------------------------------------

    forecast_source = "softmax over the choices' summed log-likelihoods (lm-eval's lls)"

    def forecast(self, record: dict) -> Forecast | None:
        details = record.get("details", {})
        choices, gold = details.get("choices"), details.get("gold")
        logprobs = (details.get("logprobs") or [])[:len(choices or ())]
        if not logprobs or gold is None or not 0 <= gold < len(logprobs) or not all(map(math.isfinite, logprobs)):
            return None
        return Forecast(softmax(logprobs), max(range(len(logprobs)), key=logprobs.__getitem__), int(gold))

    # --- the document's answer ------------------------------------------------------------------

    def _choices(self, doc) -> list[str] | None:
        if not self.has_choices:
            return None
        choices = self.task.doc_to_choice(doc)
        return [str(c) for c in choices] if isinstance(choices, (list, tuple)) else None

    def _gold(self, doc) -> Any:
        return self.task.doc_to_text(doc) if self.task.multiple_input else self.task.doc_to_target(doc)

    def _reference(self, doc, choices: list[str] | None) -> str:
        if self.output_type == "loglikelihood_rolling":
            return ""
        gold = self._gold(doc) if self.output_type == "multiple_choice" else self.task.doc_to_target(doc)
        if choices and isinstance(gold, str) and gold.isdigit() and not self.task.multiple_input:
            gold = int(gold)
        if choices and isinstance(gold, int) and 0 <= gold < len(choices):
            return choices[gold]
        return gold if isinstance(gold, str) else json.dumps(jsonable(gold, "a target"), ensure_ascii=False)
