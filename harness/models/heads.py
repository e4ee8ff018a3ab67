"""The classifier-head folder an encoder spec may name (``head=FOLDER`` holding head.safetensors and
labels.json), checked before anything loads: a folder that is missing, a file, or lacks either file is
a one-line error before the run, not a failed load after the tasks ran."""
from __future__ import annotations

import json
from pathlib import Path

from harness.errors import HarnessError
from harness.models.locations import path_hint, what_it_is
from harness.spec import ModelSpec, RuntimeOptions

FIX = "pass head=FOLDER written by model/train_minilm_head.py (head.safetensors and labels.json), or leave it out"


def head_folder(spec: ModelSpec) -> Path | None:
    return Path(spec.options["head"]).expanduser() if "head" in spec.options else None


def head_labels(folder: Path, owner: str) -> tuple[str, ...]:
    """The labels of a head folder's labels.json: a list of distinct strings."""
    try:
        labels = json.loads((folder / "labels.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise HarnessError(f"{owner}: cannot read {folder / 'labels.json'} ({type(exc).__name__})", FIX) from None
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels) \
            or len(set(labels)) != len(labels):
        raise HarnessError(f"{owner}: {folder / 'labels.json'} is not a list of distinct label strings", FIX)
    return tuple(labels)


def check_head(spec: ModelSpec, options: RuntimeOptions | None = None) -> None:
    folder = head_folder(spec)
    if folder is None:
        return
    owner = f"model {spec.name!r}"
    if not folder.is_dir():
        found = what_it_is(folder)
        raise HarnessError(f"{owner}: head {spec.options['head']} {'not found' if found == 'not found' else 'is ' + found}",
                           path_hint(folder, FIX))
    missing = [name for name in ("head.safetensors", "labels.json") if not (folder / name).is_file()]
    if missing:
        raise HarnessError(f"{owner}: head folder {spec.options['head']} holds no {' or '.join(missing)}", FIX)
    head_labels(folder, owner)
