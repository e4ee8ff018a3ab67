"""What report.html shows, computed from results.json and the records (pure: dicts in, plain data
out). The template only loops over this; every number is formatted here (3 significant digits,
p-values as 0.43 / <0.001), and every "not measured" reason is collected once as a numbered note."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import harness.report.charts as charts
from harness.failures import what
from harness.report.numbers import pvalue, sig
from harness.report.reliability import reliability_chart
from harness.report.timeline import Timeline

EXAMPLES_FAILED, EXAMPLES_SAMPLE, DROPS, HEADLINE_TASKS = 5, 3, 6, 4
SOURCE_MARK = {"estimated": "≈"}
COST_NAMES = {"j_per_example": "energy per example (J)", "latency_s_per_example": "latency per example (s)",
              "peak_memory_bytes": "peak memory"}
# the subgroup figure a probe's forest plot shows, when present (else its first one with a CI)
EFFECTS = ("mean_score_shift", "effect_size", "stereotype_preference_pct", "bias_score_ambiguous", "fail_rate")


class Notes:
    """Footnotes: each distinct reason gets one number, shown once under the section it belongs to."""

    def __init__(self):
        self.reasons: dict[str, int] = {}

    def __call__(self, reason: str) -> int:
        return self.reasons.setdefault(reason or "no reason recorded", len(self.reasons) + 1)

    def items(self) -> list[tuple[int, str]]:
        return [(n, r) for r, n in self.reasons.items()]


@dataclass(frozen=True)
class Fig:
    """A measured figure (value, unit, source) or a not-measured one (note number)."""
    text: str = "—"
    unit: str = ""
    source: str = ""
    mark: str = ""
    note: int = 0

    @property
    def measured(self) -> bool:
        return not self.note and self.text != "—"


@dataclass(frozen=True)
class Cell:
    value: str = "—"
    ci: str = ""
    note: int = 0
    title: str = ""
    delta: str = ""             # comparison against the baseline
    delta_ci: str = ""
    p: str = ""
    change: str = ""            # "better" | "worse" | "" (significant after Holm) | "few" (too few items)


@dataclass
class Page:
    results: dict
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


def fig(f, notes: Notes) -> Fig:
    if not isinstance(f, dict):
        return Fig()
    if f.get("value") is None:
        return Fig(note=notes(f.get("reason") or f.get("not_measured") or "no meter"))
    unit = (f.get("unit") or "").replace("gCO2e", "g CO₂e")
    return Fig(sig(f["value"]), unit, f.get("source", ""), SOURCE_MARK.get(f.get("source", ""), ""))


def _ci(m: dict) -> str:
    lo, hi = (m.get("ci95") or [None, None])[:2]
    return f"[{sig(lo)}, {sig(hi)}]" if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) else ""


def count(n) -> str:
    """2.64M parameters, 22.7M, 1.3B."""
    if not isinstance(n, (int, float)) or isinstance(n, bool) or n <= 0:
        return "—"
    for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= size:
            return sig(n / size) + suffix
    return sig(n)


def size(n) -> str:
    """Bytes as 606 MiB, 1.5 GiB."""
    if not isinstance(n, (int, float)) or isinstance(n, bool):
        return "—"
    for power, unit in ((4, "TiB"), (3, "GiB"), (2, "MiB"), (1, "KiB")):
        if abs(n) >= 1024 ** power:
            return f"{sig(n / 1024 ** power)} {unit}"
    return f"{sig(n)} B"


def metric_cell(m, notes: Notes) -> Cell:
    if not isinstance(m, dict):
        return Cell(value=sig(m) if isinstance(m, (int, float)) else str(m))
    if m.get("value") is None:
        return Cell(note=notes(m.get("not_measured") or m.get("reason") or "not computed"))
    n = m.get("n")
    return Cell(sig(m["value"]), _ci(m), title=f"n = {n}" if n is not None else "")


def stat_cell(base: Cell, stat: dict | None, notes: Notes) -> Cell:
    """A model's cell with its comparison STAT against the baseline."""
    if not isinstance(stat, dict):
        return base
    if stat.get("not_measured"):
        return Cell(base.value, base.ci, base.note, base.title, delta=f"Δ n/m{_sup(notes(stat['not_measured']))}")
    delta = stat.get("delta")
    if delta is None:
        return base
    change = ""
    if stat.get("too_few_items"):
        change = "few"
    elif stat.get("significant"):
        better = (delta > 0) == bool(stat.get("higher_is_better", True))
        change = "better" if better else "worse"
    lo, hi = (stat.get("ci95") or [None, None])[:2]
    ci = f"[{_signed(lo)}, {_signed(hi)}]" if lo is not None and hi is not None else ""
    p = stat.get("p_holm")          # shown only when Holm-corrected; the raw p is in the tooltip
    test = stat.get("test", "")
    title = f"{test}; n = {stat.get('n')}; p = {pvalue(stat.get('p_value'))}, Holm p = {pvalue(stat.get('p_holm'))}"
    disc = stat.get("discordant")
    if isinstance(disc, dict):
        title += f"; discordant: baseline only {disc.get('baseline_only')}, other only {disc.get('other_only')}"
    return Cell(base.value, base.ci, base.note, title, _signed(delta), ci, pvalue(p) if p is not None else "", change)


