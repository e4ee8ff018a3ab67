"""The report's per-model part: energy per task and probe, the examples shown (harness.report.examples),
each probe's metrics, subgroup table and forest plot, the largest drops under perturbation, and
the calibration charts. Pure: a typed ``ModelResult`` and its records in, plain data out."""
from __future__ import annotations

from typing import Sequence

import harness.report.charts as charts
from harness.report.cells import Cell, Fig, Notes, detail_cell, fig, metric_cell
from harness.report.examples import example_view, pick_examples  # noqa: F401  (pick_examples: the tests' import)
from harness.report.numbers import pvalue, sig
from harness.report.reliability import reliability_chart
from harness.results.types import ModelResult, TaskResult

DROPS = 6
# a subgroup table with more columns than this is split by group prefix, and wraps its cells if still wider
WIDE_COLUMNS = 7
# the subgroup figure a probe's forest plot shows, when present (else its first one with a CI)
EFFECTS = ("mean_score_shift", "effect_size", "stereotype_preference_pct", "bias_score_ambiguous", "fail_rate")


def primary(result: TaskResult) -> str | None:
    """A task's headline metric: its first."""
    return next(iter(result.metrics), None)


def perturbation_drops(records: Sequence[dict], n: int = DROPS) -> list[dict]:
    """Robustness-probe items whose per-example score fell most under a perturbation."""
    rows = []
    for r in records:
        d, s = r.get("details") or {}, r.get("scores") or {}
        metric = d.get("metric")
        if not metric or not isinstance(s.get(metric), (int, float)) or not isinstance(s.get(f"clean_{metric}"), (int, float)):
            continue
        drop = s[f"clean_{metric}"] - s[metric]
        if drop > 0:
            rows.append({"task": d.get("task"), "perturbation": d.get("perturbation"), "metric": metric, "drop": sig(drop),
                         "original": d.get("original"), "perturbed": r.get("input"),
                         "clean_prediction": d.get("clean_prediction"), "prediction": r.get("prediction"),
                         "reference": r.get("reference"), "_drop": drop})
    rows.sort(key=lambda row: -row["_drop"])
    return rows[:n]


def _columns(subgroups: dict) -> list[str]:
    columns: list[str] = []
    for figures in subgroups.values():
        if isinstance(figures, dict):
            columns += [k for k in figures if k not in columns]
    return columns


def subgroup_tables(subgroups: dict, notes: Notes) -> dict:
    """A probe's subgroups as tables that fit the page: one table when its columns are few; else one
    per group prefix ("facts_mc/typo" and "facts_mc/worst_case" share "facts_mc"), each with only its
    own columns, so no row carries another task's empty metrics. A table still wider than
    WIDE_COLUMNS is marked ``wide`` (its cells wrap)."""
    blocks: dict[str, dict] = {"": subgroups}
    if len(_columns(subgroups)) > WIDE_COLUMNS:
        blocks = {}
        for group, figures in subgroups.items():
            blocks.setdefault(group.split("/", 1)[0] if "/" in group else "", {})[group] = figures
    tables = [subgroup_table(block, notes) | {"title": prefix} for prefix, block in blocks.items()]
    return {"tables": tables, "n": len(subgroups)}


def subgroup_table(subgroups: dict, notes: Notes) -> dict:
    columns = _columns(subgroups) or [""]
    rows = []
    for group, figures in subgroups.items():
        if not isinstance(figures, dict):
            rows.append({"group": group, "cells": [Cell(value=str(figures))] + [Cell()] * (len(columns) - 1)})
            continue
        cells = []
        for key in columns:
            v = figures.get(key)
            if key.startswith("p_value") or key.endswith("p_value"):
                holm = key.endswith("_holm")
                mark = "better" if holm and isinstance(v, (int, float)) and v < 0.05 else ""
                cells.append(Cell(value=pvalue(v), change=mark, title="Holm-corrected across subgroups" if holm else "uncorrected"))
            else:
                cells.append(detail_cell(v, notes))
        rows.append({"group": group, "cells": cells})
    return {"columns": columns, "rows": rows, "wide": len(columns) > WIDE_COLUMNS}


