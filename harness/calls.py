"""Calling a model adapter: which method answers a request kind, and the guard that holds every
answer to the protocol (harness/requests.py): one response of the right type per request, with a
float log-likelihood, a str text or label, float probabilities and int token counts. A model that
raises or answers otherwise is a ModelFault naming the model and the task or probe - the model's
fault, not the harness's. Answers are handed on in plain Python types (numpy floats would not
serialize). A NaN or infinite number is not a fault but an invalid answer (``invalid_response``):
it is stored and counted, never scored; so is a positive log-likelihood (no probability exceeds 1)."""
from __future__ import annotations

import math
import numbers
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from harness.errors import HarnessError, ModelFault
from harness.models.base import ModelAdapter
from harness.models.device import is_out_of_memory
from harness.models.errors import InputTooLong
from harness.requests import (Classification, ClassifyRequest, Generation, GenerateRequest, Loglikelihood,
                              LoglikelihoodRequest, LoglikelihoodRollingRequest, Request, Response)

RESPONSE_TYPES = {LoglikelihoodRequest: Loglikelihood, LoglikelihoodRollingRequest: Loglikelihood,
                  GenerateRequest: Generation, ClassifyRequest: Classification}
REQUEST_METHODS = {LoglikelihoodRequest: "loglikelihood", LoglikelihoodRollingRequest: "loglikelihood_rolling",
                   GenerateRequest: "generate", ClassifyRequest: "classify"}
_FIX = "return what harness/models/base.py documents: a list with one {} per request (see harness/requests.py)"


def answer_method(adapter: ModelAdapter, request_type: type) -> Callable[[list[Request]], list[Response]]:
    return getattr(adapter, REQUEST_METHODS[request_type])


@contextmanager
def blamed_on(model_name: str, what: str, method: str = "") -> Iterator[None]:
    """Whatever the model raises inside is a ModelFault naming it; out-of-memory errors pass through
    unchanged, for the batch sizer to retry smaller."""
    try:
        yield
    except InputTooLong as exc:
        if exc.max_new_tokens:
            raise ModelFault(f"{what}: a prompt of {exc.n_tokens - exc.max_new_tokens} tokens plus max_tokens "
                             f"{exc.max_new_tokens} to generate needs {exc.n_tokens} positions but model {model_name!r} "
                             f"accepts {exc.limit}", "lower `max_tokens` in the task YAML (or shorten the prompt)",
                             model_name, what) from None
        raise ModelFault(f"{what}: an input is {exc.n_tokens} tokens but model {model_name!r} accepts "
                         f"{exc.limit}", "shorten the prompt, lower `fewshot.num`, or use --limit to skip it",
                         model_name, what, one_item=True) from None
    except ModelFault:
        raise
    except HarnessError as exc:
        raise ModelFault(f"model {model_name!r} on {what}: {exc.problem}", exc.fix, model_name, what) from None
    except KeyboardInterrupt:          # Ctrl-C and SIGTERM (Terminated) stop the run, whoever was running
        raise
    except BaseException as exc:       # SystemExit too: a model calling sys.exit() must not end the audit as exit 0
        if is_out_of_memory(exc):
            raise
        raise ModelFault(f"model {model_name!r} raised {type(exc).__name__}{f' in {method}' if method else ''} on "
                         f"{what}: {exc}", "fix the model, or leave the task out with --tasks (probes with --probes)",
                         model_name, what, systemic=bool(getattr(exc, "systemic", False))) from None


def guarded(call: Callable, model_name: str, what: str) -> Callable[[list[Request]], list[Response]]:
    """``what`` names the work, e.g. "task 'toylang'" or "probe 'robustness'"."""
    def guarded_call(requests: list[Request]) -> list[Response]:
        with blamed_on(model_name, what):
            responses = call(requests)
        expected = RESPONSE_TYPES[type(requests[0])].__name__ if requests else "answer"
        if not isinstance(responses, (list, tuple)):
            raise ModelFault(f"model {model_name!r} answered {what} with a {type(responses).__name__}, not a list of "
                             f"{expected}", _FIX.format(expected), model_name, what)
        if len(responses) != len(requests):
            raise ModelFault(f"model {model_name!r} gave {len(responses)} answers to {len(requests)} requests on {what}",
                             "return one answer per request from the adapter", model_name, what)
        try:
            return [plain(request, response) for request, response in zip(requests, responses)]
        except ValueError as exc:
            raise ModelFault(f"model {model_name!r} answered {what} with {exc}", _FIX.format(expected),
                             model_name, what) from None
    return guarded_call