def _signed(v) -> str:
    text = sig(v)
    return text if text.startswith(("-", "—")) or text == "0" else "+" + text


def _sup(n: int) -> str:
    return f" [{n}]"


# selection -------------------------------------------------------------------------------------

def _primary(result: dict) -> str | None:
    return next(iter(result.get("metrics") or {}), None)


def pick_examples(records: Sequence[dict], metric: str | None, higher_is_better: bool = True,
                  failed: int = EXAMPLES_FAILED, sample: int = EXAMPLES_SAMPLE) -> list[dict]:
    """The failures first (invalid outputs, then the lowest per-example scores), then a sample of
    the rest in dataset order. Each row gets ``status``: invalid | wrong | ok | unscored."""
    records = sorted(records, key=lambda r: r.get("index", 0))
    invalid = [dict(r, status="invalid") for r in records if "invalid" in r]
    scored = [r for r in records if "invalid" not in r and isinstance((r.get("scores") or {}).get(metric), (int, float))]
    if not scored:
        rest = [dict(r, status="unscored") for r in records if "invalid" not in r]
        return (invalid + rest)[:failed + sample]
    sign = 1 if higher_is_better else -1
    best = max(sign * r["scores"][metric] for r in scored)
    wrong = sorted((r for r in scored if sign * r["scores"][metric] < best), key=lambda r: sign * r["scores"][metric])
    ok = [r for r in scored if sign * r["scores"][metric] >= best]
    chosen = invalid[:failed] + [dict(r, status="wrong") for r in wrong[:max(failed - len(invalid), 0)]]
    return chosen + [dict(r, status="ok") for r in ok[:sample]]


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


# the page ---------------------------------------------------------------------------------------

def _variant(info: dict) -> str:
    recipe = dict(info.get("variant") or info.get("recipe") or {})
    for key in ("quantize", "prune"):
        if info.get(key) is not None:
            recipe[key] = info[key]
    parts = [f"{k}={v}" for k, v in recipe.items() if v is not None and k != "dtype"]
    dtype = recipe.get("dtype") or info.get("dtype")
    memory = ((info.get("size") or {}).get("memory") or {}).get("value")
    if isinstance(memory, (int, float)):
        parts.append(f"{memory / 2**20:.1f} MiB in memory")
    achieved = (info.get("sparsity") or {}).get("achieved")
    if (info.get("sparsity") or {}).get("asked") is not None and isinstance(achieved, (int, float)):
        parts.append(f"sparsity {achieved:.3g} achieved")
    return ", ".join(([str(dtype)] if dtype else []) + parts)


def _energy(info: dict) -> dict:
    return info.get("energy") or {}


