"""Adapters with known behaviour, loaded by tests through `--model py:fake_models:NAME`."""
from __future__ import annotations

import torch

from harness.models.base import ModelInfo
from harness.models.errors import InputTooLong
from harness.requests import Classification, ClassifyRequest, Generation, GenerateRequest, Loglikelihood, LoglikelihoodRequest


class ShortestChoice:
    """Log-likelihood = minus the continuation's length, so the shortest choice always wins.
    With ``oom_above=N`` it raises CUDA's out-of-memory error for batches larger than N;
    with ``fail_after=K`` it raises ValueError on every call after the K-th."""

    supports = frozenset({LoglikelihoodRequest, GenerateRequest, ClassifyRequest})

    def __init__(self, oom_above: str = "0", fail_after: str = "0", max_length: str = "0"):
        self.oom_above, self.fail_after, self.max_length = int(oom_above), int(fail_after), int(max_length)
        self.info = ModelInfo(kind="fake", device="cpu", dtype="none", parameters=0)
        self.batch_sizes: list[int] = []

    def token_count(self, text: str) -> int:
        return len(text.split())

    def _check(self, requests):
        self.batch_sizes.append(len(requests))
        if self.oom_above and len(requests) > self.oom_above:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        if self.fail_after and len(self.batch_sizes) > self.fail_after:
            raise ValueError("simulated model failure")
        for i, r in enumerate(requests):
            n = self.token_count(getattr(r, "context", getattr(r, "text", "")))
            if self.max_length and n > self.max_length:
                raise InputTooLong(i, n, self.max_length)

    def loglikelihood(self, requests):
        self._check(requests)
        return [Loglikelihood(logprob=-float(len(r.continuation)), is_greedy=False, n_tokens=1) for r in requests]

    def generate(self, requests):
        self._check(requests)
        return [Generation(text=r.context.split()[-1], n_tokens=1) for r in requests]

    def classify(self, requests):
        self._check(requests)
        return [Classification(label="a" if "a" in r.text else "b") for r in requests]
