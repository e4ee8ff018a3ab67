"""Choosing the device and dtype: cuda with bf16 (fp16 where bf16 is unsupported) when a GPU is
present, otherwise cpu with fp32. --device and --dtype override."""
from __future__ import annotations

import torch

from harness.errors import HarnessError

DTYPES = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
          "float16": torch.float16, "fp16": torch.float16}


def choose_device(requested: str | None) -> torch.device:
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


def choose_dtype(requested: str | None, device: torch.device) -> torch.dtype:
    if requested is not None:
        if requested not in DTYPES:
            raise HarnessError(f"unknown dtype {requested!r}", f"use one of {', '.join(sorted(DTYPES))}")
        return DTYPES[requested]
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, (torch.cuda.OutOfMemoryError, MemoryError)):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()
