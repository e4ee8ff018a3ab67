"""The report's context: how each model was loaded (its variant in words), the machine and meters
the run used, and the caveats of the estimates. Pure: typed results in (harness.results), rows of
text out."""
from __future__ import annotations

from harness.report.numbers import sig
from harness.results.types import ModelResult, Results


def variant(info: ModelResult) -> str:
    """dtype, recipe (quantize, prune) and the model's size in memory, in words."""
    recipe = dict(info.extra("variant") or info.extra("recipe") or {})
    for key in ("quantize", "prune"):
        if info.extra(key) is not None:
            recipe[key] = info.extra(key)
    parts = [f"{k}={v}" for k, v in recipe.items() if v is not None and k != "dtype"]
    dtype = recipe.get("dtype") or info.dtype
    memory = ((info.extra("size") or {}).get("memory") or {}).get("value")
    if isinstance(memory, (int, float)):
        parts.append(f"{memory / 2**20:.1f} MiB in memory")
    sparsity = info.extra("sparsity") or {}
    achieved = sparsity.get("achieved")
    if sparsity.get("asked") is not None and isinstance(achieved, (int, float)):
        parts.append(f"sparsity {achieved:.3g} achieved")
    return ", ".join(([str(dtype)] if dtype else []) + parts)


def _meter(meters: dict, name: str) -> dict:
    found = meters.get(name)
    return found if isinstance(found, dict) else {}


def environment(results: Results) -> list[tuple[str, str]]:
    env = results.environment
    energy = results.energy
    meters = energy.meters if energy is not None else {}
    rows = []
    gpu = _meter(meters, "gpu")
    if gpu.get("gpus"):
        for g in gpu["gpus"]:
            rows.append((f"GPU {g.get('index', '')}", f"{g.get('name', '?')}; power limit {sig(g.get('enforced_power_limit_w'))} W; "
                                                     f"persistence mode {g.get('persistence_mode', '?')}"))
        rows.append(("GPU driver", str(gpu.get("driver_version", "—"))))
    elif env.get("gpus"):
        rows.append(("GPUs", ", ".join(map(str, env["gpus"]))))
    else:
        rows.append(("GPU", "none" + (f" (GPU meter: {gpu['reason']})" if gpu.get("reason") else "")))
    rows.append(("CPU", f"{env.get('cpu', '?')}" + (f", {env['cpu_count']} cores" if env.get("cpu_count") else "")))
    if env.get("platform"):
        rows.append(("platform", env["platform"]))
    run = results.run
    rows.append(("versions", ", ".join(f"{k} {env[k]}" for k in ("python", "torch", "transformers") if env.get(k))
                 + f"; harness {run.harness_version or '?'} ({run.git_sha or 'no git commit'})"))
    ci = energy.carbon_intensity if energy is not None else None
    if ci is not None:
        value = (f"{sig(ci.g_per_kwh)} g CO₂e/kWh from {ci.source}" if ci.g_per_kwh is not None
                 else "not given, so no carbon figure (see Not measured at the top)")
        rows.append(("carbon intensity", f"{value}; PUE {ci.pue}"))
    host = _meter(meters, "host")
    if host:
        rows.append(("CPU/RAM meter", f"{host.get('source', '')}: {host.get('description') or host.get('reason') or ''}"))
    if isinstance(meters.get("startup_s"), (int, float)):
        rows.append(("meter start-up", f"{sig(meters['startup_s'])} s (incl. idle baseline)"))
    rows.append(("run", f"{run.id}: started {run.started or ''}, finished {run.finished or '—'}; "
                        f"seed {'' if run.seed is None else run.seed}" + (f"; limit {run.limit}" if run.limit else "")))
    if run.argv:
        rows.append(("command", "harness " + " ".join(map(str, run.argv))))
    return rows


def caveats(results: Results) -> list[str]:
    if results.energy is None:
        return []
    host = _meter(results.energy.meters, "host")
    out = ["CPU and RAM energy are machine-wide: they include every other process running on this machine during the run, "
           "not only the model."]
    if host.get("source") == "estimated":
        out.append("CPU energy is estimated from CPU load and the CPU's TDP (CodeCarbon), not read from a counter; "
                   "RAM power is modelled from the installed memory size (CodeCarbon), not measured.")
    else:
        out.append("RAM energy comes from RAPL's DRAM domain where the machine has one; otherwise it is modelled or missing.")
    out.append("Figures marked ≈ are estimates; unmarked ones come from a hardware counter or the clock.")
    return out
