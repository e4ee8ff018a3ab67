"""The GPU meter (nvidia-ml-py). Read-only: it never changes a clock, limit or mode.

* A sampler thread (default every 100 ms) records power (instant and averaged field values
  where supported), energy, SM/memory/graphics clocks, P-state, clock-event (throttle) reasons,
  temperature, utilization, memory used and the enforced power limit
  (harness.meters.nvml_samples).
* Every window edge (``read``) reads the energy counter and takes a power sample too, so sampled
  power covers each window up to its edges; a window's figures (counter energy, integrated power,
  their discrepancy with its coverage, net of idle, throttle time) are computed by
  harness.meters.nvml_window.
* Sampled power is integrated only between two good samples: a window the sampler did not cover
  (NVML failed, e.g. "GPU is lost") is never filled in by holding a value. A window whose counter
  read failed falls back to that integral with its ``coverage`` (fraction of the window's
  seconds), or reads not_measured with NVML's error.
* An idle baseline taken before the run gives net-of-idle energies: measured in blocks until two
  consecutive blocks agree (see `_idle_baseline`). With ``background_baseline`` it is taken on the
  sampler thread while the run imports its model libraries (seconds of CPU work in which the GPU
  sits idle anyway); ``ready()`` returns once it is done, and the runner calls it before a model
  touches the GPU.
* Missing NVML, a MIG device or an unsupported query is reported as not_measured, with the reason.
"""
from __future__ import annotations

import os
import statistics
import threading
import time
from typing import Any, Callable

from harness.meters.figures import not_measured
from harness.meters.nvml_samples import (CLOCK_GRAPHICS, CLOCK_MEM, CLOCK_SM, FI_POWER_AVERAGE, FI_POWER_INSTANT,
                                         VIOLATION_POLICIES, Device, GpuReading, GpuSample, decode_reasons, text,
                                         visible_indices)
from harness.meters.nvml_window import integrate_power, sum_gpus, gpu_window

__all__ = ["NvmlMeter", "GpuSample", "GpuReading", "decode_reasons", "visible_indices", "integrate_power"]

IDLE_AGREE, IDLE_AGREE_W, IDLE_CAP_S = 0.05, 2.0, 10.0   # idle blocks agree within 5 % or 2 W; at most 10 s


def _agree(a: dict[int, float], b: dict[int, float]) -> bool:
    return a.keys() == b.keys() and all(abs(a[k] - b[k]) <= max(IDLE_AGREE_W, IDLE_AGREE * abs(b[k])) for k in a)


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
        self.devices: list[Device] = []
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
        for index in visible_indices(self._visible, count, lambda i: text(nv.nvmlDeviceGetUUID(handles[i]))):
            device = Device(index, handles[index], name=text(nv.nvmlDeviceGetName(handles[index])))
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
                powers = [s.power_w for s in self.samples[first:]
                          if s.gpu == device.index and s.power_w is not None and not s.edge]
                if powers:
                    out[device.index] = statistics.fmean(powers)
        return out

    # ---------------------------------------------------------------- queries
    def _query(self, device: Device | None, what: str, fn: Callable, *args) -> Any:
        try:
            return fn(*args)
        except Exception as exc:
            if device is not None:
                message = str(exc) or type(exc).__name__
                device.unsupported.setdefault(what, message)
                device.last_error = f"NVML {what}: {message}"
            return None

    def _describe(self, device: Device) -> dict:
        nv, h = self._nvml, device.handle
        limit = self._query(device, "power_limit", nv.nvmlDeviceGetEnforcedPowerLimit, h)
        mig = self._query(device, "mig_mode", nv.nvmlDeviceGetMigMode, h)
        return {"index": device.index, "name": device.name, "uuid": text(self._query(device, "uuid", nv.nvmlDeviceGetUUID, h)),
                "persistence_mode": self._query(device, "persistence_mode", nv.nvmlDeviceGetPersistenceMode, h),
                "enforced_power_limit_w": None if limit is None else limit / 1000,
                "mig_mode": mig[0] if isinstance(mig, (list, tuple)) else mig}

    def _power_fields(self, device: Device) -> tuple[float | None, float | None]:
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

    def _energy(self, device: Device) -> int | None:
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
        """The counters now (a window's edge), with a power sample of each GPU at the same instant
        (``GpuSample.edge``): the sampler's own samples fall between window edges, and without one
        at each edge the integral would not reach them."""
        t = self._clock()
        energy = {}
        for d in self.devices:
            energy[d.index] = self._energy(d)
            power, power_avg = self._power_fields(d)
            with self._lock:
                self.samples.append(GpuSample(t=t, gpu=d.index, power_w=power, power_avg_w=power_avg,
                                              energy_mj=energy[d.index], edge=True))
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
            all_samples = sorted(self.samples, key=lambda s: s.t)     # edge samples come from another thread
        per_gpu = [gpu_window(d.index, d.name, begin, end, [s for s in all_samples if s.gpu == d.index],
                              self.idle_power_w.get(d.index), d.last_error, d.unsupported.get("total_energy"))
                   for d in self.devices]
        return sum_gpus(per_gpu, end.t - begin.t, self._no_idle_reason())

    def _no_idle_reason(self) -> str:
        """Why a window has no idle power to subtract (when it has none)."""
        if self.idle_s <= 0:
            return "no idle baseline (set --idle-seconds above 0)"
        if self._baseline_done is not None and not self._baseline_done.is_set():
            return ("the idle baseline was still being taken when this window ended (it is taken while the "
                    "model libraries import; a model that failed to load ends its window that early)")
        return "no idle baseline: no power reading while it was taken"
