"""A reliability diagram from a task's ``calibration`` object (harness.calibration), as geometry that
the report's template draws as inline SVG (autoescaped there, like every other chart): per non-empty
bin a bar up to the bin's accuracy and a dot at its mean confidence and accuracy, the diagonal of
perfect calibration, and the ECE with its bin count in the caption. Pure: values in, geometry out."""
from __future__ import annotations

from dataclasses import dataclass

from harness.results.types import Calibration


@dataclass(frozen=True)
class Bin:
    x: float
    y: float
    width: float
    height: float
    opacity: float
    cx: float
    cy: float
    title: str


@dataclass(frozen=True)
class Reliability:
    task: str
    width: int
    height: int
    box: tuple[float, float, float]                 # x, y, side of the unit square
    bins: tuple[Bin, ...]
    ticks: tuple[tuple[float, float, str], ...]     # (x or y pixel, other pixel, label) for 0, 0.5, 1
    caption: str
    reason: str | None = None            # why there is no chart (not measured)


def reliability_chart(task: str, calibration: Calibration, size: int = 200) -> Reliability:
    pad, top = 28, 8
    inner = size - 2 * pad
    height = top + inner + pad + 6
    if not calibration.measured:
        return Reliability(task, size, 40, (pad, top, inner), (), (), "", calibration.reason)

    def x(v: float) -> float:
        return pad + v * inner

    def y(v: float) -> float:
        return top + (1 - v) * inner

    n = max(1, int(calibration.n or 0))
    bins = tuple(Bin(x=x(r.lower) + 1, y=y(r.accuracy), width=max(0.0, x(r.upper) - x(r.lower) - 2),
                     height=y(0) - y(r.accuracy), opacity=round(0.25 + 0.75 * r.count / n, 2),
                     cx=x(r.confidence), cy=y(r.accuracy),
                     title=f"confidence {r.lower:.1f}-{r.upper:.1f}: {r.count} examples, mean confidence "
                           f"{r.confidence:.3f}, accuracy {r.accuracy:.3f}")
                 for r in calibration.reliability or () if r.count)
    ticks = tuple((x(v), y(v), f"{v:g}") for v in (0, 0.5, 1))
    ece = calibration.metrics["ece"]
    brier = calibration.metrics.get("brier")
    caption = f"ECE {ece.value:.3f} ({calibration.bins} equal-width bins, n = {calibration.n})"
    if brier is not None and brier.value is not None:
        caption += f" · Brier {brier.value:.3f}"
    return Reliability(task, size, height, (pad, top, inner), bins, ticks, caption)
