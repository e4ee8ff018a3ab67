"""A GPU window's figures from its two edge readings and the power samples (pure functions).

* Energy from the hardware counter (the difference of the edge readings), and from sampled power
  integrated over time (trapezoids, interpolated inside each segment between two good samples).
  The meter takes a power sample at every window's begin and end (``GpuSample.edge``), so sampled
  power covers a window up to its edges; nothing is extrapolated past a sample, and a window the
  samples cover in part says which fraction (``coverage``).
* The counter-vs-integrated discrepancy (``gpu_energy_discrepancy_pct``) compares the two over the
  same seconds: over the whole window when the samples cover it, else over the covered span only
  (the counter read at that span's own samples), with the ``coverage``. It is reported for every
  window; where it cannot be computed it reads not_measured with the reason.
"""
from __future__ import annotations

import statistics
from typing import Any, Iterable

from harness.meters.figures import measured, not_measured
from harness.meters.nvml_samples import GpuReading, GpuSample, decode_reasons

DEFAULT_UPDATE_PERIOD_S = 0.1
EDGE_TOLERANCE_S = 1e-9


def _segments(points: list[tuple[float, float | None]], t0: float, t1: float) -> Iterable[tuple]:
    """(lo, hi, ta, pa, tb, pb) for each part of [t0, t1] between two consecutive good samples."""
    for (ta, pa), (tb, pb) in zip(points, points[1:]):
        lo, hi = max(ta, t0), min(tb, t1)
        if pa is None or pb is None or hi <= lo or tb <= ta:
            continue
        yield lo, hi, ta, pa, tb, pb


def integrate_power(points: list[tuple[float, float | None]], t0: float, t1: float) -> tuple[float | None, float]:
    """(J, covered seconds): the trapezoidal integral of sampled power (W) over the parts of
    [t0, t1] that lie between two consecutive good samples (power not None), interpolating
    linearly inside each such segment. Nothing is extrapolated: before the first good sample,
    after the last, and across a failed sample, the window is not covered. J is None when no part
    of it is covered."""
    energy = covered = 0.0
    for lo, hi, ta, pa, tb, pb in _segments(points, t0, t1):
        at = lambda t: pa + (pb - pa) * (t - ta) / (tb - ta)  # noqa: E731
        energy += (hi - lo) * (at(lo) + at(hi)) / 2
        covered += hi - lo
    return (energy if covered > 0 else None), covered


def covered_spans(points: list[tuple[float, float | None]], t0: float, t1: float) -> list[tuple[float, float]]:
    """The covered parts of [t0, t1] (see integrate_power), adjacent segments merged."""
    spans: list[list[float]] = []
    for lo, hi, *_ in _segments(points, t0, t1):
        if spans and abs(spans[-1][1] - lo) <= EDGE_TOLERANCE_S:
            spans[-1][1] = hi
        else:
            spans.append([lo, hi])
    return [(lo, hi) for lo, hi in spans]


def counter_over(spans: list[tuple[float, float]], counter_at: dict[float, int]) -> float | None:
    """J the energy counter counted over ``spans``, from its readings at each span's two ends
    (``counter_at``: time -> mJ); None when it was not read at one of them. Every span end is a
    sample's time or a window edge, where the meter reads the counter too."""
    total = 0
    for lo, hi in spans:
        a, b = _at(counter_at, lo), _at(counter_at, hi)
        if a is None or b is None:
            return None
        total += b - a
    return total / 1000


def _at(counter_at: dict[float, int], t: float) -> int | None:
    if t in counter_at:
        return counter_at[t]
    near = [k for k in counter_at if abs(k - t) <= EDGE_TOLERANCE_S]
    return counter_at[near[0]] if near else None


def counter_update_period(points: list[tuple[float, int]]) -> float | None:
    """The median time between changes of the energy counter, as seen by the sampler."""
    changes = [t for (t, e), (_, prev) in zip(points[1:], points) if e != prev]
    gaps = [b - a for a, b in zip(changes, changes[1:])]
    return statistics.median(gaps) if gaps else None


