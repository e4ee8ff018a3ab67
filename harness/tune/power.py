"""The GPU power limit as a `harness tune` knob, only behind ``--power-limits W[,W]``.

Setting a power limit changes the machine for every process on it and needs administrator rights,
so it is never done unless the user names the limits. Each trial's limit is set through NVML
(``nvmlDeviceSetPowerManagementLimit``, milliwatts) on every visible GPU, checked against the
device's allowed range first, and the limit each GPU had before is restored when the trial ends,
however it ends (an exception, Ctrl-C). A kill -9 cannot restore it: the command says so, and the
limit it found is in tune.json (``power_limits_found_w``) to restore by hand (``nvidia-smi -pl W``).

The NVML module is a parameter (``nvml``): tests pass the synthetic NVML of tests/fake_nvml.py and no
real setting is ever touched by them.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from harness.errors import HarnessError


def _open(nvml: Any | None) -> Any:
    if nvml is None:
        try:
            import pynvml as nvml
        except ImportError:
            nvml = None
    try:
        if nvml is None:
            raise RuntimeError("nvidia-ml-py is not installed")
        nvml.nvmlInit()
    except Exception as exc:
        raise HarnessError(f"--power-limits needs an NVIDIA GPU and its driver (NVML: {exc})",
                           "drop --power-limits on a machine without a GPU") from None
    return nvml


def found_limits(nvml: Any | None = None) -> dict[int, float]:
    """Each GPU's current power limit in watts; checks every requested device is reachable."""
    nvml = _open(nvml)
    out = {}
    for i in range(nvml.nvmlDeviceGetCount()):
        out[i] = nvml.nvmlDeviceGetPowerManagementLimit(nvml.nvmlDeviceGetHandleByIndex(i)) / 1000
    if not out:
        raise HarnessError("--power-limits: NVML sees no GPU", "drop --power-limits on a machine without a GPU")
    return out


def check_limits(watts: tuple[int, ...], nvml: Any | None = None) -> None:
    """Every requested limit within every GPU's allowed range, before any trial runs."""
    nvml = _open(nvml)
    for i in range(nvml.nvmlDeviceGetCount()):
        low, high = nvml.nvmlDeviceGetPowerManagementLimitConstraints(nvml.nvmlDeviceGetHandleByIndex(i))
        bad = [w for w in watts if not low / 1000 <= w <= high / 1000]
        if bad:
            raise HarnessError(f"--power-limits {','.join(map(str, bad))} W is outside GPU {i}'s range "
                               f"{low / 1000:g}-{high / 1000:g} W",
                               f"pick limits from {low / 1000:g} to {high / 1000:g} W")


@contextmanager
def applied(watts: int | None, nvml: Any | None = None) -> Iterator[None]:
    """Sets every GPU's power limit to ``watts`` for the body and restores the limits found; None: nothing."""
    if watts is None:
        yield
        return
    nvml = _open(nvml)
    handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(nvml.nvmlDeviceGetCount())]
    before = [nvml.nvmlDeviceGetPowerManagementLimit(h) for h in handles]
    changed = []
    try:
        for handle in handles:
            try:
                nvml.nvmlDeviceSetPowerManagementLimit(handle, int(watts * 1000))
            except Exception as exc:        # NVMLError_NoPermission and kin
                raise HarnessError(f"cannot set the GPU power limit to {watts} W (NVML: {exc})",
                                   "run as a user allowed to set power limits, or drop --power-limits") from None
            changed.append(handle)
        yield
    finally:
        for handle, milliwatts in zip(handles, before):
            if handle in changed:
                nvml.nvmlDeviceSetPowerManagementLimit(handle, milliwatts)
