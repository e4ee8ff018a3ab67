"""The classifier-head folder an encoder spec may name (``head=FOLDER``), checked before anything loads."""
from __future__ import annotations

from pathlib import Path

from harness.errors import HarnessError
from harness.spec import ModelSpec, RuntimeOptions


def check_head(spec: ModelSpec, options: RuntimeOptions | None = None) -> None:
    if "head" in spec.options and not Path(spec.options["head"]).expanduser().exists():
        raise HarnessError(f"model {spec.name!r}: head {spec.options['head']} not found",
                           "pass head=FOLDER written by model/train_minilm_head.py (or leave it out)")
