"""CPU and RAM energy: RAPL counters (powercap sysfs) where readable, otherwise CodeCarbon's
estimate (a TDP / CPU-load model), labelled ``estimated``."""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from harness.meters.figures import measured, not_measured

POWERCAP = Path("/sys/class/powercap")


@dataclass(frozen=True)
class RaplDomain:
    path: Path
    name: str           # package-0, dram, core, uncore, psys
    max_uj: int


def find_rapl_domains(root: Path = POWERCAP) -> tuple[list[RaplDomain], str | None]:
    """Package and DRAM domains whose counters this process can read, or the reason there are none."""
    if not root.is_dir():
        return [], f"{root} does not exist (no RAPL on this machine or kernel)"
    domains, denied = [], []
    for zone in sorted(root.glob("intel-rapl:*")):
        try:
            name = (zone / "name").read_text().strip()
            max_uj = int((zone / "max_energy_range_uj").read_text())
            int((zone / "energy_uj").read_text())
        except PermissionError:
            denied.append(zone.name)
            continue
        except (OSError, ValueError):
            continue
        if name.startswith("package") or name == "dram":
            domains.append(RaplDomain(zone, name, max_uj))
    if domains:
        return domains, None
    if denied:
        return [], f"RAPL counters are not readable by this user ({', '.join(denied)}; root-only since Linux 5.10)"
    return [], f"no RAPL package domain under {root}"


class RaplCounter:
    """Cumulative energy per domain in J, unwrapped: each read adds (now - before) mod range."""

    def __init__(self, domains: list[RaplDomain]):
        self.domains = domains
        self._last = {d.path: self._raw(d) for d in domains}
        self._total = {d.path: 0 for d in domains}
        self._lock = threading.Lock()

    @staticmethod
    def _raw(domain: RaplDomain) -> int:
        return int((domain.path / "energy_uj").read_text())

    def read(self) -> dict[str, float]:
        with self._lock:
            out: dict[str, float] = {}
            for d in self.domains:
                now = self._raw(d)
                self._total[d.path] += (now - self._last[d.path]) % d.max_uj   # the counter wraps to 0 at max_uj
                self._last[d.path] = now
                kind = "ram" if d.name == "dram" else "cpu"
                out[kind] = out.get(kind, 0.0) + self._total[d.path] / 1e6
            return out


_probe: threading.Thread | None = None


def probe_hardware_early(rapl_root: Path = POWERCAP) -> None:
    """Starts, on a thread, what CodeCarbon's hardware probe spends its time on: py-cpuinfo runs a
    fresh Python process to name the CPU (about a second, on another core), and CodeCarbon reads its
    CPU power table with pandas. `harness run` calls this first, so the probe overlaps loading the
    models' libraries; CodeCarbonCounter waits for it. Both results are cached by CodeCarbon
    (``detect_cpu_model`` is an lru_cache, the tables a module cache). Nothing to do where RAPL is read."""
    global _probe
    if _probe is not None or find_rapl_domains(rapl_root)[0]:
        return

    def probe() -> None:
        try:
            from codecarbon.core.util import detect_cpu_model
            from codecarbon.input import _ensure_static_data_loaded
            detect_cpu_model()
            _ensure_static_data_loaded()
        except Exception:            # the meter itself reports what fails, when it starts
            pass
    _probe = threading.Thread(target=probe, name="harness-hardware-probe", daemon=True)
    _probe.start()


class CodeCarbonCounter:
    """CodeCarbon's CPU and RAM energy estimate read as a cumulative counter (kWh -> J).

    CodeCarbon's own task API cannot nest, so the tracker runs once for the whole run and is
    read at window edges. It only estimates energy here; carbon intensity is resolved separately
    (harness.meters.carbon), so the country it is built with is never used for a figure."""

    def __init__(self, verbose: bool = False):
        os.environ.setdefault("CODECARBON_LOG_LEVEL", "error")
        if _probe is not None:
            _probe.join()
        from codecarbon import OfflineEmissionsTracker
        self._tracker = OfflineEmissionsTracker(
            country_iso_code="USA", save_to_file=False, measure_power_secs=1, log_level="info" if verbose else "error",
            tracking_mode="machine", gpu_ids=[], pue=1.0, allow_multiple_runs=True)
        if not verbose:
            logging.getLogger("codecarbon").setLevel(logging.ERROR)
        self._tracker.start()
        # Its own two scheduler threads would duplicate HostMeter's poller; reads at window edges and
        # the poller keep its totals current, with one thread waking instead of three.
        for scheduler in (getattr(self._tracker, "_scheduler", None), getattr(self._tracker, "_scheduler_monitor_power", None)):
            if scheduler is not None:
                scheduler.stop()
        self._lock = threading.Lock()
        cpu = next((h for h in self._tracker._hardware if type(h).__name__ == "CPU"), None)
        self.description = (f"CodeCarbon {getattr(cpu, '_mode', '?')} model, CPU '{getattr(cpu, '_model', '?')}', "
                            f"TDP {getattr(cpu, '_tdp', '?')} W{' (generic)' if getattr(cpu, '_is_generic_tdp', False) else ''}")

    def read(self) -> dict[str, float]:
        with self._lock:
            # always a fresh measurement: a short window read from a stale one would show 0 J
            self._tracker._measure_power_and_energy()
            return {"cpu": self._tracker._total_cpu_energy.kWh * 3.6e6, "ram": self._tracker._total_ram_energy.kWh * 3.6e6}

    def stop(self) -> None:
        try:
            self._tracker.stop()
        except Exception:
            pass


