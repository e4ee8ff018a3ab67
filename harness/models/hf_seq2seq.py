"""Hugging Face encoder-decoder models (T5, BART, ...): log-likelihoods and greedy generation.
Each distinct context is encoded once; its encoder states are shared by its continuations."""
from __future__ import annotations

from typing import Sequence

import torch
from transformers import AutoModelForSeq2SeqLM
from transformers.modeling_outputs import BaseModelOutput

from harness.batching import shared_contexts
from harness.models.base import AnswersOnlyWhatItSupports, ModelInfo, count_parameters
from harness.models.device import dtype_name
from harness.models.hf_classifier import tokenize_checked
from harness.models.hf_causal import cut_at_stop
from harness.models.hf_loading import OPTIONS, check_location, load_model_and_tokenizer
from harness.requests import Generation, GenerateRequest, Loglikelihood, LoglikelihoodRequest
from harness.spec import ModelSpec, RuntimeOptions


class HFSeq2SeqLM(AnswersOnlyWhatItSupports):
    """Hugging Face encoder-decoder models: log-likelihoods and greedy generation."""
    options = OPTIONS                        # the ,key=value options a spec may give (harness.preflight)
    imports = ("transformers.modeling_utils",)   # imported while a GPU idle baseline runs (runner.load_model)
    preflight = staticmethod(check_location)
    labels_of = staticmethod(lambda spec: ())     # before loading: it answers no classification (harness.preflight)

    supports = frozenset({LoglikelihoodRequest, GenerateRequest})

    def __init__(self, spec: ModelSpec, options: RuntimeOptions):
        loaded = load_model_and_tokenizer(AutoModelForSeq2SeqLM, spec, options)
        self.model, self.tokenizer, self.device, dtype = loaded
        limit = self.tokenizer.model_max_length if self.tokenizer.model_max_length < 1_000_000 else None
        self.info = ModelInfo(kind="hf-seq2seq", device=str(self.device), dtype=dtype_name(dtype),
                              parameters=count_parameters(self.model), variant=loaded.describe(), max_length=limit)

    def token_count(self, text: str) -> int:
        return len(self.tokenizer(text)["input_ids"])

    def _encode_batch(self, texts: Sequence[str]):
        return tokenize_checked(self.tokenizer, texts, self.info.max_length, self.device)

    @torch.inference_mode()
    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[Loglikelihood]:
        contexts, row_of = shared_contexts(requests)
        enc = self._encode_batch(contexts)
        states = self.model.get_encoder()(**enc).last_hidden_state
        rows = torch.tensor(row_of, device=self.device)
        labels = self.tokenizer(text_target=[r.continuation.lstrip() for r in requests], return_tensors="pt",
                                padding=True).to(self.device)
        label_ids = labels["input_ids"].masked_fill(labels["attention_mask"] == 0, -100)
        out = self.model(encoder_outputs=BaseModelOutput(last_hidden_state=states[rows]),
                         attention_mask=enc["attention_mask"][rows], labels=label_ids)
        logprobs = torch.log_softmax(out.logits.float(), dim=-1)
        results = []
        for i in range(len(requests)):
            keep = label_ids[i] != -100
            target = label_ids[i][keep]
            dist = logprobs[i][keep]
            results.append(Loglikelihood(logprob=float(dist.gather(1, target[:, None]).sum()),
                                         is_greedy=bool((dist.argmax(-1) == target).all()), n_tokens=int(keep.sum())))
        return results

    @torch.inference_mode()
    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        enc = self._encode_batch([r.context for r in requests])
        out = self.model.generate(**enc, max_new_tokens=max(r.max_tokens for r in requests), do_sample=False)
        results = []
        for i, r in enumerate(requests):
            ids = [t for t in out[i].tolist() if t not in self.tokenizer.all_special_ids][: r.max_tokens]
            text, _ = cut_at_stop(self.tokenizer.decode(ids, skip_special_tokens=True), r.stop)
            results.append(Generation(text=text, n_tokens=len(ids)))
        return results
