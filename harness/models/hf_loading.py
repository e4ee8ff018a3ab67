"""Loading Hugging Face models and tokenizers from a local folder or a hub name (harness.models.locations
decides which, before the run), with one-line errors."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from harness.errors import HarnessError
from harness.models import OPTIONS_OF, footprint, variants
from harness.models.device import choose_device, choose_dtype
from harness.models.locations import check_location, location_of
from harness.redact import cut, secret
from harness.spec import ModelSpec, RuntimeOptions


# the ,key=value options of the hf-* adapters (see harness.preflight), from the one table, harness.models.OPTIONS_OF
OPTIONS = OPTIONS_OF["hf-causal"]


__all__ = ["OPTIONS", "Loaded", "check_location", "load_model_and_tokenizer", "load_pretrained"]


def load_pretrained(loader: Callable[..., Any], spec: ModelSpec, options: RuntimeOptions, **kwargs) -> Any:
    location = location_of(spec)
    for variable in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):  # a hub error may quote the token: redacted everywhere
        secret(os.environ.get(variable))
    try:
        return loader(location, trust_remote_code=options.trust_remote_code,
                      revision=spec.options.get("revision"), **kwargs)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        first = cut(first, 300)                                   # the token redacted (whole or in part), then cut
        if "trust_remote_code" in str(exc):
            fix = "this model ships its own code; review it, then pass --trust-remote-code"
        else:
            fix = "pass a local model folder, or go online for hub names"
        raise HarnessError(f"model {spec.name!r}: cannot load {location}: {first}", fix) from None


@dataclass(frozen=True)
class Loaded:
    """What ``load_model_and_tokenizer`` gives back: the model with the spec's recipe applied
    (harness.models.variants), its tokenizer, device and dtype, and ``describe`` for results.json.
    Unpacks as (model, tokenizer, device, dtype)."""
    model: Any
    tokenizer: Any
    device: Any
    dtype: Any
    applied: dict                   # what harness.models.variants.apply did
    files: list[Path]               # the weight files loaded ([] when they cannot be named)
    files_reason: str | None        # why not, when files is []

    def __iter__(self):
        return iter((self.model, self.tokenizer, self.device, self.dtype))

    def describe(self, apart: dict | None = None, extra_files: tuple[Path, ...] = ()) -> dict:
        """The models.<m> keys (recipe, parameters, sizes, dtypes, quantization, sparsity); ``apart``:
        {name: (module, why)} for modules loaded beside the model that the recipe did not touch."""
        files = [*self.files, *extra_files] if self.files else []
        return footprint.measure([self.model], self.applied, files, self.files_reason, apart)


def load_model_and_tokenizer(model_class: Any, spec: ModelSpec, options: RuntimeOptions) -> Loaded:
    """The tokenizer and ``model_class`` from ``spec``, on the chosen device and dtype (the spec's
    ``dtype=`` over --dtype), in eval mode, with the spec's recipe applied: the one place every
    built-in adapter's model is compressed. Unpacks as (model, tokenizer, device, dtype)."""
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging
    hf_logging.disable_progress_bar()        # weight-loading bars are noise in an audit log
    recipe = variants.recipe_of(spec)
    device = choose_device(options.device)
    dtype = choose_dtype(recipe.dtype or options.dtype, device)
    tokenizer = load_pretrained(AutoTokenizer.from_pretrained, spec, options)
    model = load_pretrained(model_class.from_pretrained, spec, options, dtype=dtype)
    model.to(device).eval()
    applied = variants.apply(model, recipe)
    files, reason = footprint.weight_files(location_of(spec), spec.options.get("revision"))
    return Loaded(model, tokenizer, device, dtype, applied, files, reason)
