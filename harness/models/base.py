"""The ModelAdapter protocol: the one interface between the runner and any model.

To evaluate your own torch module, write a class with these members (about 20 lines; see
examples/custom_model.py) and pass ``--model py:your_module:YourAdapter``, or register a
factory in the ``harness.models`` entry-point group. Subclass AnswersOnlyWhatItSupports, implement
only the request kinds your model can answer and list them in ``supports``; tasks of other kinds
are skipped for it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence, runtime_checkable

from harness.requests import (Classification, ClassifyRequest, Generation, GenerateRequest, Loglikelihood,
                              LoglikelihoodRequest, LoglikelihoodRollingRequest)


@dataclass(frozen=True)
class ModelInfo:
    kind: str                        # hf-causal, hf-seq2seq, hf-classifier, encoder, or your own word
    device: str
    dtype: str
    parameters: int | None
    max_length: int | None = None    # longest input in tokens, if the model has a limit
    labels: tuple[str, ...] = ()     # classifiers: the label set
    extra: dict = field(default_factory=dict)
    # harness.models.footprint.measure: the recipe applied and what it achieved (None: the runner
    # measures the adapter's .model itself, if it has one)
    variant: dict | None = None


@runtime_checkable
class ModelAdapter(Protocol):
    info: ModelInfo
    supports: frozenset[type]        # request types this model answers, e.g. {LoglikelihoodRequest}

    def token_count(self, text: str) -> int:
        """Length of ``text`` in the model's tokens (orders and sizes batches)."""

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[Loglikelihood]:
        """Requests sharing a context arrive next to each other, so an adapter may encode it once."""

    def loglikelihood_rolling(self, requests: Sequence[LoglikelihoodRollingRequest]) -> list[Loglikelihood]:
        """Whole-text log-likelihoods (perplexity), in rolling windows when a text is longer than the model's."""

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]: ...

    def classify(self, requests: Sequence[ClassifyRequest]) -> list[Classification]: ...


class AnswersOnlyWhatItSupports:
    """Base for adapters: the request methods a model does not list in ``supports`` raise. Subclass
    it and define only the methods your model answers."""

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[Loglikelihood]:
        raise NotImplementedError(f"{type(self).__name__} does not answer log-likelihood requests")

    def loglikelihood_rolling(self, requests: Sequence[LoglikelihoodRollingRequest]) -> list[Loglikelihood]:
        raise NotImplementedError(f"{type(self).__name__} does not answer rolling log-likelihood requests")

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        raise NotImplementedError(f"{type(self).__name__} does not generate")

    def classify(self, requests: Sequence[ClassifyRequest]) -> list[Classification]:
        raise NotImplementedError(f"{type(self).__name__} does not classify")


def count_parameters(module) -> int:
    return sum(p.numel() for p in module.parameters())
