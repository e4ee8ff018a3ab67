"""Hugging Face causal language models (GPT-2, Llama, ...): log-likelihoods and greedy generation.

Log-likelihoods: the contexts of a batch are encoded once each (their KV cache is reused for every
continuation of that context), and the token prefixes contexts share - the same few-shot shots or
instructions on every item, or the first shots of items that drew them alike - are encoded once
as the nodes of a prefix tree (harness.models.prefix_tree), kept across batches
(harness.models.prefix_kv): only each context's own tail runs through the model on top of its
deepest node. Only the last context position's logits are computed, and when every continuation
is one token the choices are scored from that one forward pass over the contexts.

Generation: greedy decoding with continuous batching (harness.models.decoding): at most ``rows``
requests decode at once and a finished row's slot goes to the next request, so a call costs what
its rows need and the batch stays full while requests wait.
"""
from __future__ import annotations

import inspect
from functools import lru_cache
from typing import Sequence

import torch
from transformers import AutoModelForCausalLM, DynamicCache, GenerationConfig
from transformers.cache_utils import DynamicLayer

from harness.batching import shared_contexts
from harness.models.base import AnswersOnlyWhatItSupports, ModelInfo, count_parameters
from harness.models.decoding import Prefilled, greedy_decode
from harness.models.prefix_kv import Prefix, PrefixStore, row_prefix, stack
from harness.models.prefix_tree import next_wave, path, plan, width_groups
from harness.models.device import dtype_name
from harness.models.errors import InputTooLong
from harness.models.hf_loading import OPTIONS, check_location, load_model_and_tokenizer
from harness.models.rolling import rolling_windows
from harness.requests import Generation, GenerateRequest, Loglikelihood, LoglikelihoodRequest, LoglikelihoodRollingRequest
from harness.spec import ModelSpec, RuntimeOptions

MIN_PREFIX_TOKENS = 8      # a shorter shared prefix is not worth a forward pass of its own
# a forward pass of its own costs about this many positions' compute (padding is cut only where it saves more)
PASS_OVERHEAD_TOKENS = 32
PREFIX_STORE_BYTES = 2**28  # shared prefixes' KV caches kept across batches, at most (256 MiB)

# generation settings that change greedy decoding's logits; a model that sets one is decoded by
# transformers' generate(), which applies them
_LOGITS_SETTINGS = ("repetition_penalty", "no_repeat_ngram_size", "encoder_no_repeat_ngram_size", "bad_words_ids",
                    "min_length", "min_new_tokens", "forced_bos_token_id", "forced_eos_token_id", "suppress_tokens",
                    "begin_suppress_tokens", "sequence_bias", "exponential_decay_length_penalty", "renormalize_logits",
                    "remove_invalid_values", "diversity_penalty", "guidance_scale", "watermarking_config")


class _NotPlainCache(Exception):
    """The model's forward returned a cache other than transformers' plain DynamicCache."""


def _is_plain(cache) -> bool:
    return isinstance(cache, DynamicCache) and all(type(layer) is DynamicLayer for layer in cache.layers)


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    positions = [text.find(s) for s in stops if s and s in text]
    return (text[: min(positions)], True) if positions else (text, False)


