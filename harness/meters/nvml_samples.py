"""What the GPU meter reads from NVML, as plain records: one telemetry sample (``GpuSample``), the
counters at a window's edge (``GpuReading``), the clock-event (throttle) reason bits, and which
NVML devices CUDA_VISIBLE_DEVICES selects. Pure data and decoding; the meter (harness.meters.nvml)
does the reading."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

# NVML clock-event (throttle) reason bits, as in nvml.h (nvmlClocksEventReason*).
CLOCK_EVENT_REASONS = {
    0x1: "gpu_idle", 0x2: "applications_clocks_setting", 0x4: "sw_power_cap", 0x8: "hw_slowdown",
    0x10: "sync_boost", 0x20: "sw_thermal_slowdown", 0x40: "hw_thermal_slowdown",
    0x80: "hw_power_brake_slowdown", 0x100: "display_clock_setting",
}
# nvmlPerfPolicyType_t, for nvmlDeviceGetViolationStatus.
VIOLATION_POLICIES = {0: "power", 1: "thermal", 2: "sync_boost", 3: "board_limit", 4: "low_utilization", 5: "reliability"}
FI_POWER_AVERAGE, FI_POWER_INSTANT = 185, 186            # NVML_FI_DEV_POWER_AVERAGE / _INSTANT
CLOCK_GRAPHICS, CLOCK_SM, CLOCK_MEM = 0, 1, 2


def decode_reasons(bits: int | None) -> list[str]:
    if bits is None:
        return []
    return [name for bit, name in CLOCK_EVENT_REASONS.items() if bits & bit]


@dataclass
class GpuSample:
    """One reading of one GPU. ``edge``: taken at a window's begin or end (power and energy only),
    so that sampled power covers the window up to its edges."""
    t: float
    gpu: int
    power_w: float | None = None
    power_avg_w: float | None = None
    energy_mj: int | None = None
    sm_mhz: int | None = None
    mem_mhz: int | None = None
    gfx_mhz: int | None = None
    pstate: int | None = None
    reasons: int | None = None
    temp_c: int | None = None
    util_gpu: int | None = None
    util_mem: int | None = None
    mem_used_mib: float | None = None
    power_limit_w: float | None = None
    edge: bool = False

    def row(self) -> dict:
        return {"t": self.t, "gpu": self.gpu, "power_w": self.power_w, "power_avg_w": self.power_avg_w,
                "energy_j": None if self.energy_mj is None else self.energy_mj / 1000, "sm_clock_mhz": self.sm_mhz,
                "mem_clock_mhz": self.mem_mhz, "gfx_clock_mhz": self.gfx_mhz, "pstate": self.pstate,
                "clock_event_reasons": "|".join(decode_reasons(self.reasons)), "temp_c": self.temp_c,
                "util_gpu_pct": self.util_gpu, "util_mem_pct": self.util_mem, "mem_used_mib": self.mem_used_mib,
                "power_limit_w": self.power_limit_w}


@dataclass(frozen=True)
class GpuReading:
    t: float
    energy_mj: dict[int, int | None]
    violations_ns: dict[int, dict[str, int]]


@dataclass
class Device:
    index: int
    handle: Any
    name: str = "?"
    unsupported: dict[str, str] = field(default_factory=dict)    # query -> NVML's message
    last_error: str | None = None                                # the latest failed query, for reasons


def visible_indices(value: str | None, count: int, uuid_of: Callable[[int], str]) -> list[int]:
    """CUDA_VISIBLE_DEVICES as NVML indices: unset means all; integers are indices; GPU-/MIG- are UUIDs."""
    if value is None:
        return list(range(count))
    chosen = []
    for item in (v.strip() for v in value.split(",") if v.strip()):
        if item.lstrip("-").isdigit():
            index = int(item)
            if index < 0:
                break                     # CUDA stops at the first invalid entry
            if index < count:
                chosen.append(index)
        else:
            chosen += [i for i in range(count) if uuid_of(i) == item]
    return chosen


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