def _real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _whole(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)) and value >= 0


def _text(value: Any) -> bool:
    """A str that can be written as UTF-8: a lone surrogate ("\ud800") cannot, and would stop the
    run when its record is appended to samples.jsonl."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _need(ok: bool, name: str, value: Any, want: str) -> None:
    if not ok:
        raise ValueError(f"{name}={value!r} ({type(value).__name__}), not {want}")


def plain(request: Request, response: Any) -> Response:
    """``response`` in plain Python types; ValueError saying what is wrong when it breaks the protocol."""
    expected = RESPONSE_TYPES[type(request)]
    if not isinstance(response, expected):
        raise ValueError(f"a {type(response).__name__} for a {REQUEST_METHODS[type(request)]} request, "
                         f"not a {expected.__name__}")
    if expected is Loglikelihood:
        _need(_real(response.logprob), "logprob", response.logprob, "a float")
        _need(isinstance(response.is_greedy, (bool, np.bool_)), "is_greedy", response.is_greedy, "a bool")
        _need(_whole(response.n_tokens), "n_tokens", response.n_tokens, "a whole number")
        return Loglikelihood(float(response.logprob), bool(response.is_greedy), int(response.n_tokens))
    if expected is Generation:
        _need(_text(response.text), "text", response.text, "a str of valid Unicode (no lone surrogate)")
        _need(_whole(response.n_tokens), "n_tokens", response.n_tokens, "a whole number")
        return Generation(str(response.text), int(response.n_tokens))
    _need(_text(response.label), "label", response.label, "a str of valid Unicode (no lone surrogate)")
    probs = response.probs
    _need(isinstance(probs, dict) and all(_text(k) and _real(v) for k, v in probs.items()),
          "probs", probs, "a dict of label -> float")
    return Classification(str(response.label), {str(k): float(v) for k, v in probs.items()})


MAX_LOGPROB = 1e-4        # a log-probability is <= 0; the margin allows a server's rounding of a certain token


def invalid_response(responses: Sequence[Response]) -> str | None:
    """Why these (protocol-checked) answers cannot be scored - a NaN or infinite number - or None."""
    for response in responses:
        if isinstance(response, Loglikelihood) and not math.isfinite(response.logprob):
            return f"non-finite log-likelihood ({response.logprob})"
        if isinstance(response, Loglikelihood) and response.logprob > MAX_LOGPROB:
            return f"positive log-likelihood ({response.logprob:g}; a log-probability is at most 0)"
        if isinstance(response, Classification):
            for value in response.probs.values():
                if not math.isfinite(value):
                    return f"non-finite class probability ({value})"
    return None


def token_counter(adapter: ModelAdapter, model_name: str, what: str) -> Callable[[str], int]:
    """``adapter.token_count``, held to the protocol: a whole number, or a ModelFault naming the model."""
    def count(text: str) -> int:
        with blamed_on(model_name, what, "token_count"):
            n = adapter.token_count(text)
        if not _whole(n):
            raise ModelFault(f"model {model_name!r}: token_count gave {n!r} ({type(n).__name__}) on {what}, "
                             "not a whole number", "return len(tokenizer(text)) or similar from token_count",
                             model_name, what)
        return int(n)
    return count


class GuardedAdapter:
    """The adapter as a probe sees it: the request methods are ``guarded``, token_count is checked,
    and any other method (embed, token_ids, pseudo_loglikelihood) that raises is a ModelFault."""

    def __init__(self, adapter: ModelAdapter, model_name: str, what: str):
        self._adapter, self._model, self._what = adapter, model_name, what
        self.token_count = token_counter(adapter, model_name, what)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._adapter, name)
        if name.startswith("_") or not callable(value):
            return value
        if name in REQUEST_METHODS.values():
            return guarded(value, self._model, self._what)
        return _raising_is_a_fault(value, self._model, self._what)


def _raising_is_a_fault(method: Callable, model_name: str, what: str) -> Callable:
    def call(*args, **kwargs):
        with blamed_on(model_name, what, method.__name__):
            return method(*args, **kwargs)
    return call
