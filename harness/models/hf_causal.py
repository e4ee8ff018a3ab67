"""Hugging Face causal language models (GPT-2, Llama, ...): log-likelihoods and greedy generation.

Log-likelihoods of continuations that share a context are computed with the context encoded
once: the context batch runs with the KV cache on, the cache rows are repeated per
continuation, and the continuations run on top of it.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import torch
from transformers import AutoModelForCausalLM, StoppingCriteria, StoppingCriteriaList

from harness.batching import shared_contexts
from harness.models.base import AnswersOnlyWhatItSupports, ModelInfo, count_parameters
from harness.models.device import dtype_name
from harness.models.errors import InputTooLong
from harness.models.hf_loading import OPTIONS, check_location, load_model_and_tokenizer
from harness.plugins import MODELS
from harness.models.rolling import rolling_windows
from harness.requests import Generation, GenerateRequest, Loglikelihood, LoglikelihoodRequest, LoglikelihoodRollingRequest
from harness.spec import ModelSpec, RuntimeOptions


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    positions = [text.find(s) for s in stops if s and s in text]
    return (text[: min(positions)], True) if positions else (text, False)


class _StopOnSequences(StoppingCriteria):
    def __init__(self, tokenizer, prompt_length: int, stops: Sequence[str]):
        self.tokenizer, self.prompt_length, self.stops = tokenizer, prompt_length, [s for s in stops if s]

    def __call__(self, input_ids: torch.Tensor, scores, **kwargs) -> torch.Tensor:
        texts = self.tokenizer.batch_decode(input_ids[:, self.prompt_length:], skip_special_tokens=True)
        return torch.tensor([any(s in t for s in self.stops) for t in texts], device=input_ids.device)


class HFCausalLM(AnswersOnlyWhatItSupports):
    """Hugging Face causal LMs from a folder or hub name: log-likelihoods and greedy generation."""
    options = OPTIONS                        # the ,key=value options a spec may give (harness.preflight)
    preflight = staticmethod(check_location)

    supports = frozenset({LoglikelihoodRequest, LoglikelihoodRollingRequest, GenerateRequest})

    def __init__(self, spec: ModelSpec, options: RuntimeOptions):
        loaded = load_model_and_tokenizer(AutoModelForCausalLM, spec, options)
        self.model, self.tokenizer, self.device, dtype = loaded
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        config = self.model.config
        limit = getattr(config, "n_positions", None) or getattr(config, "max_position_embeddings", None)
        self.info = ModelInfo(kind="hf-causal", device=str(self.device), dtype=dtype_name(dtype),
                              parameters=count_parameters(self.model), variant=loaded.describe(), max_length=limit)
        self._encode = lru_cache(maxsize=4096)(self._encode_uncached)

    def _encode_uncached(self, text: str) -> tuple[int, ...]:
        # verbose=False: a perplexity document may be longer than the model's window (harness.models.rolling)
        return tuple(self.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

    def token_count(self, text: str) -> int:
        return len(self._encode(text))

    def _context_ids(self, context: str) -> tuple[int, ...]:
        # An empty context still needs one position to predict the first continuation token from.
        return self._encode(context) or (self.tokenizer.eos_token_id,)

    def _check_length(self, position: int, n_tokens: int) -> None:
        if self.info.max_length and n_tokens > self.info.max_length:
            raise InputTooLong(position, n_tokens, self.info.max_length)

    @torch.inference_mode()
    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[Loglikelihood]:
        texts, row_of = shared_contexts(requests)
        contexts = [self._context_ids(ctx) for ctx in texts]
        continuations = [self._encode(r.continuation) for r in requests]
        for i, (g, cont) in enumerate(zip(row_of, continuations)):
            self._check_length(i, len(contexts[g]) + len(cont))

        pad = self.tokenizer.pad_token_id
        ctx_len = torch.tensor([len(c) for c in contexts], device=self.device)
        width = int(ctx_len.max())
        ctx_ids = torch.full((len(contexts), width), pad, device=self.device)
        ctx_mask = torch.zeros_like(ctx_ids)
        for g, ids in enumerate(contexts):   # left padding: every context ends at the last column
            ctx_ids[g, width - len(ids):] = torch.tensor(ids, device=self.device)
            ctx_mask[g, width - len(ids):] = 1
        out = self.model(input_ids=ctx_ids, attention_mask=ctx_mask,
                         position_ids=(ctx_mask.cumsum(-1) - 1).clamp(min=0), use_cache=True)
        first_logprobs = torch.log_softmax(out.logits[:, -1, :].float(), dim=-1)

        rest_logprobs = None
        longest = max(len(c) for c in continuations)
        if longest > 1:   # feed every continuation token but the last on top of the cached context
            rows = torch.tensor(row_of, device=self.device)
            cache = out.past_key_values
            cache.batch_select_indices(rows)
            cont_in = torch.full((len(requests), longest - 1), pad, device=self.device)
            cont_mask = torch.zeros_like(cont_in)
            for i, ids in enumerate(continuations):
                cont_in[i, : len(ids) - 1] = torch.tensor(ids[:-1], device=self.device)
                cont_mask[i, : len(ids) - 1] = 1
            positions = ctx_len[rows, None] + torch.arange(longest - 1, device=self.device)
            if self.info.max_length:   # padding past a row's own continuation is masked; keep its position valid
                positions = positions.clamp(max=self.info.max_length - 1)
            out2 = self.model(input_ids=cont_in, attention_mask=torch.cat([ctx_mask[rows], cont_mask], dim=1),
                              position_ids=positions, past_key_values=cache, use_cache=False)
            rest_logprobs = torch.log_softmax(out2.logits.float(), dim=-1)

        results = []
        for i, (g, ids) in enumerate(zip(row_of, continuations)):
            steps = [first_logprobs[g]] + ([rest_logprobs[i, j] for j in range(len(ids) - 1)] if len(ids) > 1 else [])
            target = torch.tensor(ids, device=self.device)
            dist = torch.stack(steps)
            logprob = float(dist.gather(1, target[:, None]).sum())
            greedy = bool((dist.argmax(-1) == target).all())
            results.append(Loglikelihood(logprob=logprob, is_greedy=greedy, n_tokens=len(ids)))
        return results

    @property
    def prefix_token_id(self) -> int:
        """What the first window's first token is predicted from: BOS, else EOS (as lm-eval's HFLM)."""
        bos = self.tokenizer.bos_token_id
        return bos if bos is not None else self.tokenizer.eos_token_id

    @torch.inference_mode()
    def loglikelihood_rolling(self, requests: Sequence[LoglikelihoodRollingRequest]) -> list[Loglikelihood]:
        """Each text in rolling windows of the model's length (harness.models.rolling); the windows of
        the whole batch run together, 64 at a time, and each text's window sums are added up."""
        windows: list[tuple[int, list[int], list[int]]] = []
        for i, request in enumerate(requests):
            ids = list(self._encode_uncached(request.text))
            max_len = self.info.max_length or max(1, len(ids))
            stride = None if request.stride is None else min(request.stride, max_len)
            windows += [(i, ctx, cont) for ctx, cont in rolling_windows(ids, self.prefix_token_id, max_len, stride)]
        totals = [0.0] * len(requests)
        counts = [0] * len(requests)
        greedy = [True] * len(requests)
        windows.sort(key=lambda w: -(len(w[1]) + len(w[2])))
        pad = self.tokenizer.pad_token_id
        for start in range(0, len(windows), 64):
            chunk = windows[start:start + 64]
            inputs = [(ctx + cont)[:-1] for _, ctx, cont in chunk]
            width = max(len(x) for x in inputs)
            ids = torch.full((len(chunk), width), pad, device=self.device)
            mask = torch.zeros_like(ids)
            for row, x in enumerate(inputs):       # right padding: positions start at 0 in every row
                ids[row, : len(x)] = torch.tensor(x, device=self.device)
                mask[row, : len(x)] = 1
            logprobs = torch.log_softmax(self.model(input_ids=ids, attention_mask=mask).logits.float(), dim=-1)
            for row, (i, ctx, cont) in enumerate(chunk):
                first = len(ctx) - 1                # the logit at position p predicts token p + 1
                dist = logprobs[row, first: first + len(cont)]
                target = torch.tensor(cont, device=self.device)
                totals[i] += float(dist.gather(1, target[:, None]).sum())
                counts[i] += len(cont)
                greedy[i] = greedy[i] and bool((dist.argmax(-1) == target).all())
        return [Loglikelihood(logprob=t, is_greedy=g, n_tokens=n) for t, g, n in zip(totals, greedy, counts)]

    @torch.inference_mode()
    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        max_new = max(r.max_tokens for r in requests)
        encoded = [self._context_ids(r.context) for r in requests]
        for i, ids in enumerate(encoded):
            self._check_length(i, len(ids) + requests[i].max_tokens)
        width = max(len(ids) for ids in encoded)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.full((len(requests), width), pad, device=self.device)
        mask = torch.zeros_like(input_ids)
        for i, ids in enumerate(encoded):
            input_ids[i, width - len(ids):] = torch.tensor(ids, device=self.device)
            mask[i, width - len(ids):] = 1
        stops = sorted({s for r in requests for s in r.stop})
        criteria = StoppingCriteriaList([_StopOnSequences(self.tokenizer, width, stops)]) if stops else None
        out = self.model.generate(input_ids=input_ids, attention_mask=mask, max_new_tokens=max_new, do_sample=False,
                                  pad_token_id=pad, eos_token_id=self.tokenizer.eos_token_id,
                                  stopping_criteria=criteria)
        results = []
        for i, request in enumerate(requests):
            new = out[i, width:].tolist()[: request.max_tokens]
            if self.tokenizer.eos_token_id in new:
                new = new[: new.index(self.tokenizer.eos_token_id)]
            text, stopped = cut_at_stop(self.tokenizer.decode(new, skip_special_tokens=True), request.stop)
            n_tokens = len(self._encode_uncached(text)) if stopped else len(new)
            results.append(Generation(text=text, n_tokens=n_tokens))
        return results


MODELS.register("hf-causal")(HFCausalLM)
