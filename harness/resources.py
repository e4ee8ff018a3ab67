"""Where the shipped tasks/ and model/ folders are: inside the wheel (harness/_builtin/), or,
in a source checkout or editable install, beside the package."""
from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def builtin_dir(name: str) -> Path:
    """``builtin_dir("tasks")`` or ``builtin_dir("model")``."""
    packaged = _PACKAGE / "_builtin" / name
    return packaged if packaged.is_dir() else _PACKAGE.parent / name
