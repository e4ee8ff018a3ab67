"""Sentence encoders (e.g. all-MiniLM-L6-v2): mean-pooled, L2-normalized embeddings, and, given a
linear head (``head=FOLDER`` with head.safetensors and labels.json), classification."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import torch
from safetensors.torch import load_file
from transformers import AutoModel

from harness.errors import HarnessError
from harness.models.base import AnswersOnlyWhatItSupports, ModelInfo, count_parameters
from harness.models.device import dtype_name
from harness.models.heads import check_head, head_folder, head_labels
from harness.models.hf_classifier import classify_logits, tokenize_checked, tokenizer_limit
from harness.models import OPTIONS_OF
from harness.models.hf_loading import check_location, load_model_and_tokenizer
from harness.requests import Classification, ClassifyRequest
from harness.spec import ModelSpec, RuntimeOptions


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled.float(), dim=-1)


def load_head(folder: Path) -> tuple[torch.nn.Linear, tuple[str, ...]]:
    try:
        tensors = load_file(str(folder / "head.safetensors"))
        labels = tuple(json.loads((folder / "labels.json").read_text()))
    except (OSError, ValueError) as exc:
        raise HarnessError(f"cannot read the classifier head in {folder}: {exc}",
                           "give head=FOLDER holding head.safetensors and labels.json") from None
    weight, bias = tensors["weight"], tensors["bias"]
    head = torch.nn.Linear(weight.shape[1], weight.shape[0])
    head.load_state_dict({"weight": weight, "bias": bias})
    return head.eval(), labels


class SentenceEncoder(AnswersOnlyWhatItSupports):
    """Sentence encoders: mean-pooled embeddings; classify with head=FOLDER."""
    options = OPTIONS_OF["encoder"]          # the ,key=value options a spec may give (harness.preflight)
    imports = ("transformers.modeling_utils",)   # imported while a GPU idle baseline runs (runner.load_model)

    @staticmethod
    def preflight(spec: ModelSpec, options: RuntimeOptions | None = None) -> None:
        check_location(spec)
        SentenceEncoder.check_head(spec)

    check_head = staticmethod(check_head)

    @staticmethod
    def labels_of(spec: ModelSpec) -> tuple[str, ...]:
        """The head's labels (labels.json), before loading; () without a head: it does not classify."""
        folder = head_folder(spec)
        return () if folder is None else head_labels(folder, f"model {spec.name!r}")

    def __init__(self, spec: ModelSpec, options: RuntimeOptions):
        loaded = load_model_and_tokenizer(AutoModel, spec, options)
        self.model, self.tokenizer, self.device, dtype = loaded
        self.head, self.labels = None, ()
        if "head" in spec.options:
            head, self.labels = load_head(Path(spec.options["head"]).expanduser())
            self.head = head.to(self.device)
        self.supports = frozenset({ClassifyRequest}) if self.head is not None else frozenset()
        parameters = count_parameters(self.model) + (count_parameters(self.head) if self.head is not None else 0)
        self.info = ModelInfo(kind="encoder", device=str(self.device), dtype=dtype_name(dtype), parameters=parameters,
                              max_length=tokenizer_limit(self.tokenizer, self.model.config), labels=self.labels,
                              variant=self._describe(loaded, spec))

    def _describe(self, loaded, spec: ModelSpec) -> dict:
        if self.head is None:
            return loaded.describe()
        folder = Path(spec.options["head"]).expanduser()
        return loaded.describe(apart={"head": (self.head, "the classifier head is loaded apart from the encoder and "
                                                         "kept in float32; the recipe applies to the encoder")},
                               extra_files=(folder / "head.safetensors",))

    def token_count(self, text: str) -> int:
        return len(self.tokenizer(text)["input_ids"])

    @torch.inference_mode()
    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        batch = tokenize_checked(self.tokenizer, texts, self.info.max_length, self.device)
        return mean_pool(self.model(**batch).last_hidden_state, batch["attention_mask"])

    @torch.inference_mode()
    def classify(self, requests: Sequence[ClassifyRequest]) -> list[Classification]:
        embeddings = self.embed([r.text for r in requests])
        return classify_logits(self.head(embeddings), self.labels)
