"""The summary printed at the end of a run and by `harness show` (typed results in, text out). It opens
with the headline - one line per model: its recipe, headline metrics, energy, J/example and CO2e with
their sources (harness.report.headline) - then what was not done, grouped: skips, failures, figures not
measured, unscored items. The full table of every metric follows with ``verbose`` (`harness run
--verbose`) and in `harness show`, which also gives a gate's verdict."""
from __future__ import annotations

from harness.report.headline import headline
from harness.report.verdict import terminal_lines
from harness.results.energy import Energy
from harness.results.reading import as_results
from harness.results.types import ModelResult, Results
from harness.results.values import Figure, MetricValue


def _cells(m: MetricValue) -> tuple[str, str, str]:
    def fmt(v, spec: str) -> str:
        return format(v, spec) if isinstance(v, (int, float)) and not isinstance(v, bool) else "—"
    lo, hi = m.ci95
    return fmt(m.value, ".4g"), fmt(m.stderr, ".2g"), f"[{fmt(lo, '.4g')}, {fmt(hi, '.4g')}]"


def full_table(results: Results) -> list[str]:
    """Every metric of every task and probe, one row each."""
    rows = [("model", "task", "n", "metric", "value", "± stderr", "95% CI")]
    for model, info in results.models.items():
        for task, result in info.tasks.items():
            n = f"{result.n}" + ("" if result.complete else f"/{'?' if result.n_expected is None else result.n_expected}")
            for metric, m in result.metrics.items():
                rows.append((model, task, n, metric, *_cells(m)))
        for probe, result in info.probes.items():
            for metric, m in result.metrics.items():
                rows.append((model, f"probe:{probe}", "?" if result.n is None else str(result.n), metric, *_cells(m)))
    if len(rows) == 1:
        return ["(no metric: nothing was scored)"]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def _pieces(info: ModelResult) -> list:
    return [*info.tasks.items(), *((f"probe:{p}", r) for p, r in info.probes.items())]


def not_done(results: Results) -> list[str]:
    """Skips, failures, figures not measured and unscored items, each kind together, grouped by reason."""
    skipped, measured, invalid = [], [], []
    for model, info in results.models.items():
        by_reason: dict[str, list[str]] = {}
        for task, reason in info.skipped.items():
            by_reason.setdefault(reason, []).append(task)
        if by_reason:
            skipped.append(f"skipped for {model}: " + "; ".join(f"{', '.join(tasks)} ({reason})"
                                                               for reason, tasks in by_reason.items()))
        measured += _not_measured(model, info)
        for name, result in _pieces(info):
            inv = result.invalid
            if inv is not None and inv.n:
                reasons = ", ".join(f"{reason}: {n}" for reason, n in inv.reasons.items())
                invalid.append(f"invalid for {model}: {name}: {inv.n} not scored ({reasons})")
    failed = [f"FAILED for {f.model}: {f.what}: {f.error}" for f in results.run.failures]
    return failed + skipped + measured + invalid


def summary_table(results: Results | dict, verbose: bool = False, show: bool = False) -> str:
    """The headline, what was not done, the run's energy, the comparison (if any) and the run's status;
    ``verbose`` adds the full table; ``show`` (`harness show`) the full table and the gate's verdict."""
    results = as_results(results)
    lines = []
    if show and results.gate is not None:
        lines += terminal_lines(results.gate)
    lines += headline(results) or ["no model was evaluated"]
    if verbose or show:
        lines += [""] + full_table(results) + [""]
    lines += not_done(results)
    run_energy = results.energy.run if results.energy is not None else None
    if run_energy is not None:
        lines.append(energy_line(run_energy))
    if results.comparison is not None:
        from harness.compare.terminal import comparison_table
        lines.append("")
        lines.append(comparison_table(results.comparison))
    if not (verbose or show):
        lines.append("every metric with its interval: `harness show RUN_DIR` (or `harness run --verbose`); "
                     "report.html has the rest")
    lines.append(f"run {results.run.id}: {results.run.status}")
    return "\n".join(lines)


def _not_measured(model: str, info: ModelResult) -> list[str]:
    """The table shows "—" for a metric without a value; these lines say why, grouped by reason."""
    by_reason: dict[str, list[str]] = {}
    for name, result in _pieces(info):
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
    carbon = f"; {e.gco2e.value:.3g} g CO2e" if e.gco2e is not None and e.gco2e.value is not None else ""
    return (f"energy: {total.value:.4g} J{where}: {parts}; mean power {_figure(e.total_power_mean_w)}"
            + (f", GPU {_figure(gpu_power)}" if gpu_power is not None and gpu_power.value is not None else "") + carbon)
