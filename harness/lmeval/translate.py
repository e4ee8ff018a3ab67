"""lm-eval's Instances as our typed requests, and our responses as what lm-eval's filters expect.

| lm-eval request        | arguments                  | our request                       | lm-eval's response    |
|------------------------|----------------------------|-----------------------------------|-----------------------|
| loglikelihood          | (context, continuation)    | LoglikelihoodRequest              | (logprob, is_greedy)  |
| loglikelihood_rolling  | (text,)                    | LoglikelihoodRollingRequest       | logprob               |
| generate_until         | (context, generation_kwargs) | GenerateRequest (greedy)        | text                  |

(multiple_choice tasks send one loglikelihood request per choice.) As lm-eval's HFLM does
(``_encode_pair``), whitespace at the end of a context moves to the front of its continuation.
HFLM then tokenizes context + continuation whole and splits; our adapters tokenize the two apart.
The tokens are the same wherever the continuation starts a new pre-token (byte-level BPE such as
GPT-2's or Llama 3's with a space- or punctuation-led continuation, as the tests check); a
SentencePiece tokenizer (Llama 2, Mistral) or a continuation that glues onto the context's last
word can differ, as it does for the harness's own multiple-choice tasks.
Generation settings are read with lm-eval's own ``normalize_gen_kwargs`` (``until``, and
``max_gen_toks`` defaulting to HFLM's 256); a task that samples (``do_sample: true`` or a
temperature above 0) is refused: the harness decodes greedily, and a sampled score would not be
lm-eval's. Our adapters end generation at the model's end-of-text token, as HFLM's stop list does.
"""
from __future__ import annotations

from typing import Any

from harness.errors import HarnessError
from harness.requests import (GenerateRequest, LoglikelihoodRequest, LoglikelihoodRollingRequest, Request,
                              Response)

REQUEST_TYPES = {"loglikelihood": LoglikelihoodRequest, "multiple_choice": LoglikelihoodRequest,
                 "loglikelihood_rolling": LoglikelihoodRollingRequest, "generate_until": GenerateRequest}
DEFAULT_MAX_GEN_TOKS = 256           # lm_eval.models.huggingface.HFLM's max_gen_toks


def split_pair(context: str, continuation: str) -> tuple[str, str]:
    """HFLM._encode_pair's string step: the context's trailing whitespace starts the continuation."""
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces > 0:
        return context[:-n_spaces], context[-n_spaces:] + continuation
    return context, continuation


def generation_settings(task_name: str, gen_kwargs: Any) -> tuple[tuple[str, ...], int]:
    """(stop sequences, max new tokens) of a generate_until task, or exit 2 for a sampling one."""
    from lm_eval.models.utils import normalize_gen_kwargs
    kwargs = normalize_gen_kwargs(dict(gen_kwargs or {}), DEFAULT_MAX_GEN_TOKS)
    if kwargs.get("do_sample") or float(kwargs.get("temperature") or 0.0) > 0:
        raise HarnessError(f"lm-eval task {task_name!r} samples its generations (do_sample: true, temperature "
                           f"{kwargs.get('temperature')}); the harness decodes greedily, so its scores would not be "
                           "lm-eval's", "use a greedy variant of the task, or copy its YAML into an --lm-eval-include "
                           "folder with `generation_kwargs: {do_sample: false}`")
    until = kwargs.get("until") or []
    until = [until] if isinstance(until, str) else list(until)
    max_gen = int(kwargs["max_gen_toks"])
    if max_gen < 1:
        raise HarnessError(f"lm-eval task {task_name!r}: max_gen_toks is {max_gen}", "give it 1 or more")
    return tuple(s for s in until if s), max_gen


def request_of(instance, stop: tuple[str, ...] = (), max_tokens: int = DEFAULT_MAX_GEN_TOKS) -> Request:
    kind = instance.request_type
    args = instance.args
    if kind == "loglikelihood":
        return LoglikelihoodRequest(*split_pair(args[0], args[1]))
    if kind == "loglikelihood_rolling":
        return LoglikelihoodRollingRequest(args[0])
    if kind == "generate_until":
        return GenerateRequest(args[0], stop=stop, max_tokens=max_tokens)
    raise HarnessError(f"lm-eval request type {kind!r} has no harness request", "use a task of another output type")


def lm_eval_response(request_type: str, response: Response) -> Any:
    """What an lm-eval LM returns for this request: (logprob, is_greedy), a logprob, or the text."""
    if request_type == "loglikelihood":
        return (response.logprob, response.is_greedy)
    if request_type == "loglikelihood_rolling":
        return response.logprob
    return response.text
