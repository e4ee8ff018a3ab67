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
