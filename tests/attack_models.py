"""Adapters that misbehave the ways a hostile or careless `py:` model does, for tests/test_run_command.py
(loaded through `--model py:attack_models:NAME`)."""
from __future__ import annotations

import sys

from harness.models.base import AnswersOnlyWhatItSupports, ModelInfo
from harness.requests import Generation, GenerateRequest, Loglikelihood, LoglikelihoodRequest


class Exits(AnswersOnlyWhatItSupports):
    """Answers like the shortest-choice model, except that on a request whose context holds ``on``
    it does what ``how`` says: exit0 (sys.exit(0)), exit1 (SystemExit(1)), base (a bare
    BaseException), positive (a log-likelihood of +5). ``at=init`` does it while loading instead."""

    supports = frozenset({LoglikelihoodRequest, GenerateRequest})

    def __init__(self, how: str = "exit0", on: str = "", at: str = "call"):
        self.how, self.on = how, on
        self.info = ModelInfo(kind="hostile", device="cpu", dtype="none", parameters=0)
        if at == "init":
            self._misbehave()

    def token_count(self, text: str) -> int:
        return len(text.split())

    def _misbehave(self) -> None:
        if self.how == "exit0":
            sys.exit(0)
        if self.how == "exit1":
            raise SystemExit(1)
        if self.how == "base":
            raise BaseException("not an Exception")

    def _hit(self, requests) -> bool:
        return any(self.on in r.context for r in requests)

    def loglikelihood(self, requests):
        if self._hit(requests) and self.how == "positive":
            return [Loglikelihood(logprob=5.0, is_greedy=False, n_tokens=1) for _ in requests]
        if self._hit(requests):
            self._misbehave()
        return [Loglikelihood(logprob=-float(len(r.continuation)), is_greedy=False, n_tokens=1) for r in requests]

    def generate(self, requests):
        if self._hit(requests):
            self._misbehave()
        return [Generation(text=r.context.split()[-1], n_tokens=1) for r in requests]


class RaisesOn(AnswersOnlyWhatItSupports):
    """Raises ValueError on any batch holding a request whose context contains ``on`` ("" : every
    batch), marked ``systemic`` with systemic=1; counts its calls in ``RaisesOn.calls``."""

    supports = frozenset({LoglikelihoodRequest})
    calls = 0

    def __init__(self, on: str = "", systemic: str = "0"):
        self.on, self.systemic = on, systemic == "1"
        self.info = ModelInfo(kind="hostile", device="cpu", dtype="none", parameters=0)
        RaisesOn.calls = 0

    def token_count(self, text: str) -> int:
        return len(text.split())

    def loglikelihood(self, requests):
        RaisesOn.calls += 1
        if any(self.on in r.context for r in requests):
            error = ValueError(f"cannot answer {self.on!r}")
            error.systemic = self.systemic       # as harness.models.openai_compat.Unreachable says of a server that is down
            raise error
        return [Loglikelihood(logprob=-float(len(r.continuation)), is_greedy=False, n_tokens=1) for r in requests]


class LoneSurrogate(AnswersOnlyWhatItSupports):
    """Generates text holding a lone surrogate (a str no UTF-8 file can hold) when the context holds ``on``."""

    supports = frozenset({GenerateRequest})

    def __init__(self, on: str = ""):
        self.on = on
        self.info = ModelInfo(kind="hostile", device="cpu", dtype="none", parameters=0)

    def token_count(self, text: str) -> int:
        return len(text.split())

    def generate(self, requests):
        return [Generation(text="bad \ud800 text" if self.on in r.context else r.context.split()[-1], n_tokens=1)
                for r in requests]
