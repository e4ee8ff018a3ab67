"""Measurement windows over a set of meters: ``with session.window("task", "facts_mc"): ...``.

Windows nest (run > model > warmup/task/probe). At each window's edges the accelerator is
synchronized (so queued kernels are charged to the window that launched them) and every meter's
counters are read; at its end the window's figures are appended to windows.jsonl (so a resumed run
keeps the energy of the work done before it stopped) and new telemetry samples to telemetry.csv.
Each record names its invocation (the first `harness run` and each `--resume`), so totals can add
every invocation's energy once (harness.meters.energy.covering). A closed window adds the
examples and generated tokens counted inside it to the window around it.
"""
from __future__ import annotations

import csv
import io
import math
import secrets
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from harness.finite import scrubbed
from harness.meters.base import Meter
from harness.preload import imported
from harness.store import drop_torn_tail, dumps_strict, iter_jsonl, naming

TELEMETRY_COLUMNS = ["unix_time", "t_s", "event", "window", "gpu", "power_w", "power_avg_w", "energy_j", "sm_clock_mhz",
                     "mem_clock_mhz", "gfx_clock_mhz", "pstate", "clock_event_reasons", "temp_c", "util_gpu_pct",
                     "util_mem_pct", "mem_used_mib", "power_limit_w", "cpu_power_w", "cpu_power_source"]


COUNTED = ("examples", "generated_tokens")     # what a window adds to the window around it
OPEN_BEFORE_READY = ("run", "model")           # windows that open before a model is built (MeterSession.ready)


def cuda_sync() -> None:
    """Wait for queued GPU kernels, when this process has started CUDA (never starts it)."""
    torch = imported("torch")
    if torch is not None and torch.cuda.is_initialized():
        torch.cuda.synchronize()


class Window:
    """What the code inside a window adds about its work (examples done, tokens generated)."""

    def __init__(self, kind: str, name: str, path: str, attrs: dict[str, Any]):
        self.kind, self.name, self.path = kind, name, path
        self.attrs = dict(attrs)


