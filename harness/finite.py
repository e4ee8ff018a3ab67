"""Finite numbers: the one home of the checks that keep NaN and infinities out of the harness's
JSON (results.json, samples.jsonl, windows.jsonl and comparisons are strict JSON: NaN is not JSON,
and a NaN taken for a measurement would read as one). Pure functions."""
from __future__ import annotations

import math
import numbers
from typing import Any


def is_finite_number(value: Any) -> bool:
    """A real number (int, float, numpy scalar; not a bool) that is neither NaN nor infinite."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def finite_or_none(value: Any) -> float | None:
    """``value`` as a float when it is a finite number, else None (None, NaN, inf, anything else)."""
    return float(value) if is_finite_number(value) else None


def non_finite_paths(value: Any, path: str = "") -> list[str]:
    """Where in a nested dict/list a float is NaN or infinite, e.g. ["scores.effect_size"]."""
    if isinstance(value, float):
        return [] if math.isfinite(value) else [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in non_finite_paths(v, f"{path}.{k}" if path else str(k))]
    if isinstance(value, (list, tuple)):
        return [p for i, v in enumerate(value) for p in non_finite_paths(v, f"{path}[{i}]")]
    return []


def scrubbed(value: Any) -> Any:
    """``value`` with every NaN or infinite float, however deep in dicts and lists, replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: scrubbed(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrubbed(v) for v in value]
    return value
