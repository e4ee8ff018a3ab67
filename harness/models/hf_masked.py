"""Hugging Face masked language models (BERT, RoBERTa, ...): pseudo-log-likelihoods.

``pseudo_loglikelihood(text, positions)`` masks each chosen token in turn and sums
log P(token | the rest), as Salazar et al. (2020) and CrowS-Pairs' metric (Nangia et al., 2020)
do; the bias probes call it for the tokens two sentences share.
"""
from __future__ import annotations

from typing import Sequence

import torch
from transformers import AutoModelForMaskedLM

from harness.models.base import AnswersOnlyWhatItSupports, ModelInfo, count_parameters
from harness.models.device import dtype_name
from harness.models.errors import InputTooLong
from harness.models.hf_classifier import tokenizer_limit
from harness.models.hf_loading import OPTIONS, check_location, load_model_and_tokenizer
from harness.spec import ModelSpec, RuntimeOptions


class HFMaskedLM(AnswersOnlyWhatItSupports):
    """Hugging Face masked LMs: pseudo-log-likelihoods of chosen tokens."""
    options = OPTIONS                        # the ,key=value options a spec may give (harness.preflight)
    imports = ("transformers.modeling_utils",)   # imported while a GPU idle baseline runs (runner.load_model)
    preflight = staticmethod(check_location)
    labels_of = staticmethod(lambda spec: ())     # before loading: it answers no classification (harness.preflight)

    supports = frozenset()

    def __init__(self, spec: ModelSpec, options: RuntimeOptions, batch_size: int = 32):
        loaded = load_model_and_tokenizer(AutoModelForMaskedLM, spec, options)
        self.model, self.tokenizer, self.device, dtype = loaded
        self.batch_size = batch_size
        self.info = ModelInfo(kind="hf-masked", device=str(self.device), dtype=dtype_name(dtype),
                              parameters=count_parameters(self.model), variant=loaded.describe(),
                              max_length=tokenizer_limit(self.tokenizer, self.model.config))

    def token_count(self, text: str) -> int:
        return len(self.tokenizer(text)["input_ids"])

    def token_ids(self, text: str) -> list[int]:
        """The text's ids with the special tokens the model expects around them."""
        return self.tokenizer(text)["input_ids"]

    @torch.inference_mode()
    def pseudo_loglikelihood(self, ids: Sequence[int], positions: Sequence[int]) -> float:
        """Sum over ``positions`` of log P(ids[p] | ids with p masked)."""
        if self.info.max_length and len(ids) > self.info.max_length:
            raise InputTooLong(0, len(ids), self.info.max_length)
        base = torch.tensor(ids, device=self.device)
        total = 0.0
        for start in range(0, len(positions), self.batch_size):
            chunk = list(positions[start:start + self.batch_size])
            batch = base.repeat(len(chunk), 1)
            rows = torch.arange(len(chunk), device=self.device)
            cols = torch.tensor(chunk, device=self.device)
            batch[rows, cols] = self.tokenizer.mask_token_id
            logits = self.model(input_ids=batch).logits[rows, cols].float()
            total += float(torch.log_softmax(logits, -1)[rows, base[cols]].sum())
        return total
