"""What report.html shows, computed from the typed results (harness.results) and the records (pure:
values in, plain data out). The template only loops over this; every number is formatted here
(harness.report.cells), and every "not measured" or "n/a" reason is collected once as a numbered
note. The per-model part is harness.report.details, the machine and meters harness.report.environment,
the comparison harness.report.comparison_view, the energy charts harness.report.energy_view."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from harness.report.cells import Cell, Fig, Notes, count, fig, metric_cell, size, stat_cell
from harness.report.comparison_view import comparison_view
from harness.report.details import details, pick_examples, primary
from harness.report.energy_view import QualityEnergy, energy_bars, quality_energy
from harness.report.environment import caveats, environment, variant
from harness.report.headline import carbon_source
from harness.report.timeline import Timeline
from harness.report.verdict import counts_text, rule_groups
from harness.results.reading import as_results
from harness.results.types import ModelResult, Results

__all__ = ["Page", "build", "count", "size", "pick_examples", "Notes", "Fig", "Cell"]

HEADLINE_TASKS = 8          # a model with more tasks points to the quality table instead of listing them
GATE_ROWS = 5               # failing or warning rule groups shown open above the per-model summary


@dataclass
class Page:
    results: Results
    notes: Notes
    verdict: dict
    summary: list[dict]
    models: list[str]
    quality: list[dict]
    probe_rows: list[dict]
    comparison: dict | None
    quality_energy: QualityEnergy
    energy_bars: list
    timeline: Timeline
    details: list[dict]
    environment: list[tuple[str, str]]
    caveats: list[str]
    carbon: str                      # where CO2e figures' intensity comes from, shown beside them

    @property
    def wide(self) -> bool:
        """Three or more models: the models x metrics tables wrap their cells to fit the page."""
        return len(self.models) >= 3


def _failure_rows(results: Results, model: str | None = None) -> list[dict]:
    return [{"model": f.model, "what": f.what, "error": f.error, "fix": f.fix}
            for f in results.run.failures if model is None or f.model == model]


def _skipped_cell(info: ModelResult, key: str) -> Cell:
    reason = info.skipped.get(key)
    return Cell(value="skipped" if reason else "—", title=reason or "", change="skipped" if reason else "")


def na_reason(name: str, info: ModelResult, metric: str, where: str) -> str:
    """Why model ``name`` has no ``metric`` in ``where`` (a task or probe): a per-task figure of a task it
    did not run (robustness' "facts_mc.worst_case_accuracy"), else that it does not report it."""
    task = metric.split(".", 1)[0] if "." in metric else None
    if task is not None and task not in info.tasks:
        reason = info.skipped.get(task)
        return (f"{name} did not run {task}" + (f": {reason}" if reason else "")
                + f", so {where} has no {metric} for it")
    return f"{where} reports no {metric} for {name}"


def _summary(results: Results, notes: Notes, compared: dict, baseline: str | None) -> list[dict]:
    summary = []
    for name, info in results.models.items():
        e = info.energy
        headline = [(task, metric, metric_cell(m, notes), m is not None and m.higher_is_better is False)
                    for task, result in info.tasks.items() for metric in [primary(result)] if metric
                    for m in [result.metrics.get(metric)]]
        summary.append({
            "name": name, "kind": info.kind, "spec": info.spec, "variant": variant(info),
            "parameters": count(info.parameters),
            "headline": headline if len(headline) <= HEADLINE_TASKS else [], "n_headline": len(headline),
            "device": info.device or "", "tasks": len(info.tasks), "probes": len(info.probes),
            "skipped": dict(info.skipped), "failures": _failure_rows(results, name),
            "duration": fig(e.duration_s, notes) if e else Fig(),
            "energy": fig(e.total_energy_j, notes) if e else Fig(),
            "j_per_example": fig(e.j_per_example, notes) if e else Fig(),
            "gco2e": fig(e.gco2e, notes) if e else Fig(),
            "baseline": name == baseline,
            "flipped": compared[name].flipped.to_json() if name in compared else None,
        })
    return summary


def _quality(results: Results, notes: Notes, compared: dict) -> list[dict]:
    rows = []
    tasks: list[str] = []
    for info in results.models.values():
        tasks += [t for t in info.tasks if t not in tasks]
    for task in tasks:
        metric_names: list[str] = []
        for info in results.models.values():
            if task in info.tasks:
                metric_names += [m for m in info.tasks[task].metrics if m not in metric_names]
        for k, metric in enumerate(metric_names):
            cells, n, hib = [], "", None
            for name, info in results.models.items():
                result = info.tasks.get(task)
                if result is None:
                    cells.append(_skipped_cell(info, task))
                    continue
                n = n or (f"{result.n}" + ("" if result.complete else f" of {result.n_expected}"))
                m = result.metrics.get(metric)
                hib = hib if hib is not None or m is None else m.higher_is_better
                stat = compared[name].tasks.get(task, {}).get(metric) if name in compared else None
                cells.append(stat_cell(metric_cell(m, notes, na_reason(name, info, metric, task)), stat, notes))
            rows.append({"task": task, "metric": metric, "primary": k == 0, "n": n, "cells": cells,
                         "first": k == 0, "span": len(metric_names), "lower_better": hib is False})
    return rows


def _probe_rows(results: Results, notes: Notes, compared: dict) -> list[dict]:
    rows = []
    probes: list[str] = []
    for info in results.models.values():
        probes += [p for p in info.probes if p not in probes]
    for probe in probes:
        names: list[str] = []
        for info in results.models.values():
            if probe in info.probes:
                names += [m for m in info.probes[probe].metrics if m not in names]
        for k, metric in enumerate(names):
            cells = []
            for name, info in results.models.items():
                p = info.probes.get(probe)
                if p is None:
                    cells.append(_skipped_cell(info, f"probe:{probe}"))
                    continue
                stat = compared[name].probes.get(probe, {}).get(metric) if name in compared else None
                missing = na_reason(name, info, metric, f"probe {probe}")
                cells.append(stat_cell(metric_cell(p.metrics.get(metric), notes, missing), stat, notes))
            rows.append({"probe": probe, "metric": metric, "cells": cells, "first": k == 0, "span": len(names)})
    return rows


def build(results: Results | dict, records: Sequence[dict], timeline: Timeline, per_model: bool = True) -> Page:
    """``per_model`` False (compare.html): no per-model part, so no note is numbered for what the page never shows."""
    results = as_results(results)
    notes = Notes()
    comparison = results.comparison
    compared = comparison.models if comparison else {}
    verdict = _verdict(results, notes)
    summary = _summary(results, notes, compared, comparison.baseline if comparison else None)
    quality = _quality(results, notes, compared)
    probe_rows = _probe_rows(results, notes, compared)
    return Page(results=results, notes=notes, verdict=verdict, summary=summary, models=list(results.models),
                quality=quality, probe_rows=probe_rows, comparison=comparison_view(comparison, notes),
                quality_energy=quality_energy(results, notes), energy_bars=energy_bars(results), timeline=timeline,
                details=[details(name, info, records, notes, variant(info)) for name, info in results.models.items()]
                if per_model else [],
                environment=environment(results), caveats=caveats(results), carbon=carbon_source(results))


def _verdict(results: Results, notes: Notes) -> dict:
    run = results.run
    out = {"status": run.status, "complete": run.status == "complete", "gate": None,
           "failures": _failure_rows(results), "skipped": []}
    grouped: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for name, info in results.models.items():
        by_reason: dict[str, list[str]] = {}
        for item, reason in info.skipped.items():
            by_reason.setdefault(reason, []).append(item)
        for reason, items in by_reason.items():
            grouped.setdefault((reason, tuple(items)), []).append(name)
    out["skipped"] = [{"model": ", ".join(names), "items": list(items), "reason": reason}
                      for (reason, items), names in grouped.items()]
    if results.gate is not None:
        gate = results.gate
        groups = rule_groups(gate)
        judged = [g for g in groups if g.verdict != "pass"]
        out["gate"] = {"verdict": gate.verdict, "counts": counts_text(gate), "policy": gate.policy,
                       "policy_sha256": gate.policy_sha256, "baseline": gate.baseline, "evaluated": gate.evaluated,
                       "shown": judged[:GATE_ROWS], "more": judged[GATE_ROWS:],
                       "passed": [g for g in groups if g.verdict == "pass"]}
    energy = results.energy.run if results.energy is not None else None
    out["energy"] = fig(energy.total_energy_j, notes) if energy else Fig()
    out["gco2e"] = fig(energy.gco2e, notes) if energy else Fig()
    out["duration"] = fig(energy.duration_s, notes) if energy else Fig()
    return out
