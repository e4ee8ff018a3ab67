"""A measured figure is ``{value, unit, source}``, plus ``reason`` when it was not measured.

Sources, strongest first: nvml_energy_counter (the GPU's hardware energy counter),
nvml_power_integrated (sampled GPU power, integrated over time), rapl (CPU/DRAM energy
counters), estimated (CodeCarbon's TDP/load model), not_measured. A figure derived from several
figures carries the weakest of their sources.
"""
from __future__ import annotations

from typing import Any, Iterable

SOURCES = ("nvml_energy_counter", "nvml_power_integrated", "rapl", "estimated", "not_measured")


def measured(value: float, unit: str, source: str, **extra: Any) -> dict:
    assert source in SOURCES[:-1], source
    return {"value": value, "unit": unit, "source": source, **extra}


def not_measured(unit: str, reason: str) -> dict:
    return {"value": None, "unit": unit, "source": "not_measured", "reason": reason}


def is_measured(figure: dict | None) -> bool:
    return bool(figure) and figure["source"] != "not_measured"


def weakest(sources: Iterable[str]) -> str:
    return max(sources, key=SOURCES.index, default="not_measured")


def combine(figures: Iterable[dict], unit: str) -> dict:
    """The sum of the measured figures, with the weakest source; not measured if none was."""
    figures = list(figures)
    parts = [f for f in figures if is_measured(f)]
    if not parts:
        reasons = sorted({f.get("reason", "") for f in figures if f})
        return not_measured(unit, "; ".join(r for r in reasons if r) or "no meter measured it")
    return measured(sum(f["value"] for f in parts), unit, weakest(f["source"] for f in parts))


def scaled(figure: dict, factor: float | None, unit: str, reason_if_none: str = "") -> dict:
    """``figure`` times ``factor`` (None or a non-measured figure stays not measured)."""
    if not is_measured(figure):
        return not_measured(unit, figure.get("reason", "not measured") if figure else "not measured")
    if factor is None:
        return not_measured(unit, reason_if_none)
    return measured(figure["value"] * factor, unit, figure["source"])
