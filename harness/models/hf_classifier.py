"""Hugging Face sequence classifiers (BERT, RoBERTa, ... with a classification head)."""
from __future__ import annotations

from typing import Sequence

import torch
from transformers import AutoModelForSequenceClassification

from harness.models.base import AnswersOnlyWhatItSupports, ModelInfo, count_parameters
from harness.models.device import dtype_name
from harness.models.errors import InputTooLong
from harness.models.hf_loading import OPTIONS, check_location, load_model_and_tokenizer
from harness.requests import Classification, ClassifyRequest
from harness.spec import ModelSpec, RuntimeOptions


def config_labels(spec: ModelSpec) -> tuple[str, ...] | None:
    """id2label of a local model folder's config.json in index order (transformers' LABEL_i when absent);
    None when that cannot be read without loading (a hub name, an unreadable config)."""
    import json
    from pathlib import Path
    from harness.models.locations import is_local
    if not spec.location or not is_local(spec.location):
        return None
    try:
        config = json.loads((Path(spec.location).expanduser() / "config.json").read_text(encoding="utf-8"))
        id2label = config.get("id2label") or {str(i): f"LABEL_{i}" for i in range(int(config.get("num_labels", 2)))}
        return tuple(str(id2label[str(i)]) for i in range(len(id2label)))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def classify_logits(logits: torch.Tensor, labels: Sequence[str]) -> list[Classification]:
    probs = torch.softmax(logits.float(), dim=-1).cpu()
    out = []
    for row in probs:
        out.append(Classification(label=labels[int(row.argmax())],
                                  probs={label: float(p) for label, p in zip(labels, row)}))
    return out


def tokenize_checked(tokenizer, texts: Sequence[str], limit: int | None, device):
    batch = tokenizer(list(texts), return_tensors="pt", padding=True)
    if limit and batch["input_ids"].shape[1] > limit:
        lengths = batch["attention_mask"].sum(1).tolist()
        worst = max(range(len(lengths)), key=lengths.__getitem__)
        raise InputTooLong(worst, lengths[worst], limit)
    return batch.to(device)


def tokenizer_limit(tokenizer, config) -> int | None:
    limits = [v for v in (tokenizer.model_max_length, getattr(config, "max_position_embeddings", None))
              if v and v < 1_000_000]
    return min(limits) if limits else None


class HFSequenceClassifier(AnswersOnlyWhatItSupports):
    """Hugging Face sequence classifiers: labels from the classification head."""
    options = OPTIONS                        # the ,key=value options a spec may give (harness.preflight)
    imports = ("transformers.modeling_utils",)   # imported while a GPU idle baseline runs (runner.load_model)
    preflight = staticmethod(check_location)

    supports = frozenset({ClassifyRequest})

    @staticmethod
    def labels_of(spec: ModelSpec) -> tuple[str, ...] | None:
        """The labels of a local folder's config.json (id2label), before loading; None for a hub name."""
        return config_labels(spec)

    def __init__(self, spec: ModelSpec, options: RuntimeOptions):
        loaded = load_model_and_tokenizer(AutoModelForSequenceClassification, spec, options)
        self.model, self.tokenizer, self.device, dtype = loaded
        id2label = self.model.config.id2label
        self.labels = tuple(str(id2label[i]) for i in range(len(id2label)))
        self.info = ModelInfo(kind="hf-classifier", device=str(self.device), dtype=dtype_name(dtype),
                              parameters=count_parameters(self.model), variant=loaded.describe(),
                              max_length=tokenizer_limit(self.tokenizer, self.model.config), labels=self.labels)

    def token_count(self, text: str) -> int:
        return len(self.tokenizer(text)["input_ids"])

    @torch.inference_mode()
    def classify(self, requests: Sequence[ClassifyRequest]) -> list[Classification]:
        batch = tokenize_checked(self.tokenizer, [r.text for r in requests], self.info.max_length, self.device)
        return classify_logits(self.model(**batch).logits, self.labels)