def subgroup_forest(probe: str, subgroups: dict) -> charts.Forest | None:
    candidates: list[str] = []
    for figures in subgroups.values():
        if isinstance(figures, dict):
            candidates += [k for k, v in figures.items() if isinstance(v, dict) and "ci95" in v
                           and not k.startswith("clean") and k not in candidates]
    key = next((k for k in EFFECTS if k in candidates), candidates[0] if candidates else None)
    if key is None:
        return None
    holm_key = next((k for f in subgroups.values() if isinstance(f, dict) for k in f if k.endswith("_holm")), None)
    rows = []
    for group, figures in subgroups.items():
        if not isinstance(figures, dict) or not isinstance(figures.get(key), dict):
            continue
        m = figures[key]
        holm = figures.get(holm_key) if holm_key else None
        rows.append({"label": group, "value": m.get("value"), "ci": m.get("ci95"),
                     "significant": isinstance(holm, (int, float)) and holm < 0.05})
    reference = 50.0 if key.endswith("_pct") else 0.0
    return charts.forest(f"{probe}: {key} by subgroup", rows, key, reference)


def _example_value(v):
    if isinstance(v, float):
        return sig(v)
    return "" if v is None else v


def details(name: str, info: ModelResult, records: Sequence[dict], notes: Notes, variant: str) -> dict:
    mine = [r for r in records if r.get("model") == name]
    pieces = [*info.tasks.items(), *((f"probe {p}", r) for p, r in info.probes.items())]
    gpu_on = any(r.energy is not None and r.energy.gpu_energy_j is not None and r.energy.gpu_energy_j.value is not None
                 for _, r in pieces)
    energy_rows = []
    for label, result in pieces:
        e = result.energy
        if e is None:
            continue
        throttle = ", ".join(f"{reason} {sig(f.value)} s" for reason, f in (e.throttle_s or {}).items())
        energy_rows.append({"label": label, "time": fig(e.duration_s, notes), "total": fig(e.total_energy_j, notes),
                            "gpu": fig(e.gpu_energy_j, notes), "cpu": fig(e.cpu_energy_j, notes),
                            "ram": fig(e.ram_energy_j, notes), "jpe": fig(e.j_per_example, notes),
                            "jpt": fig(e.j_per_generated_token, notes),
                            "co2": fig(e.gco2e_per_1000_examples, notes),
                            "gpu_power": fig(e.gpu_power_mean_w, notes) if gpu_on else Fig(),
                            "throttle": throttle + (" (short window: below 5 counter updates)" if e.short_window else ""),
                            "probe": label.startswith("probe ")})
    e = info.energy
    total = None
    if e is not None:
        total = {"time": fig(e.duration_s, notes), "total": fig(e.total_energy_j, notes),
                 "gpu": fig(e.gpu_energy_j, notes), "cpu": fig(e.cpu_energy_j, notes), "ram": fig(e.ram_energy_j, notes)}
    probes = []
    for probe, p in info.probes.items():
        examples = p.examples
        columns: list[str] = []
        for ex in examples:
            columns += [k for k in ex if k not in columns]
        probe_records = [r for r in mine if r.get("task") == f"probe:{probe}"]
        probes.append({"name": probe, "probe": p.probe or "", "n": p.n, "variant": p.variant,
                       "skipped_too_long": p.skipped_too_long,
                       "metrics": [(metric, metric_cell(m, notes)) for metric, m in p.metrics.items()],
                       "energy": fig(p.energy.total_energy_j if p.energy else None, notes),
                       "subgroups": subgroup_tables(p.subgroups, notes), "forest": subgroup_forest(probe, p.subgroups),
                       "examples": {"columns": columns, "rows": [[_example_value(ex.get(c)) for c in columns] for ex in examples]},
                       "drops": perturbation_drops(probe_records) if p.probe == "robustness" else [],
                       "notes": p.notes})
    examples = [example_view(task, result, [r for r in mine if r.get("task") == task]) for task, result in info.tasks.items()]
    examples = [ex for ex in examples if ex["rows"]]
    invalid = []
    for label, result in [*info.tasks.items(), *((f"probe:{p}", r) for p, r in info.probes.items())]:
        inv = result.invalid
        if inv is not None and inv.n:
            invalid.append(f"{label}: {inv.n} not scored (" + ", ".join(f"{k}: {v}" for k, v in inv.reasons.items()) + ")")
    calibration = [reliability_chart(task, result.calibration) for task, result in info.tasks.items()
                   if result.calibration is not None]
    return {"name": name, "info": info, "variant": variant, "energy_rows": energy_rows, "energy_total": total,
            "gpu_on": gpu_on, "probes": probes, "examples": examples, "invalid": invalid, "calibration": calibration}
