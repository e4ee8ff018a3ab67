"""The summary table printed at the end of a run and by `harness show` (typed results in, text out)."""
from __future__ import annotations

from harness.results.energy import Energy
from harness.results.reading import as_results
from harness.results.types import ModelResult, Results
from harness.results.values import Figure, MetricValue


def _cells(m: MetricValue) -> tuple[str, str, str]:
    def fmt(v, spec: str) -> str:
        return format(v, spec) if isinstance(v, (int, float)) and not isinstance(v, bool) else "—"
    lo, hi = m.ci95
    return fmt(m.value, ".4g"), fmt(m.stderr, ".2g"), f"[{fmt(lo, '.4g')}, {fmt(hi, '.4g')}]"


def summary_table(results: Results | dict) -> str:
    results = as_results(results)
    rows = [("model", "task", "n", "metric", "value", "± stderr", "95% CI")]
    for model, info in results.models.items():
        for task, result in info.tasks.items():
            n = f"{result.n}" + ("" if result.complete else f"/{'?' if result.n_expected is None else result.n_expected}")
            for metric, m in result.metrics.items():
                rows.append((model, task, n, metric, *_cells(m)))
        for probe, result in info.probes.items():
            for metric, m in result.metrics.items():
                rows.append((model, f"probe:{probe}", "?" if result.n is None else str(result.n), metric, *_cells(m)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for model, info in results.models.items():
        by_reason: dict[str, list[str]] = {}
        for task, reason in info.skipped.items():
            by_reason.setdefault(reason, []).append(task)
        for reason, tasks in by_reason.items():
            lines.append(f"skipped for {model}: {', '.join(tasks)} ({reason})")
        lines += _not_measured(model, info)
        for name, result in [*info.tasks.items(), *((f"probe:{p}", r) for p, r in info.probes.items())]:
            invalid = result.invalid
            if invalid is not None and invalid.n:
                reasons = ", ".join(f"{reason}: {n}" for reason, n in invalid.reasons.items())
                lines.append(f"invalid for {model}: {name}: {invalid.n} not scored ({reasons})")
    run_energy = results.energy.run if results.energy is not None else None
    if run_energy is not None:
        lines.append(energy_line(run_energy))
    for failure in results.run.failures:
        lines.append(f"FAILED for {failure.model}: {failure.what}: {failure.error}")
    if results.comparison is not None:
        from harness.compare.terminal import comparison_table
        lines.append("")
        lines.append(comparison_table(results.comparison))
    lines.append(f"run {results.run.id}: {results.run.status}")
    return "\n".join(lines)


def _not_measured(model: str, info: ModelResult) -> list[str]:
    """The table shows "—" for a metric without a value; these lines say why, grouped by reason."""
    by_reason: dict[str, list[str]] = {}
    for name, result in [*info.tasks.items(), *((f"probe:{p}", r) for p, r in info.probes.items())]:
        for metric, m in result.metrics.items():
            if m.value is None:
                by_reason.setdefault(str(m.reason), []).append(f"{name} {metric}")
    return [f"not measured for {model}: {', '.join(items)}: {reason}" for reason, items in by_reason.items()]


def _figure(f: Figure | None) -> str:
    if f is None or f.value is None:
        return "not measured: " + ((f.reason if f is not None else None) or "no meter")
    coverage = f" over {f.coverage:.0%} of the time" if f.coverage is not None else ""
    return f"{f.value:.4g} {f.unit} ({f.source}{coverage})"


def energy_line(e: Energy) -> str:
    """The run's energy and power, each with its source, on one line."""
    total = e.total_energy_j
    spans = e.invocations or 1
    duration = e.duration_s.value if e.duration_s is not None and e.duration_s.value is not None else 0.0
    where = f" in {duration:.3g} s" + (f" over {spans} invocations (first run and resumes)" if spans > 1 else "")
    if total is None or total.value is None:
        return f"energy: {_figure(total)}"
    parts = ", ".join(f"{k.split('_')[0].upper()} {_figure(getattr(e, k))}"
                      for k in ("gpu_energy_j", "cpu_energy_j", "ram_energy_j") if getattr(e, k) is not None)
    gpu_power = e.gpu_power_mean_w
    return (f"energy: {total.value:.4g} J{where}: {parts}; mean power {_figure(e.total_power_mean_w)}"
            + (f", GPU {_figure(gpu_power)}" if gpu_power is not None and gpu_power.value is not None else ""))