def build(results: dict, records: Sequence[dict], timeline: Timeline) -> Page:
    notes = Notes()
    models = list(results.get("models", {}))
    comparison = results.get("comparison") if isinstance(results.get("comparison"), dict) else None
    compared = (comparison or {}).get("models") or {}
    baseline = (comparison or {}).get("baseline")

    summary = []
    for name, info in results.get("models", {}).items():
        e = _energy(info)
        failures = [{**f, "what": what(f)} for f in results.get("run", {}).get("failures", []) if f.get("model") == name]
        summary.append({
            "name": name, "kind": info.get("kind", ""), "spec": info.get("spec", ""), "variant": _variant(info),
            "parameters": count(info.get("parameters")),
            "headline": [(task, metric, metric_cell((result.get("metrics") or {}).get(metric), notes))
                         for task, result in info.get("tasks", {}).items() for metric in [_primary(result)] if metric][:HEADLINE_TASKS],
            "more_tasks": max(len(info.get("tasks", {})) - HEADLINE_TASKS, 0),
            "device": info.get("device", ""), "tasks": len(info.get("tasks", {})), "probes": len(info.get("probes", {})),
            "skipped": dict(info.get("skipped") or {}), "failures": failures,
            "duration": fig(e.get("duration_s"), notes) if e else Fig(),
            "energy": fig(e.get("total_energy_j"), notes) if e else Fig(),
            "j_per_example": fig(e.get("j_per_example"), notes) if e else Fig(),
            "gco2e": fig(e.get("gco2e"), notes) if e else Fig(),
            "baseline": name == baseline,
            "flipped": (compared.get(name) or {}).get("flipped"),
        })

    quality = []
    tasks: list[str] = []
    for info in results.get("models", {}).values():
        tasks += [t for t in info.get("tasks", {}) if t not in tasks]
    for task in tasks:
        metric_names: list[str] = []
        for info in results["models"].values():
            result = info.get("tasks", {}).get(task)
            if result:
                metric_names += [m for m in result.get("metrics", {}) if m not in metric_names]
        for k, metric in enumerate(metric_names):
            cells, n = [], ""
            for name in models:
                info = results["models"][name]
                result = info.get("tasks", {}).get(task)
                if not result:
                    reason = (info.get("skipped") or {}).get(task)
                    cells.append(Cell(value="skipped" if reason else "—", title=reason or "", change="skipped" if reason else ""))
                    continue
                n = n or (f"{result.get('n')}" + ("" if result.get("complete", True) else f" of {result.get('n_expected')}"))
                cell = metric_cell(result.get("metrics", {}).get(metric), notes)
                stat = ((compared.get(name) or {}).get("tasks") or {}).get(task, {}).get(metric)
                cells.append(stat_cell(cell, stat, notes))
            quality.append({"task": task, "metric": metric, "primary": k == 0, "n": n, "cells": cells,
                            "first": k == 0, "span": len(metric_names)})

    probe_rows = []
    probes: list[str] = []
    for info in results.get("models", {}).values():
        probes += [p for p in info.get("probes", {}) if p not in probes]
    for probe in probes:
        names: list[str] = []
        for info in results["models"].values():
            names += [m for m in (info.get("probes", {}).get(probe) or {}).get("metrics", {}) if m not in names]
        for k, metric in enumerate(names):
            cells = []
            for name in models:
                p = results["models"][name].get("probes", {}).get(probe)
                if not p:
                    reason = (results["models"][name].get("skipped") or {}).get(f"probe:{probe}")
                    cells.append(Cell(value="skipped" if reason else "—", title=reason or "", change="skipped" if reason else ""))
                    continue
                stat = ((compared.get(name) or {}).get("probes") or {}).get(probe, {}).get(metric)
                cells.append(stat_cell(metric_cell(p.get("metrics", {}).get(metric), notes), stat, notes))
            probe_rows.append({"probe": probe, "metric": metric, "cells": cells, "first": k == 0, "span": len(names)})

    scatters, missing = _scatters(results, notes)
    return Page(results=results, notes=notes, verdict=_verdict(results, notes), summary=summary, models=models,
                quality=quality, probe_rows=probe_rows, comparison=_comparison(comparison, notes),
                scatters=scatters, scatter_missing=missing, energy_bars=_energy_bars(results), timeline=timeline,
                details=[_details(name, info, records, results, notes) for name, info in results.get("models", {}).items()],
                environment=_environment(results), caveats=_caveats(results))


def _verdict(results: dict, notes: Notes) -> dict:
    run = results.get("run", {})
    gate = results.get("gate") if isinstance(results.get("gate"), dict) else None
    out = {"status": run.get("status", ""), "complete": run.get("status") == "complete", "gate": None,
           "failures": [{**f, "what": what(f)} for f in run.get("failures", [])], "skipped": []}
    grouped: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for name, info in results.get("models", {}).items():
        by_reason: dict[str, list[str]] = {}
        for item, reason in (info.get("skipped") or {}).items():
            by_reason.setdefault(reason, []).append(item)
        for reason, items in by_reason.items():
            grouped.setdefault((reason, tuple(items)), []).append(name)
    out["skipped"] = [{"model": ", ".join(names), "items": list(items), "reason": reason}
                      for (reason, items), names in grouped.items()]
    if gate:
        order = {"fail": 0, "warn": 1, "skip": 2, "pass": 3}
        rules = sorted(gate.get("rules", []), key=lambda r: order.get(r.get("verdict"), 4))
        out["gate"] = {**gate, "rules": [{**r, "value_text": sig(r.get("value"))} for r in rules]}
    energy = (results.get("energy") or {}).get("run") or {}
    out["energy"] = fig(energy.get("total_energy_j"), notes) if energy else Fig()
    out["gco2e"] = fig(energy.get("gco2e"), notes) if energy else Fig()
    out["duration"] = fig(energy.get("duration_s"), notes) if energy else Fig()
    return out