def throttle_seconds(points: list[tuple[float, int]], t_end: float) -> dict[str, float]:
    """Seconds each clock-event reason was active: each sample's reasons hold until the next sample
    (the last until the window's end)."""
    out: dict[str, float] = {}
    for (t, bits), nxt in zip(points, [p[0] for p in points[1:]] + [t_end]):
        for name in decode_reasons(bits):
            out[name] = out.get(name, 0.0) + (nxt - t)
    return out


def _range(values: list) -> dict | None:
    values = [v for v in values if v is not None]
    return {"min": min(values), "max": max(values), "mean": statistics.fmean(values)} if values else None


def gpu_window(index: int, name: str, begin: GpuReading, end: GpuReading, mine: list[GpuSample],
               idle_w: float | None, last_error: str | None, counter_unsupported: str | None) -> dict:
    """One GPU's part of a window; ``mine``: this GPU's samples, in time order, edge samples included."""
    duration = end.t - begin.t
    inside = [s for s in mine if begin.t <= s.t <= end.t]
    regular = [s for s in inside if not s.edge]          # the sampler's: clocks, reasons, temperature
    e0, e1 = begin.energy_mj.get(index), end.energy_mj.get(index)
    counter_j = None if e0 is None or e1 is None else (e1 - e0) / 1000
    points = [(s.t, s.power_w) for s in mine]
    integrated_j, covered_s = integrate_power(points, begin.t, end.t)
    counter_at = {s.t: s.energy_mj for s in mine if s.energy_mj is not None}
    counter_at.update({t: e for t, e in ((begin.t, e0), (end.t, e1)) if e is not None})
    spans = covered_spans(points, begin.t, end.t)
    compared_counter_j = counter_over(spans, counter_at) if spans else None
    period = counter_update_period([(s.t, s.energy_mj) for s in mine if s.energy_mj is not None and not s.edge])
    throttle = throttle_seconds([(s.t, s.reasons) for s in regular if s.reasons is not None], end.t)
    violations = {key: (end.violations_ns[index].get(key, 0) - ns) / 1e9
                  for key, ns in begin.violations_ns.get(index, {}).items()
                  if key in end.violations_ns.get(index, {})}
    powers = [s.power_w for s in inside if s.power_w is not None]
    return {"gpu": index, "name": name, "duration_s": duration, "counter_j": counter_j,
            "integrated_j": integrated_j, "covered_s": covered_s, "last_error": last_error,
            "compared_counter_j": compared_counter_j if integrated_j is not None else None,
            "idle_w": idle_w, "peak_w": max(powers) if powers else None, "update_period_s": period,
            "short_window": duration < 5 * (period or DEFAULT_UPDATE_PERIOD_S), "throttle_s": throttle,
            "violation_s": violations, "sm_clock_mhz": _range([s.sm_mhz for s in regular]),
            "mem_clock_mhz": _range([s.mem_mhz for s in regular]),
            "pstates": sorted({s.pstate for s in regular if s.pstate is not None}),
            "temp_c_max": max((s.temp_c for s in regular if s.temp_c is not None), default=None),
            "samples": len(regular), "edge_samples": len(inside) - len(regular),
            "energy_counter_unsupported": counter_unsupported}


