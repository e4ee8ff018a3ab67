"""perplexity: the log-likelihood of whole documents, scored in rolling windows when they are longer
than the model's context (lm-evaluation-harness's loglikelihood_rolling tasks, e.g. wikitext).

The prompt renders the document (``prompt: "{text}"``); there is no answer and no few-shot. The
optional ``stride`` (tokens) makes the windows overlap: each window then predicts ``stride`` new
tokens with the rest of the window as context (harness.models.rolling); without it each window
predicts a whole window's worth (lm-eval's default). Each record keeps the document's total
log-likelihood, its word count (lm-eval's ``len(re.split(r"\\s+", text))``), its UTF-8 byte count
and the number of tokens scored; word_perplexity, byte_perplexity and bits_per_byte read those.
"""
from __future__ import annotations

import re
from typing import Sequence

from harness.data import Example
from harness.errors import HarnessError
from harness.kinds.base import Scored, build_context
from harness.requests import Loglikelihood, LoglikelihoodRollingRequest
from harness.spec import TaskConfig


def count_words(text: str) -> int:
    return len(re.split(r"\s+", text))


def count_bytes(text: str) -> int:
    return len(text.encode("utf-8"))


class Perplexity:
    name = "perplexity"
    request_type = LoglikelihoodRollingRequest
    answers = "document"                  # what a prediction is (metrics declare the answers they fit)
    reads = frozenset({"stride"})   # the kind-specific task keys it reads (kinds.base.KIND_KEYS)
    default_metrics = ("word_perplexity", "byte_perplexity", "bits_per_byte")
    metric_views: dict = {}

    def target(self, task: TaskConfig, example: Example) -> str:
        return ""

    def requests(self, task: TaskConfig, example: Example, context: str) -> list[LoglikelihoodRollingRequest]:
        if task.num_fewshot:
            raise HarnessError(f"task {task.name!r}: a perplexity task scores each document alone; it has no few-shot",
                               f"remove `fewshot` from {task.source}")
        if not context.strip():
            raise HarnessError(f"task {task.name!r}: {example.describe()} renders an empty document",
                               "give every example some text (a perplexity over no bytes is undefined)")
        return [LoglikelihoodRollingRequest(context, stride=task.stride)]

    def score(self, task: TaskConfig, example: Example, responses: Sequence[Loglikelihood]) -> Scored:
        (result,) = responses
        text = build_context(task, self, example, ())          # the document, as the request scored it
        return Scored(prediction="", reference="",
                      scores={"loglikelihood": result.logprob, "words": float(count_words(text)),
                              "bytes": float(count_bytes(text)), "tokens": float(result.n_tokens)},
                      details={"stride": task.stride, "is_greedy": result.is_greedy})
