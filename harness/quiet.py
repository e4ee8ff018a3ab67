"""Dropping three kinds of import-time log noise, by message, so they cannot bury a one-line error.

torchao (installed for ``quantize=``; transformers and evaluate import it whenever it is present)
logs each CUDA extension that a CPU build of torch cannot load ("Failed to load .../_C_*.so"), and
torch logs, for each enum torchao registers, that the registration is deprecated, and without a GPU
torchao warns that Triton (a GPU compiler) is missing. None of these concerns what harness runs. Every other message of these loggers (a warning while quantizing, say) still
shows. Installed once, from harness/__init__.py; logging is the standard library, so this costs nothing.
"""
from __future__ import annotations

import logging

_NOISE = {"torchao": lambda msg: msg.startswith("Failed to load ") and ".so" in msg,
          "torchao.kernel.intmm": lambda msg: "Detected no triton" in msg and not _cuda(),
          "torch.utils._pytree": lambda msg: "is an Enum subclass and is now natively supported" in msg}


def _cuda() -> bool:
    import torch
    return torch.cuda.is_available()


class _DropNoise(logging.Filter):
    def __init__(self, is_noise):
        super().__init__()
        self.is_noise = is_noise

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            return not self.is_noise(record.getMessage())
        except Exception:       # a record whose message cannot be formatted is not ours to judge
            return True


def install() -> None:
    for name, is_noise in _NOISE.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropNoise) for f in logger.filters):
            logger.addFilter(_DropNoise(is_noise))