def _comparison(comparison: dict | None, notes: Notes) -> dict | None:
    if not comparison:
        return None
    rows = []
    for name, other in (comparison.get("models") or {}).items():
        flipped = other.get("flipped") or {}
        items = sorted(flipped.get("items") or [], key=lambda i: (i.get("direction") != "broken", i.get("task", "")))
        cost = []
        for key, c in (other.get("cost") or {}).items():
            if not isinstance(c, dict):
                continue
            ratio = c.get("ratio")
            show = size if key.endswith("_bytes") else sig
            cost.append({"name": COST_NAMES.get(key, key.replace("_", " ")), "baseline": show(c.get("baseline")), "other": show(c.get("other")),
                         "ratio": f"×{sig(ratio)}" if isinstance(ratio, (int, float)) else "—",
                         "note": notes(c["reason"]) if c.get("reason") and ratio is None else 0, "source": c.get("source", "")})
        deltas = []
        for kind in ("tasks", "probes"):
            for item, metrics in (other.get(kind) or {}).items():
                for metric, stat in metrics.items():
                    if isinstance(stat, dict) and isinstance(stat.get("delta"), (int, float)):
                        deltas.append({"label": f"{'probe ' if kind == 'probes' else ''}{item} · {metric}", "value": stat["delta"],
                                       "ci": stat.get("ci95"), "significant": bool(stat.get("significant"))})
        rows.append({"name": name, "fixed": flipped.get("fixed"), "broken": flipped.get("broken"), "items": items,
                     "cost": cost, "forest": charts.forest(f"{name} − {comparison.get('baseline')}", deltas, "delta (other − baseline)")})
    pairing = comparison.get("pairing") or {}
    return {"baseline": comparison.get("baseline"), "source": comparison.get("source"), "runs": comparison.get("runs") or {},
            "pairing": pairing, "dropped": sum((pairing.get("dropped") or {}).values()), "models": rows}


def _scatters(results: dict, notes: Notes) -> tuple[list, str]:
    by_task: dict[str, list[dict]] = {}
    missing: dict[str, str] = {}
    colors = {name: charts.color(i) for i, name in enumerate(results.get("models", {}))}
    hib: dict[str, bool] = {}
    metric_of: dict[str, str] = {}
    for name, info in results.get("models", {}).items():
        for task, result in info.get("tasks", {}).items():
            metric = metric_of.setdefault(task, _primary(result) or "")
            m = (result.get("metrics") or {}).get(metric) or {}
            jpe = (result.get("energy") or {}).get("j_per_example") or {}
            if m.get("value") is None:
                continue
            if jpe.get("value") is None:
                missing[f"{name} · {task}"] = jpe.get("reason") or "no energy meter"
                continue
            hib[task] = m.get("higher_is_better", True)
            by_task.setdefault(task, []).append({"label": name, "x": jpe["value"], "y": m["value"], "ci": m.get("ci95"),
                                                 "color": colors[name]})
    out = [charts.scatter(f"{task}", rows, "J per example", metric_of[task], hib.get(task, True))
           for task, rows in by_task.items()]
    text = ""
    if missing:
        reasons = sorted(set(missing.values()))
        text = (f"Energy per example was not measured for {', '.join(sorted(missing))}, so quality is not plotted against "
                f"energy there: " + "; ".join(f"not measured: {r}" for r in reasons))
    return out, text


def _energy_bars(results: dict) -> list:
    out = []
    for name, info in results.get("models", {}).items():
        rows = []
        for task, result in info.get("tasks", {}).items():
            v = ((result.get("energy") or {}).get("total_energy_j") or {}).get("value")
            if isinstance(v, (int, float)):
                rows.append((task, v, "task"))
        for probe, p in info.get("probes", {}).items():
            v = ((p.get("energy") or {}).get("total_energy_j") or {}).get("value")
            if isinstance(v, (int, float)):
                rows.append((f"probe {probe}", v, "probe"))
        if rows:
            out.append(charts.bars(name, rows, "J"))
    return out


