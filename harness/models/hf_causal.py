"""Hugging Face causal language models (GPT-2, Llama, ...): log-likelihoods and greedy generation.

Log-likelihoods: the contexts of a batch are encoded once each (their KV cache is reused for every
continuation of that context), and a token prefix that every context of the batch shares - the
same few-shot shots or instructions on every item of a task - is encoded once for the batch and
kept for the next batches (``PrefixCache``): only each context's own tail runs through the model.
Only the last context position's logits are computed, and when every continuation is one token
the choices are scored from that one forward pass over the contexts.

Generation: greedy decoding with the KV cache, rows leaving the batch as soon as they stop (a stop
sequence, end of text or their own token cap), so a batch costs what its rows need.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import torch
from transformers import AutoModelForCausalLM, DynamicCache, GenerationConfig

from harness.batching import shared_contexts
from harness.models.base import AnswersOnlyWhatItSupports, ModelInfo, count_parameters
from harness.models.device import dtype_name
from harness.models.errors import InputTooLong
from harness.models.hf_loading import OPTIONS, check_location, load_model_and_tokenizer
from harness.models.rolling import rolling_windows
from harness.requests import Generation, GenerateRequest, Loglikelihood, LoglikelihoodRequest, LoglikelihoodRollingRequest
from harness.spec import ModelSpec, RuntimeOptions

MIN_PREFIX_TOKENS = 8      # a shorter shared prefix is not worth a forward pass of its own

# generation settings that change greedy decoding's logits; a model that sets one is decoded by
# transformers' generate(), which applies them
_LOGITS_SETTINGS = ("repetition_penalty", "no_repeat_ngram_size", "encoder_no_repeat_ngram_size", "bad_words_ids",
                    "min_length", "min_new_tokens", "forced_bos_token_id", "forced_eos_token_id", "suppress_tokens",
                    "begin_suppress_tokens", "sequence_bias", "exponential_decay_length_penalty", "renormalize_logits",
                    "remove_invalid_values", "diversity_penalty", "guidance_scale", "watermarking_config")


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    positions = [text.find(s) for s in stops if s and s in text]
    return (text[: min(positions)], True) if positions else (text, False)


def common_prefix_length(rows: Sequence[Sequence[int]]) -> int:
    """How many leading tokens every row shares."""
    first, n = rows[0], min(len(r) for r in rows)
    for row in rows[1:]:
        k = 0
        while k < n and row[k] == first[k]:
            k += 1
        n = k
    return n


@dataclass
class PrefixCache:
    """The KV cache of one token prefix for one row, kept across batches."""
    ids: tuple[int, ...]
    layers: list[tuple[torch.Tensor, torch.Tensor]]

    def cropped(self, n: int) -> "PrefixCache":
        return PrefixCache(self.ids[:n], [(k[..., :n, :], v[..., :n, :]) for k, v in self.layers])

    def for_rows(self, n: int) -> DynamicCache:
        """A fresh cache holding the prefix for ``n`` rows (the model appends to it; this one stays)."""
        return DynamicCache(ddp_cache_data=[(k.expand(n, -1, -1, -1), v.expand(n, -1, -1, -1)) for k, v in self.layers])


class HFCausalLM(AnswersOnlyWhatItSupports):
    """Hugging Face causal LMs from a folder or hub name: log-likelihoods and greedy generation."""
    options = OPTIONS                        # the ,key=value options a spec may give (harness.preflight)
    preflight = staticmethod(check_location)
    labels_of = staticmethod(lambda spec: ())     # before loading: it answers no classification (harness.preflight)
    imports = ("transformers.modeling_utils",)   # imported while a GPU idle baseline runs (runner.load_model)

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
        forward = inspect.signature(self.model.forward).parameters
        self._last_logits_only = {"logits_to_keep": 1} if "logits_to_keep" in forward else {}
        self._cache_arg = "cache" if "cache" in forward else "past_key_values"     # renamed in transformers 5.x
        self.prefix_caching = True           # False: every context runs whole (the plain path, for tests)
        self._prefix: PrefixCache | None = None
        text = config.get_text_config(decoder=True) if hasattr(config, "get_text_config") else config
        # a plain DynamicCache (not a sliding-window, chunked or recurrent one) can be shared and cut
        self._plain_cache = not any(getattr(text, name, None) for name in ("sliding_window", "layer_types",
                                                                              "attention_chunk_size"))
        generation = getattr(self.model, "generation_config", None) or GenerationConfig()
        default = GenerationConfig()
        # greedy decoding is the argmax of the raw logits unless a generation setting alters them
        self._own_greedy = self._plain_cache and all(
            getattr(generation, name, None) == getattr(default, name, None) for name in _LOGITS_SETTINGS)

    def _forward(self, cache=None, **kwargs):
        """The model's forward pass, given the KV cache to extend (or None); returns (output, its cache)."""
        if cache is not None:
            kwargs[self._cache_arg] = cache
        out = self.model(**kwargs)
        return out, (out["cache"] if "cache" in out else out.get("past_key_values"))

    def _encode_uncached(self, text: str) -> tuple[int, ...]:
        # verbose=False: a perplexity document may be longer than the model's window (harness.models.rolling)
        return tuple(self.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

    def token_count(self, text: str) -> int:
        return len(self._encode(text))

    def _context_ids(self, context: str) -> tuple[int, ...]:
        # An empty context still needs one position to predict the first continuation token from.
        return self._encode(context) or (self.tokenizer.eos_token_id,)

    def _check_length(self, position: int, n_tokens: int, max_new_tokens: int = 0) -> None:
        if self.info.max_length and n_tokens > self.info.max_length:
            raise InputTooLong(position, n_tokens, self.info.max_length, max_new_tokens)

    def _shared_prefix(self, contexts: Sequence[tuple[int, ...]]) -> PrefixCache | None:
        """The cached prefix every context starts with (each keeping at least one token of its own),
        reusing or cropping the one kept from earlier batches, or encoding a new one; None when no
        prefix of MIN_PREFIX_TOKENS is shared."""
        if not self.prefix_caching or not self._plain_cache:
            return None
        n = common_prefix_length(contexts)
        n = min(n, min(len(c) for c in contexts) - 1)
        kept = self._prefix
        if kept is not None:
            shared = common_prefix_length([kept.ids, contexts[0][:n]])
            if shared == len(kept.ids) and shared >= MIN_PREFIX_TOKENS:
                return kept
            if shared >= MIN_PREFIX_TOKENS:
                self._prefix = kept.cropped(shared)
                return self._prefix
        if n < MIN_PREFIX_TOKENS:
            return None
        ids = contexts[0][:n]
        _, cache = self._forward(input_ids=torch.tensor([ids], device=self.device), use_cache=True,
                                 **self._last_logits_only)
        if not isinstance(cache, DynamicCache) or any(type(layer).__name__ != "DynamicLayer" for layer in cache.layers):
            self._plain_cache = self._own_greedy = False     # another cache layout: keep to the plain path
            return None
        self._prefix = PrefixCache(tuple(ids), [(layer.keys, layer.values) for layer in cache.layers])
        return self._prefix

    @torch.inference_mode()
    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[Loglikelihood]:
        texts, row_of = shared_contexts(requests)
        contexts = [self._context_ids(ctx) for ctx in texts]
        continuations = [self._encode(r.continuation) for r in requests]
        for i, (g, cont) in enumerate(zip(row_of, continuations)):
            self._check_length(i, len(contexts[g]) + len(cont))

        prefix = self._shared_prefix(contexts)
        skip = len(prefix.ids) if prefix else 0
        pad, device = self.tokenizer.pad_token_id, self.device
        ctx_len = torch.tensor([len(c) for c in contexts], device=device)
        width = int(ctx_len.max()) - skip
        ctx_ids = torch.full((len(contexts), width), pad, device=device)
        ctx_mask = torch.zeros((len(contexts), skip + width), dtype=torch.long, device=device)
        ctx_mask[:, :skip] = 1
        for g, ids in enumerate(contexts):   # left padding: every context ends at the last column
            own = ids[skip:]
            ctx_ids[g, width - len(own):] = torch.tensor(own, device=device)
            ctx_mask[g, skip + width - len(own):] = 1
        positions = (ctx_mask.cumsum(-1) - 1).clamp(min=0)[:, skip:]
        longest = max(len(c) for c in continuations)
        out, cache = self._forward(prefix.for_rows(len(contexts)) if prefix else None, input_ids=ctx_ids,
                                   attention_mask=ctx_mask, position_ids=positions, use_cache=longest > 1,
                                   **self._last_logits_only)
        first_logprobs = torch.log_softmax(out.logits[:, -1, :].float(), dim=-1)
        rows = torch.tensor(row_of, device=device)
        first = torch.tensor([c[0] for c in continuations], device=device)
        logprob = first_logprobs[rows, first]
        greedy = first_logprobs[rows].argmax(-1) == first

        if longest > 1:   # feed every continuation token but the last on top of the cached context
            cache.batch_select_indices(rows)
            cont_in = torch.full((len(requests), longest - 1), pad, device=device)
            target = torch.zeros((len(requests), longest - 1), dtype=torch.long, device=device)
            cont_mask = torch.zeros_like(cont_in)
            for i, ids in enumerate(continuations):
                cont_in[i, : len(ids) - 1] = torch.tensor(ids[:-1], device=device)
                target[i, : len(ids) - 1] = torch.tensor(ids[1:], device=device)
                cont_mask[i, : len(ids) - 1] = 1
            positions = ctx_len[rows, None] + torch.arange(longest - 1, device=device)
            if self.info.max_length:   # padding past a row's own continuation is masked; keep its position valid
                positions = positions.clamp(max=self.info.max_length - 1)
            out2, _ = self._forward(cache, input_ids=cont_in, attention_mask=torch.cat([ctx_mask[rows], cont_mask], dim=1),
                                    position_ids=positions, use_cache=False)
            rest = torch.log_softmax(out2.logits.float(), dim=-1)
            valid = cont_mask.bool()
            picked = rest.gather(2, target[..., None])[..., 0]
            logprob = logprob + torch.where(valid, picked, torch.zeros_like(picked)).sum(-1)
            greedy = greedy & ((rest.argmax(-1) == target) | ~valid).all(-1)

        return [Loglikelihood(logprob=lp, is_greedy=g, n_tokens=len(ids))
                for lp, g, ids in zip(logprob.tolist(), greedy.tolist(), continuations)]

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

    def _left_padded(self, encoded: Sequence[tuple[int, ...]]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(ids) for ids in encoded)
        input_ids = torch.full((len(encoded), width), self.tokenizer.pad_token_id, device=self.device)
        mask = torch.zeros_like(input_ids)
        for i, ids in enumerate(encoded):
            input_ids[i, width - len(ids):] = torch.tensor(ids, device=self.device)
            mask[i, width - len(ids):] = 1
        return input_ids, mask

    @torch.inference_mode()
    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        encoded = [self._context_ids(r.context) for r in requests]
        for i, ids in enumerate(encoded):
            self._check_length(i, len(ids) + requests[i].max_tokens, requests[i].max_tokens)
        input_ids, mask = self._left_padded(encoded)
        new = self._greedy(input_ids, mask, requests) if self._own_greedy else self._hf_generate(input_ids, mask, requests)
        results = []
        for request, tokens in zip(requests, new):
            tokens = tokens[: request.max_tokens]
            if self.tokenizer.eos_token_id in tokens:
                tokens = tokens[: tokens.index(self.tokenizer.eos_token_id)]
            text, stopped = cut_at_stop(self.tokenizer.decode(tokens, skip_special_tokens=True), request.stop)
            n_tokens = len(self._encode_uncached(text)) if stopped else len(tokens)
            results.append(Generation(text=text, n_tokens=n_tokens))
        return results

    def _greedy(self, input_ids: torch.Tensor, mask: torch.Tensor, requests: Sequence[GenerateRequest]) -> list[list[int]]:
        """Greedy decoding with the KV cache; a row leaves the batch (its cache rows dropped) once it
        has produced end of text, one of its stop sequences, or its max_tokens."""
        eos = self.tokenizer.eos_token_id
        new: list[list[int]] = [[] for _ in requests]
        live = list(range(len(requests)))               # the original index of each row still decoding
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        out, cache = self._forward(input_ids=input_ids, attention_mask=mask, position_ids=positions, use_cache=True,
                                   **self._last_logits_only)
        position = positions[:, -1:]
        while True:
            step = out.logits[:, -1, :].argmax(-1)
            keep = []
            for row, (index, token) in enumerate(zip(live, step.tolist())):
                new[index].append(token)
                request = requests[index]
                done = token == eos or len(new[index]) >= request.max_tokens or (
                    request.stop and any(s in self.tokenizer.decode(new[index], skip_special_tokens=True)
                                         for s in request.stop if s))
                if not done:
                    keep.append(row)
            if not keep:
                return new
            if len(keep) < len(live):
                rows = torch.tensor(keep, device=self.device)
                cache.batch_select_indices(rows)
                mask, step, position = mask[rows], step[rows], position[rows]
                live = [live[row] for row in keep]
            mask = torch.cat([mask, mask.new_ones((len(live), 1))], dim=1)
            position = position + 1
            out, cache = self._forward(cache, input_ids=step[:, None], attention_mask=mask, position_ids=position,
                                       use_cache=True)

    def _hf_generate(self, input_ids: torch.Tensor, mask: torch.Tensor, requests: Sequence[GenerateRequest]
                     ) -> list[list[int]]:
        """transformers' generate(), for models whose generation settings alter greedy decoding's logits."""
        from transformers import StoppingCriteria, StoppingCriteriaList
        width, tokenizer = input_ids.shape[1], self.tokenizer
        stops = sorted({s for r in requests for s in r.stop if s})

        class StopOnSequences(StoppingCriteria):
            def __call__(self, ids: torch.Tensor, scores, **kwargs) -> torch.Tensor:
                texts = tokenizer.batch_decode(ids[:, width:], skip_special_tokens=True)
                return torch.tensor([any(s in t for s in stops) for t in texts], device=ids.device)

        out = self.model.generate(input_ids=input_ids, attention_mask=mask, max_new_tokens=max(r.max_tokens for r in requests),
                                  do_sample=False, pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                                  stopping_criteria=StoppingCriteriaList([StopOnSequences()]) if stops else None)
        return [out[i, width:].tolist() for i in range(len(requests))]
