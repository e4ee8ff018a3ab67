"""The GPU meter (nvidia-ml-py). Read-only: it never changes a clock, limit or mode.

* Window energy from the hardware total-energy counter (Volta and newer), and from sampled power
  integrated over time (trapezoids, interpolated at the window's edges); both are reported,
  with their discrepancy, when both exist.
* A sampler thread (default every 100 ms) records power (instant and averaged field values
  where supported), energy, SM/memory/graphics clocks, P-state, clock-event (throttle) reasons,
  temperature, utilization, memory used and the enforced power limit.
* Sampled power is integrated only between two good samples: a window the sampler did not cover
  (NVML failed, e.g. "GPU is lost", or the run ended between samples) is never filled in by
  holding a value. A window whose counter read failed falls back to that integral with its
  ``coverage`` (fraction of the window's seconds), or reads not_measured with NVML's error.
* An idle baseline taken before the run gives net-of-idle energies: measured in blocks until two
  consecutive blocks agree (see `_idle_baseline`). With ``background_baseline`` it is taken on the
  sampler thread while the run imports its model libraries (seconds of CPU work in which the GPU
  sits idle anyway); ``ready()`` returns once it is done, and the runner calls it before a model
  touches the GPU.
* Windows shorter than five counter-update periods are flagged ``short_window``.
* Missing NVML, a MIG device or an unsupported query is reported as not_measured, with the reason.
"""
from __future__ import annotations

import os
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from harness.meters.figures import measured, not_measured

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
DEFAULT_UPDATE_PERIOD_S = 0.1
IDLE_AGREE, IDLE_AGREE_W, IDLE_CAP_S = 0.05, 2.0, 10.0   # idle blocks agree within 5 % or 2 W; at most 10 s


def _agree(a: dict[int, float], b: dict[int, float]) -> bool:
    return a.keys() == b.keys() and all(abs(a[k] - b[k]) <= max(IDLE_AGREE_W, IDLE_AGREE * abs(b[k])) for k in a)


def decode_reasons(bits: int | None) -> list[str]:
    if bits is None:
        return []
    return [name for bit, name in CLOCK_EVENT_REASONS.items() if bits & bit]


@dataclass
class GpuSample:
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
class _Device:
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


