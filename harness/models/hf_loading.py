"""Loading Hugging Face models and tokenizers from a local folder or a hub name, with one-line errors."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from harness.errors import HarnessError
from harness.models.device import choose_device, choose_dtype
from harness.spec import ModelSpec, RuntimeOptions


OPTIONS = frozenset({"revision"})      # the ,key=value options of the hf-* adapters (see harness.preflight)


def check_location(spec: ModelSpec, options: RuntimeOptions | None = None) -> str:
    """The folder (or hub name) to load; a missing local folder is refused before anything loads."""
    location = spec.location
    if not location:
        raise HarnessError(f"model {spec.name!r}: no folder or hub name given", f"write {spec.adapter}:/path/to/model")
    local = Path(location).expanduser()
    if local.exists() or location.startswith((".", "/", "~")):
        if not local.is_dir():
            raise HarnessError(f"model {spec.name!r}: folder {location} not found", "pass an existing model folder")
        location = str(local)
    return location


def load_pretrained(loader: Callable[..., Any], spec: ModelSpec, options: RuntimeOptions, **kwargs) -> Any:
    location = check_location(spec)
    try:
        return loader(location, trust_remote_code=options.trust_remote_code,
                      revision=spec.options.get("revision"), **kwargs)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "trust_remote_code" in str(exc):
            fix = "this model ships its own code; review it, then pass --trust-remote-code"
        else:
            fix = "pass a local model folder, or go online for hub names"
        raise HarnessError(f"model {spec.name!r}: cannot load {location}: {first}", fix) from None


def load_model_and_tokenizer(model_class: Any, spec: ModelSpec, options: RuntimeOptions):
    """The tokenizer and ``model_class`` from ``spec``, on the chosen device and dtype, in eval mode.
    Returns (model, tokenizer, device, dtype)."""
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging
    hf_logging.disable_progress_bar()        # weight-loading bars are noise in an audit log
    device = choose_device(options.device)
    dtype = choose_dtype(options.dtype, device)
    tokenizer = load_pretrained(AutoTokenizer.from_pretrained, spec, options)
    model = load_pretrained(model_class.from_pretrained, spec, options, dtype=dtype)
    model.to(device).eval()
    return model, tokenizer, device, dtype
