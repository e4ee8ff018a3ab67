"""From measurement windows to the energy objects in results.json (pure functions).

A task's or probe's figures sum every window recorded for it, so a run that was resumed counts
the energy of each invocation once; a model's or the run's take, per invocation, its own window,
or the windows that closed inside it when a kill stopped it first (`covering`). Every object says
how many invocations it spans, and an energy figure that covers only part of its windows' seconds
says which fraction (``coverage``). Derived figures keep the weakest source of their inputs.
"""
from __future__ import annotations

from typing import Iterable

from harness.meters.carbon import CarbonIntensity, grams_co2e
from harness.meters.figures import combine, is_measured, measured, not_measured, scaled
from harness.meters.ranks import across_ranks

ENERGY_KEYS = ("gpu_energy_j", "gpu_energy_integrated_j", "gpu_energy_net_j", "cpu_energy_j", "ram_energy_j")


def covering(windows: Iterable[dict], path: str) -> list[dict]:
    """The windows whose sum is the work under ``path`` (e.g. "run:ID/model:NAME") over every
    invocation of a run: in each invocation the window at ``path`` itself when it closed, else the
    windows that closed under it (recursively), so a killed invocation's work still counts once."""
    by_invocation: dict = {}
    for w in windows:                       # each rank of a sharded run covers its own part
        by_invocation.setdefault((w.get("invocation"), w.get("rank")), []).append(w)
    return [w for group in by_invocation.values() for w in _cover(group, path)]


def _cover(windows: list[dict], path: str) -> list[dict]:
    own = [w for w in windows if w["path"] == path]
    if own:
        return own
    prefix = path + "/"
    children = sorted({prefix + w["path"][len(prefix):].split("/")[0] for w in windows if w["path"].startswith(prefix)})
    return [w for child in children for w in _cover(windows, child)]


def _with_coverage(total: dict, windows: list[dict], key: str, duration: float) -> dict:
    """``total`` (a sum over ``windows``) marked with the fraction of their seconds it covers."""
    if not is_measured(total) or duration <= 0:
        return total
    covered = sum(w["figures"][key].get("covered_s", w["duration_s"]) if is_measured(w["figures"].get(key)) else 0.0
                  for w in windows)
    if covered < duration * (1 - 1e-9):
        total = {**total, "coverage": covered / duration, "covered_s": covered}
    return total


def aggregate(windows: Iterable[dict]) -> dict:
    """Sum the figures of several windows of the same kind of work (of several ranks: harness.meters.ranks)."""
    windows = list(windows)
    if any("rank" in w for w in windows):
        return across_ranks(windows, _aggregate_one, ENERGY_KEYS)
    return _aggregate_one(windows)


def _aggregate_one(windows: list[dict]) -> dict:
    duration = sum(w["duration_s"] for w in windows)
    out: dict = {"windows": len(windows), "duration_s": duration,
                 "invocations": len({w.get("invocation") for w in windows}),
                 "examples": sum(w.get("examples", 0) for w in windows),
                 "generated_tokens": sum(w.get("generated_tokens", 0) for w in windows)}
    for key in ENERGY_KEYS:
        present = [w["figures"][key] for w in windows if key in w["figures"]]
        if present:
            out[key] = _with_coverage(combine(present, "J"), windows, key, duration)
    peaks = [w["figures"]["gpu_power_peak_w"] for w in windows if is_measured(w["figures"].get("gpu_power_peak_w"))]
    if peaks:
        out["gpu_power_peak_w"] = max(peaks, key=lambda f: f["value"])
    throttle: dict[str, float] = {}
    for w in windows:
        for reason, seconds in w["figures"].get("throttle_s", {}).items():
            throttle[reason] = throttle.get(reason, 0.0) + seconds
    out["throttle_s"] = throttle
    out["short_window"] = any(w["figures"].get("short_window", False) for w in windows)
    discrepancies = [w["figures"]["gpu_energy_discrepancy_pct"] for w in windows if "gpu_energy_discrepancy_pct" in w["figures"]]
    if discrepancies and is_measured(out.get("gpu_energy_j")) and is_measured(out.get("gpu_energy_integrated_j")):
        counter, integrated = out["gpu_energy_j"]["value"], out["gpu_energy_integrated_j"]["value"]
        if counter:
            out["gpu_energy_discrepancy_pct"] = measured(100 * (integrated - counter) / counter, "%", "nvml_power_integrated")
    return out