class NvmlMeter:
    name = "gpu"

    def __init__(self, period_s: float = 0.1, idle_s: float = 2.0, nvml: Any = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 threaded: bool = True, visible: str | None = None, background_baseline: bool = False):
        self.period_s, self.idle_s = period_s, idle_s
        self._background = background_baseline and threaded
        self._baseline_done: threading.Event | None = None
        self._nvml, self._clock, self._sleep, self._threaded = nvml, clock, sleep, threaded
        self._visible = visible if visible is not None else os.environ.get("CUDA_VISIBLE_DEVICES")
        self.devices: list[_Device] = []
        self.unavailable: str | None = None
        self.samples: list[GpuSample] = []
        self._emitted = 0
        self.idle_power_w: dict[int, float] = {}
        self._env: dict = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sampler_cpu_s = 0.0

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> None:
        nv = self._nvml
        try:
            if nv is None:
                import pynvml as nv
                self._nvml = nv
            nv.nvmlInit()
        except Exception as exc:   # NVMLError_LibraryNotFound, DriverNotLoaded, ImportError...
            self.unavailable = str(exc) or type(exc).__name__
            return
        self._env = {"driver_version": self._query(None, "driver", nv.nvmlSystemGetDriverVersion),
                     "nvml_version": self._query(None, "nvml", nv.nvmlSystemGetNVMLVersion), "gpus": []}
        count = nv.nvmlDeviceGetCount()
        handles = {i: nv.nvmlDeviceGetHandleByIndex(i) for i in range(count)}
        for index in visible_indices(self._visible, count, lambda i: _text(nv.nvmlDeviceGetUUID(handles[i]))):
            device = _Device(index, handles[index], name=_text(nv.nvmlDeviceGetName(handles[index])))
            info = self._describe(device)
            self._env["gpus"].append(info)
            if info.get("mig_mode") == 1:
                info["reason"] = "MIG mode is on: NVML gives no per-instance power or energy"
                continue
            self.devices.append(device)
        if not self.devices:
            self.unavailable = "no GPU visible to this process" if not self._env["gpus"] else "no measurable GPU (see environment)"
            return
        if self._background and self.idle_s > 0:
            self._baseline_done = threading.Event()
            self._thread = threading.Thread(target=self._baseline_then_loop, name="harness-gpu-sampler", daemon=True)
            self._thread.start()
            return
        self._idle_baseline()
        if self._threaded:
            self._thread = threading.Thread(target=self._loop, name="harness-gpu-sampler", daemon=True)
            self._thread.start()

    def ready(self) -> None:
        """Returns once the idle baseline is taken (at once when it was taken in ``start``)."""
        if self._baseline_done is not None:
            self._baseline_done.wait()

    def _baseline_then_loop(self) -> None:
        try:
            self._idle_baseline()
            if "idle_baseline" in self._env:
                self._env["idle_baseline"]["overlapped"] = "taken on a thread while the run imported its libraries"
        finally:
            self._baseline_done.set()
        self._loop()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        if self._nvml is not None and self.unavailable is None:
            try:
                self._nvml.nvmlShutdown()
            except Exception:
                pass

    def _loop(self) -> None:
        next_t = self._clock()
        while not self._stop.is_set():
            started = time.thread_time()
            self.sample_once()
            self.sampler_cpu_s += time.thread_time() - started
            next_t += self.period_s
            self._stop.wait(max(0.0, next_t - self._clock()))

    def _idle_baseline(self) -> None:
        """Idle power, measured in blocks of min(1 s, idle_s / 2) for at least ``idle_s`` seconds and
        until the last two blocks agree within IDLE_AGREE (relative) or IDLE_AGREE_W, at most
        IDLE_CAP_S. One block is not enough: after start-up or a previous job a GPU can take seconds
        to fall back to its idle P-state, and a baseline taken while it does would inflate every
        net figure's subtraction. The baseline is the mean of the two agreeing blocks."""
        if self.idle_s <= 0:
            return
        block_s = min(1.0, self.idle_s / 2)
        start = self._clock()
        blocks: list[dict[int, float]] = []
        stable = False
        while not self._stop.is_set():
            blocks.append(self._idle_block(block_s))
            elapsed = self._clock() - start
            stable = len(blocks) >= 2 and _agree(blocks[-2], blocks[-1])
            if (stable and elapsed >= self.idle_s - 1e-9) or elapsed >= max(IDLE_CAP_S, self.idle_s) - 1e-9:
                break
        if not blocks:                    # stopped before one block was taken
            return
        last = blocks[-2:]
        for device in self.devices:
            values = [b[device.index] for b in last if device.index in b]
            if values:
                self.idle_power_w[device.index] = statistics.fmean(values)
        self._env["idle_baseline"] = {
            "seconds": round(self._clock() - start, 3), "block_s": block_s, "stable": stable,
            "blocks_w": [{str(k): round(v, 3) for k, v in b.items()} for b in blocks],
            "power_w": {str(k): round(v, 3) for k, v in self.idle_power_w.items()}}

    def _idle_block(self, seconds: float) -> dict[int, float]:
        """Mean power per GPU over one block: from the energy counter, else the sampled powers."""
        first = len(self.samples)
        begin = self.read()
        while self._clock() - begin.t < seconds - 1e-9 and not self._stop.is_set():
            self.sample_once()
            self._sleep(self.period_s)
        end = self.read()
        out = {}
        for device in self.devices:
            e0, e1 = begin.energy_mj.get(device.index), end.energy_mj.get(device.index)
            if e0 is not None and e1 is not None and end.t > begin.t:
                out[device.index] = (e1 - e0) / 1000 / (end.t - begin.t)
            else:
                powers = [s.power_w for s in self.samples[first:] if s.gpu == device.index and s.power_w is not None]
                if powers:
                    out[device.index] = statistics.fmean(powers)
        return out

    # ---------------------------------------------------------------- queries
    def _query(self, device: _Device | None, what: str, fn: Callable, *args) -> Any:
        try:
            return fn(*args)
        except Exception as exc:
            if device is not None:
                message = str(exc) or type(exc).__name__
                device.unsupported.setdefault(what, message)
                device.last_error = f"NVML {what}: {message}"
            return None

    def _describe(self, device: _Device) -> dict:
        nv, h = self._nvml, device.handle
        limit = self._query(device, "power_limit", nv.nvmlDeviceGetEnforcedPowerLimit, h)
        mig = self._query(device, "mig_mode", nv.nvmlDeviceGetMigMode, h)
        return {"index": device.index, "name": device.name, "uuid": _text(self._query(device, "uuid", nv.nvmlDeviceGetUUID, h)),
                "persistence_mode": self._query(device, "persistence_mode", nv.nvmlDeviceGetPersistenceMode, h),
                "enforced_power_limit_w": None if limit is None else limit / 1000,
                "mig_mode": mig[0] if isinstance(mig, (list, tuple)) else mig}

    def _power_fields(self, device: _Device) -> tuple[float | None, float | None]:
        nv = self._nvml
        values = self._query(device, "power_field_values", nv.nvmlDeviceGetFieldValues, device.handle,
                             [FI_POWER_INSTANT, FI_POWER_AVERAGE])
        out = []
        for v in values or [None, None]:
            out.append(v.value.uiVal / 1000 if v is not None and v.nvmlReturn == 0 else None)
        instant, average = out
        if instant is None:
            usage = self._query(device, "power_usage", nv.nvmlDeviceGetPowerUsage, device.handle)
            instant = None if usage is None else usage / 1000
        return instant, average

    def _energy(self, device: _Device) -> int | None:
        return self._query(device, "total_energy", self._nvml.nvmlDeviceGetTotalEnergyConsumption, device.handle)

    def sample_once(self) -> None:
        nv = self._nvml
        for d in self.devices:
            h = d.handle
            t = self._clock()
            power, power_avg = self._power_fields(d)
            reasons_fn = getattr(nv, "nvmlDeviceGetCurrentClocksEventReasons", None) or nv.nvmlDeviceGetCurrentClocksThrottleReasons
            util = self._query(d, "utilization", nv.nvmlDeviceGetUtilizationRates, h)
            mem = self._query(d, "memory", nv.nvmlDeviceGetMemoryInfo, h)
            limit = self._query(d, "power_limit", nv.nvmlDeviceGetEnforcedPowerLimit, h)
            sample = GpuSample(
                t=t, gpu=d.index, power_w=power, power_avg_w=power_avg, energy_mj=self._energy(d),
                sm_mhz=self._query(d, "sm_clock", nv.nvmlDeviceGetClockInfo, h, CLOCK_SM),
                mem_mhz=self._query(d, "mem_clock", nv.nvmlDeviceGetClockInfo, h, CLOCK_MEM),
                gfx_mhz=self._query(d, "gfx_clock", nv.nvmlDeviceGetClockInfo, h, CLOCK_GRAPHICS),
                pstate=self._query(d, "pstate", nv.nvmlDeviceGetPerformanceState, h),
                reasons=self._query(d, "clock_event_reasons", reasons_fn, h),
                temp_c=self._query(d, "temperature", nv.nvmlDeviceGetTemperature, h, 0),
                util_gpu=None if util is None else util.gpu, util_mem=None if util is None else util.memory,
                mem_used_mib=None if mem is None else mem.used / 2**20,
                power_limit_w=None if limit is None else limit / 1000)
            with self._lock:
                self.samples.append(sample)

    def read(self) -> GpuReading:
        t = self._clock()
        energy = {d.index: self._energy(d) for d in self.devices}
        violations = {}
        for d in self.devices:
            counters = {}
            for policy, name in VIOLATION_POLICIES.items():
                status = self._query(d, f"violation_{name}", self._nvml.nvmlDeviceGetViolationStatus, d.handle, policy)
                if status is not None:
                    counters[name] = status.violationTime
            violations[d.index] = counters
        return GpuReading(t=t, energy_mj=energy, violations_ns=violations)

    def telemetry(self) -> list[dict]:
        with self._lock:
            new, self._emitted = self.samples[self._emitted:], len(self.samples)
        return [s.row() for s in new]

    def environment(self) -> dict:
        if self.unavailable:
            return {**self._env, "reason": self.unavailable}
        for info in self._env.get("gpus", []):
            device = next((d for d in self.devices if d.index == info["index"]), None)
            if device is not None:
                info["unsupported_queries"] = dict(device.unsupported)
        return {**self._env, "sample_period_s": self.period_s, "sampler_cpu_s": round(self.sampler_cpu_s, 4)}

    # ---------------------------------------------------------------- window figures
    def figures(self, begin: GpuReading, end: GpuReading) -> dict:
        if self.unavailable:
            reason = f"GPU: {self.unavailable}"
            return {k: not_measured(u, reason) for k, u in
                    (("gpu_energy_j", "J"), ("gpu_energy_net_j", "J"), ("gpu_power_mean_w", "W"), ("gpu_power_peak_w", "W"))}
        with self._lock:
            samples = [s for s in self.samples if begin.t <= s.t <= end.t]
            all_samples = list(self.samples)
        duration = end.t - begin.t
        per_gpu = [self._gpu_window(d, begin, end, samples, all_samples) for d in self.devices]
        return _sum_gpus(per_gpu, duration, self._no_idle_reason())

    def _no_idle_reason(self) -> str:
        """Why a window has no idle power to subtract (when it has none)."""
        if self.idle_s <= 0:
            return "no idle baseline (set --idle-seconds above 0)"
        if self._baseline_done is not None and not self._baseline_done.is_set():
            return ("the idle baseline was still being taken when this window ended (it is taken while the "
                    "model libraries import; a model that failed to load ends its window that early)")
        return "no idle baseline: no power reading while it was taken"

    def _gpu_window(self, device: _Device, begin: GpuReading, end: GpuReading, window: list[GpuSample],
                    all_samples: list[GpuSample]) -> dict:
        mine = [s for s in all_samples if s.gpu == device.index]
        inside = [s for s in window if s.gpu == device.index]
        duration = end.t - begin.t
        e0, e1 = begin.energy_mj.get(device.index), end.energy_mj.get(device.index)
        counter_j = None if e0 is None or e1 is None else (e1 - e0) / 1000
        integrated_j, covered_s = integrate_power([(s.t, s.power_w) for s in mine], begin.t, end.t)
        period = counter_update_period([(s.t, s.energy_mj) for s in mine if s.energy_mj is not None])
        throttle = throttle_seconds([(s.t, s.reasons) for s in inside if s.reasons is not None], end.t)
        violations = {name: (end.violations_ns[device.index].get(name, 0) - ns) / 1e9
                      for name, ns in begin.violations_ns.get(device.index, {}).items()
                      if name in end.violations_ns.get(device.index, {})}
        powers = [s.power_w for s in inside if s.power_w is not None]
        return {"gpu": device.index, "name": device.name, "duration_s": duration, "counter_j": counter_j,
                "integrated_j": integrated_j, "covered_s": covered_s, "last_error": device.last_error,
                "idle_w": self.idle_power_w.get(device.index),
                "peak_w": max(powers) if powers else None, "update_period_s": period,
                "short_window": duration < 5 * (period or DEFAULT_UPDATE_PERIOD_S), "throttle_s": throttle,
                "violation_s": violations, "sm_clock_mhz": _range([s.sm_mhz for s in inside]),
                "mem_clock_mhz": _range([s.mem_mhz for s in inside]),
                "pstates": sorted({s.pstate for s in inside if s.pstate is not None}),
                "temp_c_max": max((s.temp_c for s in inside if s.temp_c is not None), default=None),
                "samples": len(inside), "energy_counter_unsupported": device.unsupported.get("total_energy")}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _range(values: list) -> dict | None:
    values = [v for v in values if v is not None]
    return {"min": min(values), "max": max(values), "mean": statistics.fmean(values)} if values else None


