"""What report.html shows, computed from the typed results (harness.results) and the records (pure:
values in, plain data out). The template only loops over this; every number is formatted here
(harness.report.cells), and every "not measured" reason is collected once as a numbered note.
The per-model part is harness.report.details, the machine and meters harness.report.environment."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import harness.report.charts as charts
from harness.report.cells import Cell, Fig, Notes, count, fig, metric_cell, size, stat_cell
from harness.report.details import details, pick_examples, primary
from harness.report.environment import caveats, environment, variant
from harness.report.numbers import sig
from harness.report.timeline import Timeline
from harness.results.comparison import Comparison
from harness.results.reading import as_results
from harness.results.types import ModelResult, Results

__all__ = ["Page", "build", "count", "size", "pick_examples", "Notes", "Fig", "Cell"]

HEADLINE_TASKS = 4
COST_NAMES = {"j_per_example": "energy per example (J)", "latency_s_per_example": "latency per example (s)",
              "model_memory_bytes": "model memory (parameters and buffers)", "peak_memory_bytes": "process peak memory"}


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
    scatters: list
    scatter_missing: str
    energy_bars: list
    timeline: Timeline
    details: list[dict]
    environment: list[tuple[str, str]]
    caveats: list[str]


def _failure_rows(results: Results, model: str | None = None) -> list[dict]:
    return [{"model": f.model, "what": f.what, "error": f.error, "fix": f.fix}
            for f in results.run.failures if model is None or f.model == model]


def _skipped_cell(info: ModelResult, key: str) -> Cell:
    reason = info.skipped.get(key)
    return Cell(value="skipped" if reason else "—", title=reason or "", change="skipped" if reason else "")


def _summary(results: Results, notes: Notes, compared: dict, baseline: str | None) -> list[dict]:
    summary = []
    for name, info in results.models.items():
        e = info.energy
        summary.append({
            "name": name, "kind": info.kind, "spec": info.spec, "variant": variant(info),
            "parameters": count(info.parameters),
            "headline": [(task, metric, metric_cell(result.metrics.get(metric), notes))
                         for task, result in info.tasks.items() for metric in [primary(result)] if metric][:HEADLINE_TASKS],
            "more_tasks": max(len(info.tasks) - HEADLINE_TASKS, 0),
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
            cells, n = [], ""
            for name, info in results.models.items():
                result = info.tasks.get(task)
                if result is None:
                    cells.append(_skipped_cell(info, task))
                    continue
                n = n or (f"{result.n}" + ("" if result.complete else f" of {result.n_expected}"))
                stat = compared[name].tasks.get(task, {}).get(metric) if name in compared else None
                cells.append(stat_cell(metric_cell(result.metrics.get(metric), notes), stat, notes))
            rows.append({"task": task, "metric": metric, "primary": k == 0, "n": n, "cells": cells,
                         "first": k == 0, "span": len(metric_names)})
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
                cells.append(stat_cell(metric_cell(p.metrics.get(metric), notes), stat, notes))
            rows.append({"probe": probe, "metric": metric, "cells": cells, "first": k == 0, "span": len(names)})
    return rows


def build(results: Results | dict, records: Sequence[dict], timeline: Timeline) -> Page:
    results = as_results(results)
    notes = Notes()
    comparison = results.comparison
    compared = comparison.models if comparison else {}
    summary = _summary(results, notes, compared, comparison.baseline if comparison else None)
    quality = _quality(results, notes, compared)
    probe_rows = _probe_rows(results, notes, compared)
    scatters, missing = _scatters(results)
    verdict = _verdict(results, notes)
    shown_comparison = _comparison(comparison, notes)
    return Page(results=results, notes=notes, verdict=verdict, summary=summary, models=list(results.models),
                quality=quality, probe_rows=probe_rows, comparison=shown_comparison,
                scatters=scatters, scatter_missing=missing, energy_bars=_energy_bars(results), timeline=timeline,
                details=[details(name, info, records, notes, variant(info)) for name, info in results.models.items()],
                environment=environment(results), caveats=caveats(results))


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
        gate = results.gate.to_json()
        order = {"fail": 0, "warn": 1, "skip": 2, "pass": 3}
        rules = sorted(gate.get("rules", []), key=lambda r: order.get(r.get("verdict"), 4))
        out["gate"] = {**gate, "rules": [{**r, "value_text": sig(r.get("value"))} for r in rules]}
    energy = results.energy.run if results.energy is not None else None
    out["energy"] = fig(energy.total_energy_j, notes) if energy else Fig()
    out["gco2e"] = fig(energy.gco2e, notes) if energy else Fig()
    out["duration"] = fig(energy.duration_s, notes) if energy else Fig()
    return out


def _comparison(comparison: Comparison | None, notes: Notes) -> dict | None:
    if comparison is None:
        return None
    rows = []
    for name, other in comparison.models.items():
        flipped = other.flipped
        items = sorted((i.to_json() for i in flipped.items), key=lambda i: (i.get("direction") != "broken", i.get("task", "")))
        cost = []
        for key, c in other.cost.entries():
            show = size if key.endswith("_bytes") else sig
            cost.append({"name": COST_NAMES.get(key, key.replace("_", " ")), "baseline": show(c.baseline), "other": show(c.other),
                         "ratio": f"×{sig(c.ratio)}" if c.ratio is not None else "—",
                         "note": notes(c.reason) if c.reason and c.ratio is None else 0, "source": c.source})
        deltas = [{"label": f"{'probe ' if section == 'probes' else ''}{item} · {metric}", "value": stat.delta,
                   "ci": list(stat.ci95), "significant": stat.significant}
                  for section, item, metric, stat in other.stats() if stat.delta is not None]
        rows.append({"name": name, "fixed": flipped.fixed, "broken": flipped.broken, "items": items,
                     "cost": cost, "forest": charts.forest(f"{name} − {comparison.baseline}", deltas, "delta (other − baseline)")})
    pairing = comparison.pairing.to_json()
    return {"baseline": comparison.baseline, "source": comparison.source,
            "runs": {k: r.to_json() for k, r in comparison.runs.items()},
            "pairing": pairing, "dropped": sum(comparison.pairing.dropped.values()), "models": rows}


def _scatters(results: Results) -> tuple[list, str]:
    by_task: dict[str, list[dict]] = {}
    missing: dict[str, str] = {}
    colors = {name: charts.color(i) for i, name in enumerate(results.models)}
    hib: dict[str, bool] = {}
    metric_of: dict[str, str] = {}
    for name, info in results.models.items():
        for task, result in info.tasks.items():
            metric = metric_of.setdefault(task, primary(result) or "")
            m = result.metrics.get(metric)
            jpe = result.energy.j_per_example if result.energy is not None else None
            if m is None or m.value is None:
                continue
            if jpe is None or jpe.value is None:
                missing[f"{name} · {task}"] = (jpe.reason if jpe is not None else None) or "no energy meter"
                continue
            hib[task] = m.higher_is_better if m.higher_is_better is not None else True
            by_task.setdefault(task, []).append({"label": name, "x": jpe.value, "y": m.value, "ci": list(m.ci95),
                                                 "color": colors[name]})
    out = [charts.scatter(f"{task}", rows, "J per example", metric_of[task], hib.get(task, True))
           for task, rows in by_task.items()]
    text = ""
    if missing:
        reasons = sorted(set(missing.values()))
        text = (f"Energy per example was not measured for {', '.join(sorted(missing))}, so quality is not plotted against "
                f"energy there: " + "; ".join(f"not measured: {r}" for r in reasons))
    return out, text


def _energy_bars(results: Results) -> list:
    out = []
    for name, info in results.models.items():
        rows = [(label, result.energy.total_energy_j.value, kind)
                for label, result, kind in [*((t, r, "task") for t, r in info.tasks.items()),
                                            *((f"probe {p}", r, "probe") for p, r in info.probes.items())]
                if result.energy is not None and result.energy.total_energy_j is not None
                and result.energy.total_energy_j.value is not None]
        if rows:
            out.append(charts.bars(name, rows, "J"))
    return out