def energy_object(agg: dict, intensity: CarbonIntensity, metrics: dict | None = None, kind: str | None = None,
                  disabled_reason: str | None = None) -> dict:
    """The ``energy`` object of a model or task in results.json."""
    duration = agg["duration_s"]
    if disabled_reason:
        return {"duration_s": {"value": duration, "unit": "s", "source": "clock"}, "invocations": agg["invocations"],
                "examples": agg["examples"],
                "total_energy_j": not_measured("J", disabled_reason)}
    parts = [agg[k] for k in ("gpu_energy_j", "cpu_energy_j", "ram_energy_j") if k in agg]
    total = combine(parts, "J")
    partial = [f["coverage"] for f in parts if is_measured(f) and "coverage" in f]
    if partial and is_measured(total):
        total["coverage"] = min(partial)
    if is_measured(total):
        total["includes"] = [k.split("_")[0] for k in ("gpu_energy_j", "cpu_energy_j", "ram_energy_j")
                             if is_measured(agg.get(k))]
    out: dict = {"duration_s": {"value": duration, "unit": "s", "source": "clock"}, "invocations": agg["invocations"],
                 "total_energy_j": total, **({"ranks": agg["ranks"]} if "ranks" in agg else {})}
    for key in ENERGY_KEYS:
        if key in agg:
            out[key] = agg[key]
    if "gpu_energy_discrepancy_pct" in agg:
        out["gpu_energy_discrepancy_pct"] = agg["gpu_energy_discrepancy_pct"]
    gpu = agg.get("gpu_energy_j", not_measured("J", "no GPU meter"))
    gpu_s = gpu.get("covered_s", duration)
    out["gpu_power_mean_w"] = scaled(gpu, 1 / gpu_s if gpu_s else None, "W", "zero duration")
    out["gpu_power_peak_w"] = agg.get("gpu_power_peak_w", not_measured("W", _reason(agg.get("gpu_energy_j"))))
    out["cpu_power_mean_w"] = scaled(agg.get("cpu_energy_j", not_measured("J", "no host meter")),
                                     1 / duration if duration else None, "W", "zero duration")
    out["total_power_mean_w"] = scaled(total, 1 / duration if duration else None, "W", "zero duration")
    n = agg["examples"]
    out["examples"] = n
    out["j_per_example"] = scaled(total, 1 / n if n else None, "J/example", "no examples computed in this window")
    out["examples_per_j"] = (measured(n / total["value"], "examples/J", total["source"])
                             if is_measured(total) and total["value"] > 0 and n else
                             not_measured("examples/J", _reason(total) if not is_measured(total) else "no examples or no energy"))
    if kind in ("generate", "lm-eval:generate_until"):         # harness.lmeval's generation tasks count tokens too
        tokens = agg["generated_tokens"]
        out["j_per_generated_token"] = scaled(total, 1 / tokens if tokens else None, "J/token", "no tokens generated")
    if metrics:
        out["quality_per_kj"] = {
            name: (measured(m["value"] / (total["value"] / 1000), f"{name}/kJ", total["source"])
                   if is_measured(total) and total["value"] > 0 and m.get("value") is not None
                   else not_measured(f"{name}/kJ", _reason(total) if not is_measured(total) else "zero energy"))
            for name, m in metrics.items()}
    if intensity.known and is_measured(total):
        grams = grams_co2e(total["value"], intensity)
        out["gco2e"] = measured(grams, "gCO2e", total["source"], intensity_g_per_kwh=intensity.g_per_kwh, pue=intensity.pue)
        out["gco2e_per_1000_examples"] = (measured(grams * 1000 / n, "gCO2e/1000 examples", total["source"]) if n
                                          else not_measured("gCO2e/1000 examples", "no examples computed"))
    else:
        reason = intensity.source if not intensity.known else _reason(total)
        out["gco2e"] = not_measured("gCO2e", reason)
        out["gco2e_per_1000_examples"] = not_measured("gCO2e/1000 examples", reason)
    out["throttle_s"] = {reason: {"value": s, "unit": "s", "source": "nvml_clock_event_reasons"}
                         for reason, s in agg["throttle_s"].items()}
    out["short_window"] = agg["short_window"]
    return out


def _reason(figure: dict | None) -> str:
    return (figure or {}).get("reason", "not measured")