def discrepancy(per_gpu: list[dict], duration: float) -> dict:
    """``gpu_energy_discrepancy_pct``: 100 (integrated - counter) / counter over the seconds both
    cover, with that ``coverage``; not_measured with the reason where one side is missing."""
    if any(g["counter_j"] is None and g["compared_counter_j"] is None for g in per_gpu):
        why = sorted({g["energy_counter_unsupported"] or g["last_error"] or "no reading" for g in per_gpu
                      if g["counter_j"] is None and g["compared_counter_j"] is None})
        return not_measured("%", "no energy counter reading to compare sampled power with (" + "; ".join(why) + ")")
    if any(g["integrated_j"] is None for g in per_gpu):
        return not_measured("%", "no two good power samples in the window to integrate")
    if any(g["compared_counter_j"] is None for g in per_gpu):
        return not_measured("%", "the energy counter was not read at the ends of the span the power samples cover")
    counter = sum(g["compared_counter_j"] for g in per_gpu)
    integrated = sum(g["integrated_j"] for g in per_gpu)
    covered = min(g["covered_s"] for g in per_gpu)
    if counter <= 0:
        return not_measured("%", "the energy counter counted 0 J over the covered span (too short for its updates)")
    return measured(100 * (integrated - counter) / counter, "%", "nvml_power_integrated",
                    coverage=min(1.0, covered / duration) if duration > 0 else 0.0, covered_s=covered,
                    compared_counter_j=counter, compared_integrated_j=integrated)


def sum_gpus(per_gpu: list[dict], duration: float, no_idle_reason: str) -> dict:
    counters = [g["counter_j"] for g in per_gpu]
    integrated = [g["integrated_j"] for g in per_gpu]
    has_counter = all(c is not None for c in counters)
    has_integral = all(i is not None for i in integrated)
    full = all(g["covered_s"] >= duration - 1e-9 for g in per_gpu)
    figures: dict[str, Any] = {"gpus": per_gpu}
    covered_s = duration
    if has_counter:
        gross = measured(sum(counters), "J", "nvml_energy_counter")
    elif has_integral:
        # each GPU's integral covers only its own good samples; the window's coverage is the least
        covered_s = min(g["covered_s"] for g in per_gpu)
        extra = {} if full else {"coverage": covered_s / duration if duration > 0 else 0.0, "covered_s": covered_s}
        gross = measured(sum(integrated), "J", "nvml_power_integrated", **extra)
    else:
        reasons = sorted({g["last_error"] or g["energy_counter_unsupported"] or "too few power samples"
                          for g in per_gpu})
        gross = not_measured("J", "GPU: no successful reading in this window (" + "; ".join(reasons) + ")")
    figures["gpu_energy_j"] = gross
    if has_counter and has_integral:
        least = min(g["covered_s"] for g in per_gpu)
        figures["gpu_energy_integrated_j"] = measured(sum(integrated), "J", "nvml_power_integrated",
                                                      **({} if full else {"coverage": least / duration, "covered_s": least}))
    if per_gpu:
        figures["gpu_energy_discrepancy_pct"] = discrepancy(per_gpu, duration)
    idle = [g["idle_w"] for g in per_gpu]
    if gross["value"] is not None and all(i is not None for i in idle):
        figures["gpu_energy_net_j"] = measured(gross["value"] - sum(idle) * covered_s, "J", gross["source"],
                                               idle_w=sum(idle), **{k: gross[k] for k in ("coverage", "covered_s") if k in gross})
    elif gross["value"] is None:
        figures["gpu_energy_net_j"] = not_measured("J", gross["reason"])
    else:
        figures["gpu_energy_net_j"] = not_measured("J", no_idle_reason)
    if gross["value"] is not None and covered_s > 0:
        figures["gpu_power_mean_w"] = measured(gross["value"] / covered_s, "W", gross["source"])
    else:
        figures["gpu_power_mean_w"] = not_measured("W", gross.get("reason") or "zero duration")
    peaks = [g["peak_w"] for g in per_gpu if g["peak_w"] is not None]
    figures["gpu_power_peak_w"] = (measured(sum(peaks), "W", "nvml_power_integrated") if peaks
                                   else not_measured("W", "no power samples in the window"))
    throttle: dict[str, float] = {}
    for g in per_gpu:
        for reason, seconds in g["throttle_s"].items():
            throttle[reason] = max(throttle.get(reason, 0.0), seconds)
    figures["throttle_s"] = throttle
    figures["short_window"] = any(g["short_window"] for g in per_gpu)
    return figures