class MeterSession:
    def __init__(self, meters: Sequence[Meter], run_dir: Path | None, clock: Callable[[], float] = time.monotonic,
                 disabled_reason: str | None = None, sync: Callable[[], None] = cuda_sync):
        self.meters = list(meters)
        self.invocation = secrets.token_hex(4)
        self._sync = sync
        self.run_dir = run_dir
        self.disabled_reason = disabled_reason
        self._clock = clock
        self._stack: list[Window] = []
        self._t0 = 0.0
        self._unix0 = 0.0
        self._telemetry_fh = None
        self._telemetry: csv.DictWriter | None = None
        self._ready = False

    def __enter__(self) -> "MeterSession":
        started = time.perf_counter()
        for meter in self.meters:
            meter.start()
        self.startup_s = time.perf_counter() - started      # incl. the idle baseline, unless it is taken on a thread
        self._t0, self._unix0 = self._clock(), time.time()
        if self.run_dir is not None:
            path = self.run_dir / "telemetry.csv"
            drop_torn_tail(path)                  # a kill or a full disk may have cut the last row
            self._telemetry_fh = path.open("a", newline="", encoding="utf-8")
            self._telemetry = csv.DictWriter(self._telemetry_fh, TELEMETRY_COLUMNS, extrasaction="ignore")
            if self._telemetry_fh.tell() == 0:    # new, or killed before its header was written
                with naming(path):
                    self._telemetry.writeheader()
        return self

    def ready(self) -> None:
        """Waits for every meter that asks not to be disturbed yet (a GPU idle baseline taken while
        the libraries import). The runner calls it before a model is built; every window other
        than the run's and a model's (which open before the model is built) calls it too."""
        if self._ready:
            return
        started = time.perf_counter()
        for meter in self.meters:
            wait = getattr(meter, "ready", None)
            if callable(wait):
                wait()
        self._ready = True
        self.startup_s = getattr(self, "startup_s", 0.0) + time.perf_counter() - started   # what the run waited

    def __exit__(self, *exc) -> None:
        self._flush_telemetry()
        for meter in self.meters:
            meter.stop()
        if self._telemetry_fh:
            self._telemetry_fh.close()

    def environment(self) -> dict:
        if self.disabled_reason:
            return {"disabled": self.disabled_reason}
        return {**{meter.name: meter.environment() for meter in self.meters},
                "startup_s": round(getattr(self, "startup_s", 0.0), 3)}

    @contextmanager
    def window(self, kind: str, name: str, **attrs: Any) -> Iterator[Window]:
        parent = self._stack[-1].path + "/" if self._stack else ""
        window = Window(kind, name, f"{parent}{kind}:{name}", attrs)
        if kind not in OPEN_BEFORE_READY:
            self.ready()
        if self.meters:
            self._sync()
        begin = {m.name: m.read() for m in self.meters}
        t_begin = self._clock()
        self._marker(t_begin, "begin", window.path)
        self._stack.append(window)
        completed = False
        try:
            yield window
            completed = True
        finally:
            self._stack.pop()
            if self.meters:
                self._sync()
            end = {m.name: m.read() for m in self.meters}
            t_end = self._clock()
            figures: dict[str, Any] = {}
            for meter in self.meters:
                figures.update(meter.figures(begin[meter.name], end[meter.name]))
            self._flush_telemetry()
            self._marker(t_end, "end", window.path)
            if self._stack:
                outer = self._stack[-1].attrs
                for key in COUNTED:
                    if key in window.attrs:
                        outer[key] = outer.get(key, 0) + window.attrs[key]
            self._record({"path": window.path, "kind": kind, "name": name, **window.attrs,
                          "invocation": self.invocation, "started": self._iso(t_begin),
                          "duration_s": t_end - t_begin, "completed": completed, "figures": figures})

    def _iso(self, t: float) -> str:
        return datetime.fromtimestamp(self._unix0 + t - self._t0, timezone.utc).isoformat(timespec="milliseconds")

    def _marker(self, t: float, event: str, path: str) -> None:
        if self._telemetry:
            self._telemetry.writerow({"unix_time": round(self._unix0 + t - self._t0, 4), "t_s": round(t - self._t0, 4),
                                      "event": event, "window": path})

    def _flush_telemetry(self) -> None:
        if not self._telemetry:
            return
        for meter in self.meters:
            for row in meter.telemetry():
                t = row.pop("t")
                self._telemetry.writerow({"unix_time": round(self._unix0 + t - self._t0, 4), "t_s": round(t - self._t0, 4),
                                          "event": "sample", **row})
        self._telemetry_fh.flush()

    def _record(self, record: dict) -> None:
        if self.run_dir is None:
            return
        path = self.run_dir / "windows.jsonl"
        drop_torn_tail(path)
        with naming(path), path.open("a", encoding="utf-8") as fh:
            fh.write(dumps_strict(scrubbed(record)) + "\n")   # a meter's NaN is not a measurement: null


WINDOW_FIX = "delete that line (the energy of that stretch of work is then not counted), or start a new run"


def window_problem(window: dict) -> str | None:
    """What makes ``window`` unusable as a windows.jsonl record (what the energy sums read), or None."""
    for key in ("path", "kind"):
        if not isinstance(window.get(key), str):
            return f"{key} is {'missing' if key not in window else type(window[key]).__name__}, not a string"
    duration = window.get("duration_s")
    if isinstance(duration, bool) or not isinstance(duration, (int, float)) or not 0 <= duration < math.inf:
        return f"duration_s is {duration!r}, not a number of seconds"
    figures = window.get("figures")
    if not isinstance(figures, dict):
        return f"figures is {'missing' if 'figures' not in window else type(figures).__name__}, not an object"
    for name in ("examples", "generated_tokens"):
        value = window.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, int):
            return f"{name} is {type(value).__name__}, not a whole number"
    return None


def read_windows(run_dir: Path) -> list[dict]:
    return list(iter_jsonl(run_dir / "windows.jsonl", window_problem, WINDOW_FIX))


def read_telemetry(run_dir: Path) -> list[dict]:
    """telemetry.csv's rows. Whatever a kill left is read without guessing: a torn last row is left
    out, and a file whose header never reached the disk is read with the known columns."""
    path = run_dir / "telemetry.csv"
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8", errors="replace")
    text = text[:text.rfind("\n") + 1]
    header = text.split("\n", 1)[0].split(",")
    names = header if header[0] == "unix_time" else TELEMETRY_COLUMNS
    return [row for row in csv.DictReader(io.StringIO(text), fieldnames=names) if row.get("unix_time") != "unix_time"]
