"""What the runner asks of a model, and what comes back: small frozen values, one per request kind."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union


@dataclass(frozen=True)
class LoglikelihoodRequest:
    """log P(continuation | context), summed over the continuation's tokens."""
    context: str
    continuation: str


@dataclass(frozen=True)
class LoglikelihoodRollingRequest:
    """log P(text), summed over every token of ``text`` with no context: a document longer than the
    model's window is scored in rolling windows (lm-evaluation-harness's ``loglikelihood_rolling``).
    Each window holds at most the model's limit of tokens and predicts ``stride`` new ones, seeing
    the tokens before them as context; ``stride=None`` is the whole window (lm-eval's disjoint
    windows, each conditioned on one token of the previous window)."""
    text: str
    stride: int | None = None


@dataclass(frozen=True)
class GenerateRequest:
    """Greedy decoding from the context until a stop sequence or max_tokens."""
    context: str
    stop: tuple[str, ...] = ()
    max_tokens: int = 64


@dataclass(frozen=True)
class ClassifyRequest:
    """A label from a classifier head."""
    text: str


Request = Union[LoglikelihoodRequest, LoglikelihoodRollingRequest, GenerateRequest, ClassifyRequest]


@dataclass(frozen=True)
class Loglikelihood:
    """For a rolling request: the text's whole log-likelihood, ``n_tokens`` tokens predicted, and
    ``is_greedy`` whether every one of them was the model's argmax."""
    logprob: float
    is_greedy: bool
    n_tokens: int


@dataclass(frozen=True)
class Generation:
    text: str
    n_tokens: int


@dataclass(frozen=True)
class Classification:
    label: str
    probs: dict[str, float] = field(default_factory=dict)


Response = Union[Loglikelihood, Generation, Classification]


def request_text(request: Request) -> str:
    """The text whose length orders the request in a batch."""
    if isinstance(request, LoglikelihoodRequest):
        return request.context + request.continuation
    if isinstance(request, LoglikelihoodRollingRequest):
        return request.text
    if isinstance(request, GenerateRequest):
        return request.context
    return request.text
