"""Hugging Face causal models for the engine tests: the embedded tiny-gpt2 and random-init GPT-2s
(no download), each as an HFCausalLM adapter on CPU."""
from __future__ import annotations

from pathlib import Path

import torch

from harness.models.hf_causal import HFCausalLM
from harness.resources import builtin_dir
from harness.spec import ModelSpec, RuntimeOptions

CPU = RuntimeOptions(device="cpu")


def random_gpt2(folder: Path, layers: int = 2, width: int = 64, heads: int = 4, positions: int = 512,
                seed: int = 0) -> HFCausalLM:
    """A seeded random-init GPT-2 with the tiny-gpt2 tokenizer, saved in ``folder`` and loaded."""
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel
    tokenizer = AutoTokenizer.from_pretrained(builtin_dir("model") / "tiny-gpt2")
    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=positions, n_embd=width, n_layer=layers, n_head=heads,
                        eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.bos_token_id)
    GPT2LMHeadModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return HFCausalLM(ModelSpec("random", "hf-causal", str(folder)), CPU)


def scored(adapter, requests, batch: int, prefix_caching: bool) -> list:
    """The adapter's log-likelihoods of ``requests`` in batches of ``batch``, with the prefix cache
    on or off (and emptied before and after)."""
    adapter.prefix_caching = prefix_caching
    adapter.prefix_store.clear()
    try:
        return [x for i in range(0, len(requests), batch) for x in adapter.loglikelihood(requests[i:i + batch])]
    finally:
        adapter.prefix_caching = True
        adapter.prefix_store.clear()


class Forwards:
    """Counts the model's forward calls and the input positions they compute, while in a ``with``."""

    def __init__(self, model):
        self.calls, self.positions = 0, 0
        self._hook = model.register_forward_pre_hook(self._count, with_kwargs=True)

    def _count(self, module, args, kwargs):
        self.calls += 1
        self.positions += int(kwargs["input_ids"].numel())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._hook.remove()