def _subgroup_table(subgroups: dict, notes: Notes) -> dict:
    columns: list[str] = []
    for figures in subgroups.values():
        if isinstance(figures, dict):
            columns += [k for k in figures if k not in columns]
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
            elif isinstance(v, dict):
                cells.append(metric_cell(v, notes))
            elif isinstance(v, float):
                cells.append(Cell(value=sig(v)))
            elif isinstance(v, (list, tuple)):
                cells.append(Cell(value=", ".join(map(str, v))))
            else:
                cells.append(Cell(value="—" if v is None else str(v)))
        rows.append({"group": group, "cells": cells})
    return {"columns": columns, "rows": rows}


def _subgroup_forest(probe: str, subgroups: dict) -> charts.Forest | None:
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


def _details(name: str, info: dict, records: Sequence[dict], results: dict, notes: Notes) -> dict:
    mine = [r for r in records if r.get("model") == name]
    energy_rows = []
    gpu_on = any(((r.get("energy") or {}).get("gpu_energy_j") or {}).get("value") is not None
                 for r in [*info.get("tasks", {}).values(), *info.get("probes", {}).values()])
    for label, result in [*info.get("tasks", {}).items(), *((f"probe {p}", r) for p, r in info.get("probes", {}).items())]:
        e = result.get("energy") or {}
        if not e:
            continue
        throttle = ", ".join(f"{reason} {sig(f.get('value'))} s" for reason, f in (e.get("throttle_s") or {}).items())
        energy_rows.append({"label": label, "time": fig(e.get("duration_s"), notes), "total": fig(e.get("total_energy_j"), notes),
                            "gpu": fig(e.get("gpu_energy_j"), notes), "cpu": fig(e.get("cpu_energy_j"), notes),
                            "ram": fig(e.get("ram_energy_j"), notes), "jpe": fig(e.get("j_per_example"), notes),
                            "jpt": fig(e.get("j_per_generated_token"), notes) if e.get("j_per_generated_token") else Fig(),
                            "co2": fig(e.get("gco2e_per_1000_examples"), notes),
                            "gpu_power": fig(e.get("gpu_power_mean_w"), notes) if gpu_on else Fig(),
                            "throttle": throttle + (" (short window: below 5 counter updates)" if e.get("short_window") else ""),
                            "probe": label.startswith("probe ")})
    e = _energy(info)
    total = None
    if e:
        total = {"time": fig(e.get("duration_s"), notes), "total": fig(e.get("total_energy_j"), notes),
                 "gpu": fig(e.get("gpu_energy_j"), notes), "cpu": fig(e.get("cpu_energy_j"), notes),
                 "ram": fig(e.get("ram_energy_j"), notes)}
    probes = []
    for probe, p in info.get("probes", {}).items():
        subgroups = p.get("subgroups") or {}
        examples = p.get("examples") or []
        columns: list[str] = []
        for ex in examples:
            columns += [k for k in ex if k not in columns]
        probe_records = [r for r in mine if r.get("task") == f"probe:{probe}"]
        probes.append({"name": probe, "probe": p.get("probe", ""), "n": p.get("n"), "variant": p.get("variant"),
                       "skipped_too_long": p.get("skipped_too_long"),
                       "metrics": [(metric, metric_cell(m, notes)) for metric, m in (p.get("metrics") or {}).items()],
                       "energy": fig((p.get("energy") or {}).get("total_energy_j"), notes),
                       "subgroups": _subgroup_table(subgroups, notes), "forest": _subgroup_forest(probe, subgroups),
                       "examples": {"columns": columns, "rows": [[_example_value(ex.get(c)) for c in columns] for ex in examples]},
                       "drops": perturbation_drops(probe_records) if p.get("probe") == "robustness" else [],
                       "notes": p.get("notes") or []})
    examples = []
    for task, result in info.get("tasks", {}).items():
        metric = _primary(result)
        hib = ((result.get("metrics") or {}).get(metric) or {}).get("higher_is_better", True)
        rows = pick_examples([r for r in mine if r.get("task") == task], metric, hib)
        for row in rows:
            row["score"] = sig((row.get("scores") or {}).get(metric)) if metric else "—"
        examples.append({"task": task, "metric": metric, "rows": rows,
                         "shown_failed": sum(1 for r in rows if r["status"] in ("wrong", "invalid"))})
    invalid = []
    for label, result in [*info.get("tasks", {}).items(), *((f"probe:{p}", r) for p, r in info.get("probes", {}).items())]:
        inv = result.get("invalid") or {}
        if inv.get("n"):
            invalid.append(f"{label}: {inv['n']} not scored (" + ", ".join(f"{k}: {v}" for k, v in inv.get("reasons", {}).items()) + ")")
    calibration = [reliability_chart(task, result["calibration"]) for task, result in info.get("tasks", {}).items()
                   if isinstance(result.get("calibration"), dict)]
    return {"name": name, "info": info, "variant": _variant(info), "energy_rows": energy_rows, "energy_total": total,
            "gpu_on": gpu_on, "probes": probes, "examples": examples, "invalid": invalid, "calibration": calibration}