@dataclass(frozen=True)
class HostReading:
    t: float
    joules: dict[str, float]


class HostMeter:
    """CPU and RAM energy for the whole machine: RAPL when readable, else CodeCarbon's estimate."""
    name = "host"

    def __init__(self, rapl_root: Path = POWERCAP, verbose: bool = False, clock: Callable[[], float] = time.monotonic,
                 allow_estimate: bool = True, poll_s: float = 0.0):
        self._root, self._verbose, self._clock, self._allow_estimate = rapl_root, verbose, clock, allow_estimate
        self._poll_s = poll_s            # > 0: read on a thread this often too (the CPU power timeline; RAPL wraps)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sampler_cpu_s = 0.0
        self._counter = None
        self.source = "not_measured"
        self.reason: str | None = None
        self.description = ""
        self._rows: list[dict] = []
        self._last: HostReading | None = None

    def start(self) -> None:
        domains, why_not = find_rapl_domains(self._root)
        if domains:
            self._counter, self.source = RaplCounter(domains), "rapl"
            self.description = "RAPL: " + ", ".join(f"{d.path.name} ({d.name})" for d in domains)
        elif not self._allow_estimate:
            self.reason = why_not
        else:
            try:
                self._counter, self.source = CodeCarbonCounter(self._verbose), "estimated"
                self.description = f"{why_not}; using {self._counter.description}"
            except Exception as exc:
                self.reason = f"{why_not}; CodeCarbon failed: {type(exc).__name__}: {exc}"
        if self._counter is not None and self._poll_s > 0:
            self._thread = threading.Thread(target=self._poll, name="harness-host-sampler", daemon=True)
            self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(self._poll_s):
            started = time.thread_time()
            self.read()
            self.sampler_cpu_s += time.thread_time() - started

    def read(self) -> HostReading:
        with self._lock:
            return self._read_locked()

    def _read_locked(self) -> HostReading:
        reading = HostReading(self._clock(), self._counter.read() if self._counter else {})
        if self._last is not None and reading.t - self._last.t >= 0.5 and reading.joules:
            dt = reading.t - self._last.t
            self._rows.append({"t": reading.t, "cpu_power_w": (reading.joules["cpu"] - self._last.joules["cpu"]) / dt,
                               "cpu_power_source": self.source})
            self._last = reading
        elif self._last is None:
            self._last = reading
        return reading

    def figures(self, begin: HostReading, end: HostReading) -> dict:
        duration = end.t - begin.t
        out = {}
        for kind in ("cpu", "ram"):
            if kind in begin.joules and kind in end.joules:
                joules = end.joules[kind] - begin.joules[kind]
                out[f"{kind}_energy_j"] = measured(joules, "J", self.source)
                if duration > 0:
                    out[f"{kind}_power_mean_w"] = measured(joules / duration, "W", self.source)
            else:
                reason = self.reason or ("RAPL has no DRAM domain here" if self.source == "rapl" else "not measured")
                out[f"{kind}_energy_j"] = not_measured("J", reason)
        return out

    def telemetry(self) -> list[dict]:
        with self._lock:
            rows, self._rows = self._rows, []
        return rows

    def environment(self) -> dict:
        return {"source": self.source, "description": self.description, "sampler_cpu_s": round(self.sampler_cpu_s, 4),
                **({"reason": self.reason} if self.reason else {})}

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        if isinstance(self._counter, CodeCarbonCounter):
            self._counter.stop()
