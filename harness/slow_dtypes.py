"""Dtypes known to run slowly on a device, named before a run starts (`harness run` prints a warning).

float16 on a CPU has no fast matrix kernels in torch: every operation is upcast and written back,
and a three-variant comparison spent 520 of its 562 s in the fp16 model. bfloat16 on a CPU is fast
only where the CPU has bf16 instructions (AVX512_BF16 or AMX); elsewhere it is emulated too.
Measured here with benchmarks/dtype_speed.py (README, "Slow dtypes").

The check loads nothing: it reads the dtype each model asks for (``dtype=`` in its spec, else
--dtype) and the device (--device, else cuda when torch sees one); torch is imported only when a
model asks for a half-precision dtype and no --device says where it runs.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from harness.spec import ModelSpec, RuntimeOptions

HALF = {"float16": "float16", "fp16": "float16", "bfloat16": "bfloat16", "bf16": "bfloat16"}
BF16_FLAGS = ("avx512_bf16", "amx_bf16")
# measured here (benchmarks/dtype_speed.py, README "Slow dtypes"), against float32 on the same CPU
FP16_ON_CPU = ("float16 on a CPU runs up to ~20x slower than float32 (measured: a 26M-parameter GPT-2's forward pass "
               "18.6x, its generation 3.3x; tiny-gpt2 3.0x and 1.1x); use float32 on a CPU, or bfloat16 where the "
               "CPU has bf16 instructions")
BF16_ON_CPU = ("this CPU has no bf16 instructions (AVX512_BF16 or AMX), so bfloat16 products are converted in software "
               "and usually run slower than float32; use float32 on a CPU")


def cpu_has_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool | None:
    """Whether the CPU has bf16 instructions; None when it cannot be told (not Linux)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return None
    flags = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[-1].split())
    return any(flag in flags for flag in BF16_FLAGS)


def _device_type(runtime: RuntimeOptions) -> str:
    if runtime.device is not None:
        return runtime.device.split(":")[0]
    import torch
    return "cuda" if torch.cuda.is_available() else "cpu"


def warnings(models: Sequence[ModelSpec], runtime: RuntimeOptions, bf16_instructions: bool | None = None) -> list[str]:
    """One line per model whose dtype is known to be slow on its device."""
    asked = {spec.name: HALF.get(spec.options.get("dtype") or runtime.dtype or "") for spec in models}
    slow = {name: dtype for name, dtype in asked.items() if dtype}
    if not slow or _device_type(runtime) != "cpu":
        return []
    if bf16_instructions is None:
        bf16_instructions = cpu_has_bf16()
    out = []
    for name, dtype in slow.items():
        if dtype == "float16":
            out.append(f"model {name!r} runs in float16 on the CPU: {FP16_ON_CPU}")
        elif bf16_instructions is False:
            out.append(f"model {name!r} runs in bfloat16 on the CPU: {BF16_ON_CPU}")
    return out