def _example_value(v):
    if isinstance(v, float):
        return sig(v)
    return "" if v is None else v


def _environment(results: dict) -> list[tuple[str, str]]:
    env = results.get("environment") or {}
    energy = results.get("energy") or {}
    meters = energy.get("meters") or {}
    rows = []
    gpu = meters.get("gpu") if isinstance(meters.get("gpu"), dict) else {}
    if gpu.get("gpus"):
        for g in gpu["gpus"]:
            rows.append((f"GPU {g.get('index', '')}", f"{g.get('name', '?')}; power limit {sig(g.get('enforced_power_limit_w'))} W; "
                                                     f"persistence mode {g.get('persistence_mode', '?')}"))
        rows.append(("GPU driver", str(gpu.get("driver_version", "—"))))
    elif env.get("gpus"):
        rows.append(("GPUs", ", ".join(map(str, env["gpus"]))))
    else:
        rows.append(("GPU", "none" + (f" (GPU meter: {gpu['not_measured']})" if gpu.get("not_measured") else "")))
    rows.append(("CPU", f"{env.get('cpu', '?')}" + (f", {env['cpu_count']} cores" if env.get("cpu_count") else "")))
    if env.get("platform"):
        rows.append(("platform", env["platform"]))
    rows.append(("versions", ", ".join(f"{k} {env[k]}" for k in ("python", "torch", "transformers") if env.get(k))
                 + f"; harness {results.get('run', {}).get('harness_version', '?')} ({results.get('run', {}).get('git_sha') or 'no git commit'})"))
    ci = energy.get("carbon_intensity") or {}
    if ci:
        value = (f"{sig(ci['g_per_kwh'])} g CO₂e/kWh from {ci.get('source')}" if ci.get("g_per_kwh") is not None
                 else "not given, so no carbon figure (see Not measured at the top)")
        rows.append(("carbon intensity", f"{value}; PUE {ci.get('pue')}"))
    host = meters.get("host") if isinstance(meters.get("host"), dict) else {}
    if host:
        rows.append(("CPU/RAM meter", f"{host.get('source', '')}: {host.get('description') or host.get('not_measured') or ''}"))
    if isinstance(meters.get("startup_s"), (int, float)):
        rows.append(("meter start-up", f"{sig(meters['startup_s'])} s (incl. idle baseline)"))
    run = results.get("run", {})
    rows.append(("run", f"{run.get('id', '')}: started {run.get('started', '')}, finished {run.get('finished') or '—'}; "
                        f"seed {run.get('seed', '')}" + (f"; limit {run['limit']}" if run.get("limit") else "")))
    if run.get("argv"):
        rows.append(("command", "harness " + " ".join(map(str, run["argv"]))))
    return rows


def _caveats(results: dict) -> list[str]:
    meters = (results.get("energy") or {}).get("meters") or {}
    host = meters.get("host") if isinstance(meters.get("host"), dict) else {}
    if not results.get("energy"):
        return []
    out = ["CPU and RAM energy are machine-wide: they include every other process running on this machine during the run, "
           "not only the model."]
    if host.get("source") == "estimated":
        out.append("CPU energy is estimated from CPU load and the CPU's TDP (CodeCarbon), not read from a counter; "
                   "RAM power is modelled from the installed memory size (CodeCarbon), not measured.")
    else:
        out.append("RAM energy comes from RAPL's DRAM domain where the machine has one; otherwise it is modelled or missing.")
    out.append("Figures marked ≈ are estimates; unmarked ones come from a hardware counter or the clock.")
    return out
