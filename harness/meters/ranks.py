"""Energy of a run sharded across ranks (harness.distributed), from their windows (pure functions).

Every rank's windows carry ``rank``. A figure is first aggregated per rank over its own windows
(harness.meters.energy, coverage and all), then across ranks: energy is the sum over ranks (each
rank's GPU is its own device, and host CPU/RAM is only metered by one rank per node, so nothing is
counted twice), all or nothing: a total that would leave out a rank whose meter failed reads
not_measured, with that rank named. Time is the slowest rank's in each invocation (ranks run side
by side), summed over invocations (they run one after another).
"""
from __future__ import annotations

from typing import Callable, Sequence

from harness.meters.figures import is_measured, measured, not_measured, weakest


def wall_duration(windows: Sequence[dict]) -> float:
    """Per invocation, the slowest rank's seconds (each rank's windows summed); summed over invocations."""
    per: dict = {}
    for w in windows:
        ranks = per.setdefault(w.get("invocation"), {})
        ranks[w.get("rank")] = ranks.get(w.get("rank"), 0.0) + w["duration_s"]
    return sum(max(ranks.values()) for ranks in per.values())


def sum_over_ranks(figures: dict[int, dict], unit: str, duration: float) -> dict:
    """One figure per rank -> their sum with the weakest source; not measured if any rank's is not.
    A rank's partial coverage carries over as the least coverage of any rank."""
    missing = {rank: f.get("reason", "not measured") for rank, f in figures.items() if not is_measured(f)}
    if missing:
        return not_measured(unit, "; ".join(f"rank {rank}: {reason}" for rank, reason in sorted(missing.items())))
    total = measured(sum(f["value"] for f in figures.values()), unit, weakest(f["source"] for f in figures.values()))
    coverages = [f["coverage"] for f in figures.values() if "coverage" in f]
    if coverages:
        total.update(coverage=min(coverages), covered_s=min(coverages) * duration)
    return total


def across_ranks(windows: Sequence[dict], per_rank: Callable[[list[dict]], dict], energy_keys: Sequence[str]) -> dict:
    """``aggregate`` for windows of several ranks: ``per_rank`` aggregates one rank's windows;
    ``energy_keys`` are the energy figures summed over ranks (harness.meters.energy.ENERGY_KEYS)."""
    by_rank: dict = {}
    for w in windows:
        by_rank.setdefault(w.get("rank"), []).append(w)
    parts = {rank: per_rank(ws) for rank, ws in sorted(by_rank.items(), key=lambda kv: str(kv[0]))}
    duration = wall_duration(windows)
    out: dict = {"windows": len(windows), "duration_s": duration,
                 "invocations": len({w.get("invocation") for w in windows}), "ranks": len(parts),
                 "examples": sum(p["examples"] for p in parts.values()),
                 "generated_tokens": sum(p["generated_tokens"] for p in parts.values())}
    for key in energy_keys:
        present = {rank: p[key] for rank, p in parts.items() if key in p}
        if present:
            out[key] = sum_over_ranks(present, "J", duration)
    peaks = [p["gpu_power_peak_w"] for p in parts.values() if "gpu_power_peak_w" in p]
    if peaks:                              # side by side: at most the sum of each rank's peak (as for several GPUs)
        out["gpu_power_peak_w"] = measured(sum(f["value"] for f in peaks), "W", weakest(f["source"] for f in peaks))
    throttle: dict[str, float] = {}
    for p in parts.values():
        for reason, seconds in p["throttle_s"].items():
            throttle[reason] = max(throttle.get(reason, 0.0), seconds)
    out["throttle_s"] = throttle
    out["short_window"] = any(p["short_window"] for p in parts.values())
    counter, integrated = out.get("gpu_energy_j"), out.get("gpu_energy_integrated_j")
    if (all("gpu_energy_discrepancy_pct" in p for p in parts.values() if "gpu_energy_j" in p)
            and is_measured(counter) and is_measured(integrated) and counter["value"]
            and "coverage" not in integrated):
        out["gpu_energy_discrepancy_pct"] = measured(100 * (integrated["value"] - counter["value"]) / counter["value"],
                                                     "%", "nvml_power_integrated")
    return out
