"""Peak memory of one model, from before it loads to after its last task and probe.

On a CUDA device: ``torch.cuda.max_memory_allocated`` (the caching allocator's peak of tensor
memory; the allocator's reserve and the CUDA context are not in it), its peak reset before the
model loads. On the CPU: the process's peak resident set size. Linux lets a process reset that
high-water mark (``5`` written to /proc/self/clear_refs), so VmHWM from /proc/self/status is the
peak since the model started to load; where the reset is refused, ``resource.getrusage``'s
ru_maxrss is the peak since the process started and includes the models before this one, and the
figure's source says so. The figure is ``{value, unit: "bytes", source}``, or not_measured with
the reason.
"""
from __future__ import annotations

import sys
from pathlib import Path

from harness.preload import imported

CUDA_SOURCE = "torch.cuda.max_memory_allocated"
HWM_SOURCE = "process peak RSS since the model started loading (VmHWM, reset through /proc/self/clear_refs)"
MAXRSS_SOURCE = "process peak RSS since the process started (resource.getrusage ru_maxrss; includes earlier models)"


def _cuda_ready() -> bool:
    torch = imported("torch")
    return torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized()


def _vm_hwm_bytes() -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


class PeakMemory:
    def __init__(self) -> None:
        self.hwm_reset = False

    def reset(self) -> None:
        """Called before the model loads."""
        if _cuda_ready():
            import torch
            for i in range(torch.cuda.device_count()):
                torch.cuda.reset_peak_memory_stats(i)
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self.hwm_reset = _vm_hwm_bytes() is not None
        except OSError:
            self.hwm_reset = False

    def read(self, device: str) -> dict:
        """The model's peak memory on ``device`` (its adapter's device string)."""
        if str(device).startswith("cuda"):
            if not _cuda_ready():
                return {"value": None, "unit": "bytes", "source": "not_measured",
                        "reason": "CUDA was not initialized in this process"}
            import torch
            return {"value": int(torch.cuda.max_memory_allocated(torch.device(device))), "unit": "bytes",
                    "source": CUDA_SOURCE, "device": str(device)}
        if self.hwm_reset:
            value = _vm_hwm_bytes()
            if value is not None:
                return {"value": value, "unit": "bytes", "source": HWM_SOURCE, "device": str(device)}
        try:
            import resource
        except ImportError:
            return {"value": None, "unit": "bytes", "source": "not_measured", "reason": "no resource module here"}
        scale = 1 if sys.platform == "darwin" else 1024      # bytes on macOS, kilobytes on Linux
        return {"value": int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * scale, "unit": "bytes",
                "source": MAXRSS_SOURCE, "device": str(device)}
