"""Numbers as a reader wants them: 3 significant digits, p-values as 0.43 / <0.001, and axis ticks
on round steps (0/5/10, never 0/4/9). Pure functions."""
from __future__ import annotations

import math


def sig(value, digits: int = 3) -> str:
    """``value`` to ``digits`` significant digits, without exponent noise for ordinary magnitudes;
    "—" for anything that is not a finite number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "—"
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    if magnitude >= 6 or magnitude < -4:
        return f"{value:.{digits - 1}e}"
    decimals = max(digits - 1 - magnitude, 0)
    text = f"{round(value, decimals):.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def pvalue(p) -> str:
    """0.43, 0.051, 0.0032, <0.001; "—" when there is none."""
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not math.isfinite(p):
        return "—"
    if p < 0.001:
        return "<0.001"
    return f"{p:.2f}" if p >= 0.1 else sig(p, 2)


def _nice_step(raw: float) -> float:
    exponent = math.floor(math.log10(raw))
    fraction = raw / 10 ** exponent
    nice = 1 if fraction <= 1 else 2 if fraction <= 2 else 5 if fraction <= 5 else 10
    return nice * 10 ** exponent


def nice_ticks(lo: float, hi: float, target: int = 4) -> list[float]:
    """Round tick values covering [lo, hi] on a 1/2/5 x 10^k step, about ``target`` of them;
    the first tick is <= lo and the last >= hi."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError("ticks need finite bounds")
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        pad = abs(hi) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    step = _nice_step((hi - lo) / max(target - 1, 1))
    start, stop = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
    return [round(k * step, 12) for k in range(start, stop + 1)]


def tick_label(value: float, ticks: list[float]) -> str:
    """A tick's label with as many decimals as the step needs (0.25, 0.5, 0.75 - not 0.30000000000000004)."""
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) if step < 1 else 0
    if abs(value) >= 10000:
        return f"{value / 1000:.{max(decimals - 3, 0)}f}k"
    return f"{value:.{decimals}f}"