def integrate_power(points: list[tuple[float, float | None]], t0: float, t1: float) -> tuple[float | None, float]:
    """(J, covered seconds): the trapezoidal integral of sampled power (W) over the parts of
    [t0, t1] that lie between two consecutive good samples (power not None), interpolating
    linearly inside each such segment. Nothing is extrapolated: before the first good sample,
    after the last, and across a failed sample, the window is not covered. J is None when no part
    of it is covered."""
    energy = covered = 0.0
    for (ta, pa), (tb, pb) in zip(points, points[1:]):
        lo, hi = max(ta, t0), min(tb, t1)
        if pa is None or pb is None or hi <= lo or tb <= ta:
            continue
        at = lambda t: pa + (pb - pa) * (t - ta) / (tb - ta)  # noqa: E731
        energy += (hi - lo) * (at(lo) + at(hi)) / 2
        covered += hi - lo
    return (energy if covered > 0 else None), covered


def counter_update_period(points: list[tuple[float, int]]) -> float | None:
    """The median time between changes of the energy counter, as seen by the sampler."""
    changes = [t for (t, e), (_, prev) in zip(points[1:], points) if e != prev]
    gaps = [b - a for a, b in zip(changes, changes[1:])]
    return statistics.median(gaps) if gaps else None


def throttle_seconds(points: list[tuple[float, int]], t_end: float) -> dict[str, float]:
    """Seconds each clock-event reason was active: each sample's reasons hold until the next sample
    (the last until the window's end)."""
    out: dict[str, float] = {}
    for (t, bits), nxt in zip(points, [p[0] for p in points[1:]] + [t_end]):
        for name in decode_reasons(bits):
            out[name] = out.get(name, 0.0) + (nxt - t)
    return out