class HFCausalLM(AnswersOnlyWhatItSupports):
    """Hugging Face causal LMs from a folder or hub name: log-likelihoods and greedy generation."""
    options = OPTIONS                        # the ,key=value options a spec may give (harness.preflight)
    preflight = staticmethod(check_location)
    labels_of = staticmethod(lambda spec: ())     # before loading: it answers no classification (harness.preflight)
    imports = ("transformers.modeling_utils",)   # imported while a GPU idle baseline runs (runner.load_model)

    supports = frozenset({LoglikelihoodRequest, LoglikelihoodRollingRequest, GenerateRequest})
    refills = frozenset({GenerateRequest})    # continuous batching: calls of several batches, ``rows`` at once

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
        # generation: how many requests decode at once (None: a whole call); the runner sets its batch size
        self.rows: int | None = options.batch_size
        self.prefix_caching = True           # False: every context runs whole (the plain path, for tests)
        self.prefix_store = PrefixStore(PREFIX_STORE_BYTES)   # shared prefixes kept across batches
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

    def _extend(self, prefixes: Sequence[Prefix | None], own: Sequence[Sequence[int]], use_cache: bool):
        """One forward pass over each row's own tokens on top of its prefix's cache (None: from the
        first position): prefixes right-aligned, own tokens left-padded after them, so every row's
        last own token sits in the last column. Returns (output, its cache, the attention mask, the
        prefixes' width)."""
        past, lengths = stack(prefixes)
        skip, width = (past[0][0].shape[2] if past else 0), max(len(ids) for ids in own)
        pad, device = self.tokenizer.pad_token_id, self.device
        ids = torch.full((len(own), width), pad, device=device)
        mask = torch.zeros((len(own), skip + width), dtype=torch.long, device=device)
        for row, (n, tokens) in enumerate(zip(lengths, own)):
            ids[row, width - len(tokens):] = torch.tensor(tokens, device=device)
            mask[row, skip - n:skip] = 1
            mask[row, skip + width - len(tokens):] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, skip:]
        cache = DynamicCache(ddp_cache_data=past) if past else None
        out, cache = self._forward(cache, input_ids=ids, attention_mask=mask, position_ids=positions,
                                   use_cache=use_cache, **self._last_logits_only)
        return out, cache, mask, skip

    def _source(self, ids: tuple[int, ...], nodes: Sequence[tuple[int, ...]], cached: dict) -> Prefix | None:
        """The longest cached prefix of a context: its deepest cached node, or a kept one that is longer."""
        node = next((cached[n] for n in reversed(nodes) if n in cached), None)
        kept = self.prefix_store.match(ids, len(ids) - 1)
        if kept is not None and kept.length >= MIN_PREFIX_TOKENS and (node is None or kept.length > node.length):
            return kept
        return node

    @torch.inference_mode()
    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[Loglikelihood]:
        texts, row_of = shared_contexts(requests)
        contexts = [self._context_ids(ctx) for ctx in texts]
        continuations = [self._encode(r.continuation) for r in requests]
        for i, (g, cont) in enumerate(zip(row_of, continuations)):
            self._check_length(i, len(contexts[g]) + len(cont))
        asked: dict[int, list[int]] = {}                  # context -> the requests on it
        for i, g in enumerate(row_of):
            asked.setdefault(g, []).append(i)

        tree = plan(contexts, MIN_PREFIX_TOKENS) if self._sharing() else None
        paths = [path(tree, c) if tree else [] for c in range(len(contexts))]
        cached: dict[tuple[int, ...], Prefix] = {}        # the nodes whose KV cache is at hand
        for node in tree.nodes if tree else ():
            kept = self.prefix_store.match(node, len(node))
            if kept is not None and kept.length == len(node):
                cached[node] = kept
        answers: list[Loglikelihood | None] = [None] * len(requests)
        waiting = list(range(len(contexts)))
        while waiting:                                    # each pass caches a level more of the tree
            if not self._sharing():                       # (a model whose cache cannot be shared: found out in a pass)
                paths, cached = [[] for _ in contexts], {}
            wave, carried, waiting = next_wave(waiting, paths, cached)
            prefixes = [self._source(contexts[c], paths[c], cached) if self._sharing() else None for c in wave]
            own = [contexts[c][p.length if p else 0:] for c, p in zip(wave, prefixes)]
            for group in width_groups([len(o) for o in own], PASS_OVERHEAD_TOKENS):
                row = {wave[k]: r for r, k in enumerate(group)}
                mine = [i for k in group for i in asked[wave[k]]]
                # the nodes a context carries, and (for later batches) all but its last token when it
                # computes at least MIN_PREFIX_TOKENS of them itself
                carriers = {row[c]: [n for n, by in carried.items() if by == c] for c in row}
                for k in group:
                    if self._sharing() and len(own[k]) > MIN_PREFIX_TOKENS:
                        carriers[row[wave[k]]].append(contexts[wave[k]][:-1])
                carriers = {r: nodes for r, nodes in carriers.items() if nodes}
                got = self._score([prefixes[k] for k in group], [own[k] for k in group],
                                  [len(contexts[wave[k]]) for k in group], [row[row_of[i]] for i in mine],
                                  [continuations[i] for i in mine], carriers, cached)
                for i, answer in zip(mine, got):
                    answers[i] = answer
        return answers

    def _sharing(self) -> bool:
        return self.prefix_caching and self._plain_cache

    def _score(self, prefixes, own, ctx_lengths: list[int], row_of: list[int], continuations: list[tuple[int, ...]],
               carriers: dict[int, list[tuple[int, ...]]], cached: dict) -> list[Loglikelihood]:
        """log P(continuation | context) for each continuation of these contexts (prefix + own tokens).
        The caches of the prefixes that ``carriers`` (row -> prefixes) carry are cut from their rows
        into ``cached`` and kept in the prefix store."""
        longest = max(len(c) for c in continuations)
        out, cache, ctx_mask, skip = self._extend(prefixes, own, use_cache=longest > 1 or bool(carriers))
        if carriers and not _is_plain(cache):
            self._plain_cache = self._own_greedy = False     # another cache layout: keep to the plain path
        elif carriers:
            layers = [(layer.keys, layer.values) for layer in cache.layers]
            width = layers[0][0].shape[2] - skip
            for r, nodes in carriers.items():
                past = prefixes[r].length if prefixes[r] else 0
                whole = row_prefix(layers, r, past, skip, len(own[r]), width)
                for node in nodes:
                    cached[node] = Prefix(whole, len(node))
                    self.prefix_store.put(node, [(k[:, :, :len(node)].clone(), v[:, :, :len(node)].clone())
                                                 for k, v in whole])
        device = self.device
        ctx_len = torch.tensor(ctx_lengths, device=device)
        first_logprobs = torch.log_softmax(out.logits[:, -1, :].float(), dim=-1)
        rows = torch.tensor(row_of, device=device)
        first = torch.tensor([c[0] for c in continuations], device=device)
        logprob = first_logprobs[rows, first]
        greedy = first_logprobs[rows].argmax(-1) == first

        if longest > 1:   # feed every continuation token but the last on top of the cached context
            cache.batch_select_indices(rows)
            pad = self.tokenizer.pad_token_id
            cont_in = torch.full((len(continuations), longest - 1), pad, device=device)
            target = torch.zeros((len(continuations), longest - 1), dtype=torch.long, device=device)
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
        """Greedy continuations, at most ``rows`` decoding at once (continuous batching: a finished
        row's slot goes to the next request, harness.models.decoding); ``rows`` None: all at once."""
        encoded = [self._context_ids(r.context) for r in requests]
        for i, ids in enumerate(encoded):
            self._check_length(i, len(ids) + requests[i].max_tokens, requests[i].max_tokens)
        rows = max(1, self.rows or len(requests))
        new = None
        if self._own_greedy:
            try:
                new = greedy_decode(encoded, rows, self._prefill, self._step,
                                    lambda i, tokens: self._finished(requests[i], tokens))
            except _NotPlainCache:
                self._plain_cache = self._own_greedy = False
        if new is None:
            new = []
            for start in range(0, len(requests), rows):
                input_ids, mask = self._left_padded(encoded[start:start + rows])
                new += self._hf_generate(input_ids, mask, requests[start:start + rows])
        results = []
        for request, tokens in zip(requests, new):
            tokens = tokens[: request.max_tokens]
            if self.tokenizer.eos_token_id in tokens:
                tokens = tokens[: tokens.index(self.tokenizer.eos_token_id)]
            text, stopped = cut_at_stop(self.tokenizer.decode(tokens, skip_special_tokens=True), request.stop)
            n_tokens = len(self._encode_uncached(text)) if stopped else len(tokens)
            results.append(Generation(text=text, n_tokens=n_tokens))
        return results

    def _finished(self, request: GenerateRequest, tokens: list[int]) -> bool:
        """End of text, the request's max_tokens, or one of its stop sequences in the decoded text.
        Only the last tokens are decoded at each step (a stop that just appeared ends in them: a
        token is at least one byte, a character at most four); a stop seen there is confirmed on
        the whole text, so the answer is the whole text's."""
        if tokens[-1] == self.tokenizer.eos_token_id or len(tokens) >= request.max_tokens:
            return True
        stops = [s for s in request.stop if s]
        if not stops:
            return False
        longest = max(len(s) for s in stops)
        window = tokens[-(4 * longest + 8):]
        if len(window) < len(tokens):
            tail = self.tokenizer.decode(window, skip_special_tokens=True)
            if len(tail) >= longest + 8 and not any(s in tail for s in stops):
                return False                     # none ends in the last tokens, so none has just appeared
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        return any(s in text for s in stops)

    def _prefill(self, prompts: list[Sequence[int]]) -> Prefilled:
        """The prompts encoded together (left-padded), for harness.models.decoding."""
        input_ids, mask = self._left_padded(prompts)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        out, cache = self._forward(input_ids=input_ids, attention_mask=mask, position_ids=positions, use_cache=True,
                                   **self._last_logits_only)
        if not _is_plain(cache):
            raise _NotPlainCache
        return Prefilled(out.logits[:, -1, :], [(layer.keys, layer.values) for layer in cache.layers],
                         [len(p) for p in prompts])

    def _step(self, cache, input_ids: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        out, _ = self._forward(cache, input_ids=input_ids, attention_mask=mask, position_ids=positions, use_cache=True)
        return out.logits[:, -1, :]

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
