"""The interval an energy figure carries when it was measured over repeats (`harness run --repeats N`):
its 95% bounds, the number of repeats and the coefficient of variation, read from the figure as
results.json writes it. Every view (report.html, the terminal, history) reads it here, so a figure
without one (a single measurement) is shown as a plain value everywhere. Pure."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

INTERVAL_KEYS = ("ci95", "interval")          # [lower, upper] or {lower, upper} / {lo, hi}


@dataclass(frozen=True)
class Spread:
    lo: float
    hi: float
    repeats: int | None = None
    cv: float | None = None

    @property
    def half_width(self) -> float:
        return (self.hi - self.lo) / 2


def _number(v: Any) -> float | None:
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    return float(v) if ok else None


def _bounds(raw: Any) -> tuple[float | None, float | None]:
    if isinstance(raw, dict):
        return _number(raw.get("lower", raw.get("lo"))), _number(raw.get("upper", raw.get("hi")))
    if isinstance(raw, (list, tuple)) and len(raw) == 2:
        return _number(raw[0]), _number(raw[1])
    return None, None


def field(f: Any, name: str) -> Any:
    """A field of a results value, whether its type names it or it rides along as an extra (a newer minor)."""
    value = getattr(f, name, None) if name in getattr(type(f), "model_fields", {}) else None
    if value is None and hasattr(f, "extra"):
        value = f.extra(name)
    return value


def interval(f: Any) -> Spread | None:
    """The figure's interval over repeats, or None (not measured, or measured once)."""
    if f is None or getattr(f, "value", None) is None:
        return None
    for key in INTERVAL_KEYS:
        lo, hi = _bounds(field(f, key))
        if lo is not None and hi is not None:
            repeats = field(f, "repeats")
            cv = _number(field(f, "cv"))
            return Spread(lo, hi, repeats if isinstance(repeats, int) and not isinstance(repeats, bool) else None, cv)
    return None
