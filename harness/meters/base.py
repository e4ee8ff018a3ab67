"""The Meter protocol and measurement windows (begin/end, nestable), in the manner of Zeus.

A meter is a cumulative counter that can be read at any instant (``read``), and optionally
samples telemetry on its own thread between reads. A window's figures come from the two reads
at its begin and end (``figures``), so nested windows cost nothing extra and never
double-count.
"""
from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Meter(Protocol):
    name: str

    def start(self) -> None:
        """Open devices, take any idle baseline, start sampling. Must not raise on missing hardware:
        record why instead, and report not_measured figures."""

    # Optional: ``ready()`` blocks until the meter may be disturbed (NvmlMeter: its idle baseline,
    # taken on a thread while the run imports its libraries). MeterSession.ready calls it.

    def read(self) -> Any:
        """A reading of the cumulative counters now (opaque to the caller)."""

    def figures(self, begin: Any, end: Any) -> dict[str, Any]:
        """Figures ({value, unit, source}) for the window between two readings."""

    def telemetry(self) -> list[dict]:
        """Samples taken since the last call (rows for telemetry.csv), then forgets them."""

    def environment(self) -> dict:
        """What the meter found: devices, driver, limits, sources used and why."""

    def stop(self) -> None: ...
