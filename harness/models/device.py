"""Choosing the device and dtype: cuda with bf16 (fp16 where bf16 is unsupported) when a GPU is
present, otherwise cpu with fp32. --device and --dtype override."""
from __future__ import annotations

from typing import TYPE_CHECKING

from harness.errors import HarnessError
from harness.preload import imported

if TYPE_CHECKING:
    import torch

# dtype names -> torch dtype attribute names (torch is imported only when a device is chosen)
DTYPES = {"float32": "float32", "fp32": "float32", "bfloat16": "bfloat16", "bf16": "bfloat16",
          "float16": "float16", "fp16": "float16"}


def choose_device(requested: str | None) -> "torch.device":
    import torch
    if requested is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(requested)
    except RuntimeError:
        raise HarnessError(f"unknown device {requested!r}", "use cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise HarnessError(f"--device {requested} asked for, but torch sees no CUDA GPU",
                           "use --device cpu, or install a CUDA build of torch (see README)")
    return device


def choose_dtype(requested: str | None, device: "torch.device") -> "torch.dtype":
    import torch
    if requested is not None:
        if requested not in DTYPES:
            raise HarnessError(f"unknown dtype {requested!r}", f"use one of {', '.join(sorted(DTYPES))}")
        return getattr(torch, DTYPES[requested])
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def dtype_name(dtype: "torch.dtype") -> str:
    return str(dtype).removeprefix("torch.")


def is_out_of_memory(exc: BaseException) -> bool:
    torch = imported("torch")            # an exception from torch means torch is imported already
    if isinstance(exc, MemoryError) or (torch is not None and isinstance(exc, torch.cuda.OutOfMemoryError)):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()
