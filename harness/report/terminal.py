"""The summary table printed at the end of a run and by `harness show`."""
from __future__ import annotations


def _cells(m: dict) -> tuple[str, str, str]:
    fmt = lambda v, spec: "—" if v is None else format(v, spec)  # noqa: E731
    return fmt(m.get("value"), ".4g"), fmt(m.get("stderr"), ".2g"), f"[{fmt(m['ci95'][0], '.4g')}, {fmt(m['ci95'][1], '.4g')}]"


def summary_table(results: dict) -> str:
    rows = [("model", "task", "n", "metric", "value", "± stderr", "95% CI")]
    for model, info in results["models"].items():
        for task, result in info["tasks"].items():
            n = f"{result['n']}" + ("" if result.get("complete", True) else f"/{result['n_expected']}")
            for metric, m in result["metrics"].items():
                rows.append((model, task, n, metric, *_cells(m)))
        for probe, result in info.get("probes", {}).items():
            for metric, m in result["metrics"].items():
                rows.append((model, f"probe:{probe}", str(result["n"]), metric, *_cells(m)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for model, info in results["models"].items():
        by_reason: dict[str, list[str]] = {}
        for task, reason in info.get("skipped", {}).items():
            by_reason.setdefault(reason, []).append(task)
        for reason, tasks in by_reason.items():
            lines.append(f"skipped for {model}: {', '.join(tasks)} ({reason})")
        for name, result in [*info["tasks"].items(), *((f"probe:{p}", r) for p, r in info.get("probes", {}).items())]:
            invalid = result.get("invalid") or {}
            if invalid.get("n"):
                reasons = ", ".join(f"{reason}: {n}" for reason, n in invalid["reasons"].items())
                lines.append(f"invalid for {model}: {name}: {invalid['n']} not scored ({reasons})")
    run_energy = (results.get("energy") or {}).get("run")
    if run_energy:
        lines.append(energy_line(run_energy))
    for failure in results["run"].get("failures", []):
        lines.append(f"FAILED for {failure['model']}: {failure['what']}: {failure['error']}")
    if results.get("comparison"):
        from harness.compare.terminal import comparison_table
        lines.append("")
        lines.append(comparison_table(results["comparison"]))
    status = results["run"]["status"]
    lines.append(f"run {results['run']['id']}: {status}")
    return "\n".join(lines)


def _figure(f: dict | None) -> str:
    if not f or f.get("value") is None:
        return "not measured: " + ((f or {}).get("reason") or "no meter")
    coverage = f" over {f['coverage']:.0%} of the time" if "coverage" in f else ""
    return f"{f['value']:.4g} {f['unit']} ({f['source']}{coverage})"


def energy_line(e: dict) -> str:
    """The run's energy and power, each with its source, on one line."""
    total = e.get("total_energy_j")
    spans = e.get("invocations", 1)
    where = f" in {e['duration_s']['value']:.3g} s" + (f" over {spans} invocations (first run and resumes)" if spans > 1 else "")
    if not total or total.get("value") is None:
        return f"energy: {_figure(total)}"
    parts = ", ".join(f"{k.split('_')[0].upper()} {_figure(e.get(k))}" for k in ("gpu_energy_j", "cpu_energy_j", "ram_energy_j")
                      if k in e)
    gpu_power = e.get("gpu_power_mean_w") or {}
    return (f"energy: {total['value']:.4g} J{where}: {parts}; mean power {_figure(e.get('total_power_mean_w'))}"
            + (f", GPU {_figure(gpu_power)}" if gpu_power.get("value") is not None else ""))
