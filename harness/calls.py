"""Calling a model adapter: which method answers a request kind, and the guard that turns a
model's exceptions into one-line errors naming the task or probe."""
from __future__ import annotations

from typing import Callable

from harness.errors import HarnessError
from harness.models.base import ModelAdapter
from harness.models.device import is_out_of_memory
from harness.models.errors import InputTooLong
from harness.requests import ClassifyRequest, GenerateRequest, LoglikelihoodRequest, Request, Response


def answer_method(adapter: ModelAdapter, request_type: type) -> Callable[[list[Request]], list[Response]]:
    return {LoglikelihoodRequest: adapter.loglikelihood, GenerateRequest: adapter.generate,
            ClassifyRequest: adapter.classify}[request_type]


def guarded(call: Callable, model_name: str, what: str) -> Callable[[list[Request]], list[Response]]:
    """``what`` names the work, e.g. "task 'toylang'" or "probe 'robustness'"."""
    def guarded_call(requests: list[Request]) -> list[Response]:
        try:
            responses = call(requests)
        except InputTooLong as exc:
            raise HarnessError(f"{what}: an input is {exc.n_tokens} tokens but model {model_name!r} accepts "
                               f"{exc.limit}", "shorten the prompt, lower `fewshot.num`, or use --limit to skip it") from None
        except HarnessError:
            raise
        except Exception as exc:
            if is_out_of_memory(exc):
                raise
            raise HarnessError(f"model {model_name!r} raised {type(exc).__name__} on {what}: {exc}",
                               "fix the model, or leave the task out with --tasks (probes with --probes)") from None
        if len(responses) != len(requests):
            raise HarnessError(f"model {model_name!r} gave {len(responses)} answers to {len(requests)} requests",
                               "return one answer per request from the adapter")
        return responses
    return guarded_call
