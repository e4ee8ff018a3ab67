"""Quality against energy and energy by piece, for report.html and compare.html.

* A task that two or more models ran with energy measured gets a panel: its headline metric (95% CI)
  against J per example, the y axis labelled with the metric's direction (↑ or ↓ better). A task only
  one model ran would be a one-dot panel: such tasks go to one table instead (metric, value, J/example).
* Energy by task and probe: one bar chart per model, all on one shared scale, so a model that costs
  40x another is drawn 40x longer; an interval over repeats is drawn as a whisker.
Pure: typed results in, chart geometry and rows out."""
from __future__ import annotations

from dataclasses import dataclass

import harness.report.charts as charts
from harness.report.cells import Notes, fig, metric_cell
from harness.report.details import primary
from harness.report.intervals import interval
from harness.results.types import Results


@dataclass
class QualityEnergy:
    panels: list                      # charts.Scatter, tasks with two or more models
    rows: list[dict]                  # {task, model, metric, arrow, cell, jpe}: tasks with one model
    missing: str                      # the models and tasks with no J/example, and why
    legend: list[tuple[str, str]]     # (model, colour)


def arrow(higher_is_better: bool | None) -> str:
    return "↓" if higher_is_better is False else "↑"


def quality_energy(results: Results, notes: Notes) -> QualityEnergy:
    colors = {name: charts.color(i) for i, name in enumerate(results.models)}
    by_task: dict[str, list[dict]] = {}
    missing: dict[str, str] = {}
    metric_of: dict[str, str] = {}
    hib: dict[str, bool | None] = {}
    for name, info in results.models.items():
        for task, result in info.tasks.items():
            metric = metric_of.setdefault(task, primary(result) or "")
            m = result.metrics.get(metric)
            jpe = result.energy.j_per_example if result.energy is not None else None
            if m is None or m.value is None:
                continue
            hib.setdefault(task, m.higher_is_better)
            if jpe is None or jpe.value is None:
                missing[f"{name} · {task}"] = (jpe.reason if jpe is not None else None) or "no energy meter"
                continue
            by_task.setdefault(task, []).append({"label": name, "x": jpe.value, "y": m.value, "ci": list(m.ci95),
                                                 "color": colors[name], "cell": metric_cell(m, notes), "jpe": fig(jpe, notes)})
    panels, rows = [], []
    for task, points in by_task.items():
        if len(points) >= 2:
            panels.append(charts.scatter(task, points, "J per example", metric_of[task], hib.get(task) is not False))
        else:
            p = points[0]
            rows.append({"task": task, "model": p["label"], "metric": metric_of[task], "arrow": arrow(hib.get(task)),
                         "cell": p["cell"], "jpe": p["jpe"]})
    text = ""
    if missing:
        reasons = sorted(set(missing.values()))
        text = (f"Energy per example was not measured for {', '.join(sorted(missing))}, so quality is not set against "
                f"energy there: " + "; ".join(f"not measured: {r}" for r in reasons))
    used = {p.label for panel in panels for p in panel.points}
    return QualityEnergy(panels, rows, text, [(n, c) for n, c in colors.items() if n in used])


def energy_bars(results: Results) -> list[charts.Bars]:
    """One chart per model, every chart on the scale of the largest bar of them all."""
    per_model = []
    for name, info in results.models.items():
        rows = []
        for label, result, kind in [*((t, r, "task") for t, r in info.tasks.items()),
                                    *((f"probe {p}", r, "probe") for p, r in info.probes.items())]:
            total = result.energy.total_energy_j if result.energy is not None else None
            if total is None or total.value is None:
                continue
            spread = interval(total)
            rows.append((label, total.value, kind, (spread.lo, spread.hi) if spread is not None else None))
        if rows:
            per_model.append((name, rows))
    top = max((max((v, *(whisker or ()))) for _, rows in per_model for _, v, _, whisker in rows), default=0.0)
    return [charts.bars(name, rows, "J", scale_max=top) for name, rows in per_model]

