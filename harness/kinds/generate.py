"""generate: greedy decoding until a stop sequence or max_tokens; the text is compared with a reference."""
from __future__ import annotations

import unicodedata
from typing import Sequence

from harness.data import Example
from harness.requests import GenerateRequest, Generation
from harness.spec import TaskConfig
from harness.kinds.base import Scored, text_value


class Generate:
    name = "generate"
    request_type = GenerateRequest
    answers = "text"                  # what a prediction is (metrics declare the answers they fit)
    reads = frozenset({"stop", "max_tokens", "normalize"})   # the kind-specific task keys it reads (kinds.base.KIND_KEYS)
    default_metrics = ("exact_match", "bleu", "chrf")
    metric_views: dict = {}

    def target(self, task: TaskConfig, example: Example) -> str:
        return text_value(task, example, task.answer)

    def requests(self, task: TaskConfig, example: Example, context: str) -> list[GenerateRequest]:
        return [GenerateRequest(context, stop=task.stop, max_tokens=task.max_tokens)]

    def score(self, task: TaskConfig, example: Example, responses: Sequence[Generation]) -> Scored:
        """With ``normalize: NFC | NFKC`` the prediction and the reference are both Unicode-normalized
        before any metric sees them (and stored so), so composed and decomposed accents, or full-width
        and ASCII forms under NFKC, compare equal."""
        (generation,) = responses
        prediction, reference = generation.text.strip(), self.target(task, example)
        if task.normalize:
            prediction = unicodedata.normalize(task.normalize, prediction)
            reference = unicodedata.normalize(task.normalize, reference)
        return Scored(prediction=prediction, reference=reference,
                      scores={"generated_tokens": float(generation.n_tokens)})
