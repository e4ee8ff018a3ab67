"""The summary table printed at the end of a run and by `harness show`."""
from __future__ import annotations

from harness.failures import what


def _cells(m: dict) -> tuple[str, str, str]:
    def fmt(v, spec: str) -> str:
        return format(v, spec) if isinstance(v, (int, float)) and not isinstance(v, bool) else "—"
    ci = m.get("ci95") if isinstance(m.get("ci95"), (list, tuple)) and len(m.get("ci95")) == 2 else (None, None)
    return fmt(m.get("value"), ".4g"), fmt(m.get("stderr"), ".2g"), f"[{fmt(ci[0], '.4g')}, {fmt(ci[1], '.4g')}]"


def summary_table(results: dict) -> str:
    rows = [("model", "task", "n", "metric", "value", "± stderr", "95% CI")]
    for model, info in results["models"].items():
        for task, result in (info.get("tasks") or {}).items():
            n = f"{result.get('n', '?')}" + ("" if result.get("complete", True) else f"/{result.get('n_expected', '?')}")
            for metric, m in (result.get("metrics") or {}).items():
                rows.append((model, task, n, metric, *_cells(m)))
        for probe, result in (info.get("probes") or {}).items():
            for metric, m in (result.get("metrics") or {}).items():
                rows.append((model, f"probe:{probe}", str(result.get("n", "?")), metric, *_cells(m)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for model, info in results["models"].items():
        by_reason: dict[str, list[str]] = {}
        for task, reason in (info.get("skipped") or {}).items():
            by_reason.setdefault(reason, []).append(task)
        for reason, tasks in by_reason.items():
            lines.append(f"skipped for {model}: {', '.join(tasks)} ({reason})")
        lines += _not_measured(model, info)
        for name, result in [*(info.get("tasks") or {}).items(),
                             *((f"probe:{p}", r) for p, r in (info.get("probes") or {}).items())]:
            invalid = result.get("invalid") or {}
            if isinstance(invalid, dict) and invalid.get("n"):
                reasons = ", ".join(f"{reason}: {n}" for reason, n in (invalid.get("reasons") or {}).items())
                lines.append(f"invalid for {model}: {name}: {invalid['n']} not scored ({reasons})")
    run_energy = (results.get("energy") or {}).get("run")
    if run_energy:
        lines.append(energy_line(run_energy))
    for failure in results["run"].get("failures") or []:
        lines.append(f"FAILED for {failure.get('model', '?')}: {what(failure)}: {failure.get('error', '?')}")
    if results.get("comparison"):
        from harness.compare.terminal import comparison_table
        lines.append("")
        lines.append(comparison_table(results["comparison"]))
    status = results["run"]["status"]
    lines.append(f"run {results['run']['id']}: {status}")
    return "\n".join(lines)


def _not_measured(model: str, info: dict) -> list[str]:
    """The table shows "—" for a metric without a value; these lines say why, grouped by reason."""
    by_reason: dict[str, list[str]] = {}
    for name, result in [*(info.get("tasks") or {}).items(), *((f"probe:{p}", r) for p, r in (info.get("probes") or {}).items())]:
        for metric, m in (result.get("metrics") or {}).items():
            if isinstance(m, dict) and m.get("value") is None:
                reason = str(m.get("not_measured") or m.get("reason") or "no value")
                by_reason.setdefault(reason, []).append(f"{name} {metric}")
    return [f"not measured for {model}: {', '.join(items)}: {reason}" for reason, items in by_reason.items()]


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