def _sum_gpus(per_gpu: list[dict], duration: float, no_idle_reason: str) -> dict:
    counters = [g["counter_j"] for g in per_gpu]
    integrated = [g["integrated_j"] for g in per_gpu]
    has_counter = all(c is not None for c in counters)
    has_integral = all(i is not None for i in integrated)
    full = all(g["covered_s"] >= duration - 1e-9 for g in per_gpu)
    figures: dict[str, Any] = {"gpus": per_gpu}
    covered_s = duration
    if has_counter:
        gross = measured(sum(counters), "J", "nvml_energy_counter")
    elif has_integral:
        # each GPU's integral covers only its own good samples; the window's coverage is the least
        covered_s = min(g["covered_s"] for g in per_gpu)
        extra = {} if full else {"coverage": covered_s / duration if duration > 0 else 0.0, "covered_s": covered_s}
        gross = measured(sum(integrated), "J", "nvml_power_integrated", **extra)
    else:
        reasons = sorted({g["last_error"] or g["energy_counter_unsupported"] or "too few power samples"
                          for g in per_gpu})
        gross = not_measured("J", "GPU: no successful reading in this window (" + "; ".join(reasons) + ")")
    figures["gpu_energy_j"] = gross
    if has_counter and has_integral:
        total_integrated = sum(integrated)
        figures["gpu_energy_integrated_j"] = measured(total_integrated, "J", "nvml_power_integrated",
                                                      **({} if full else {"coverage": min(g["covered_s"] for g in per_gpu) / duration}))
        if gross["value"] and full:
            figures["gpu_energy_discrepancy_pct"] = measured(
                100 * (total_integrated - gross["value"]) / gross["value"], "%", "nvml_power_integrated")
    idle = [g["idle_w"] for g in per_gpu]
    if gross["value"] is not None and all(i is not None for i in idle):
        figures["gpu_energy_net_j"] = measured(gross["value"] - sum(idle) * covered_s, "J", gross["source"],
                                               idle_w=sum(idle), **{k: gross[k] for k in ("coverage", "covered_s") if k in gross})
    elif gross["value"] is None:
        figures["gpu_energy_net_j"] = not_measured("J", gross["reason"])
    else:
        figures["gpu_energy_net_j"] = not_measured("J", no_idle_reason)
    if gross["value"] is not None and covered_s > 0:
        figures["gpu_power_mean_w"] = measured(gross["value"] / covered_s, "W", gross["source"])
    else:
        figures["gpu_power_mean_w"] = not_measured("W", gross.get("reason") or "zero duration")
    peaks = [g["peak_w"] for g in per_gpu if g["peak_w"] is not None]
    figures["gpu_power_peak_w"] = (measured(sum(peaks), "W", "nvml_power_integrated") if peaks
                                   else not_measured("W", "no power samples in the window"))
    throttle: dict[str, float] = {}
    for g in per_gpu:
        for reason, seconds in g["throttle_s"].items():
            throttle[reason] = max(throttle.get(reason, 0.0), seconds)
    figures["throttle_s"] = throttle
    figures["short_window"] = any(g["short_window"] for g in per_gpu)
    return figures
