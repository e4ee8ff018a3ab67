"""Meters: GPU (NVML), host CPU/RAM (RAPL or CodeCarbon's estimate), and carbon intensity.

Each meter factory is an entry point of harness.plugins.METERS (the built-ins: pyproject.toml) and is
called with MeterOptions; a plugin meter (entry-point group harness.meters) follows harness.meters.base.Meter.
"""
from __future__ import annotations

from pathlib import Path

from harness.meters.cpu import HostMeter
from harness.meters.nvml import NvmlMeter
from harness.meters.session import MeterSession
from harness.plugins import METERS
from harness.spec import MeterOptions


def gpu_meter(options: MeterOptions) -> NvmlMeter:
    """GPU power, energy counter, clocks, P-state, clock-event reasons, temperature (nvidia-ml-py)."""
    return NvmlMeter(period_s=options.period_s, idle_s=options.idle_s, visible=options.gpu, background_baseline=True)


def host_meter(options: MeterOptions) -> HostMeter:
    """CPU and RAM energy: RAPL where readable, else CodeCarbon's estimate (labelled estimated)."""
    return HostMeter(verbose=options.verbose, poll_s=1.0)


def build_session(options: MeterOptions, run_dir: Path | None) -> MeterSession:
    """The one place meters are built: each of ``options.names`` from its factory. A torchrun rank
    passes its own choices in ``options`` (harness.distributed.shards.Sharded.meter_options)."""
    if not options.enabled:
        return MeterSession([], run_dir, disabled_reason="meters were off (--no-meters)")
    return MeterSession([METERS.get(name)(options) for name in options.names], run_dir)


__all__ = ["MeterSession", "build_session", "NvmlMeter", "HostMeter"]
