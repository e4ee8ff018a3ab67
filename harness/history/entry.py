"""One finished run as the history index holds it: pure functions from results.json and run.json.

A figure belongs to a *series*: the same figure, of the same model recipe, on the same inputs.
The series key holds the hashes, so runs whose task data, prompts, task configuration or model
recipe differ are never joined into one line (the label shows their first 8 hex digits):

* recipe hash: sha256 of the model spec without its name (adapter, location, options), the dtype
  it ran in, and the weights fingerprint when results.json or run.json records one
  (``weights_sha256`` / ``weights_fingerprint`` under the model);
* task hash: sha256 of run.json's fingerprint of the task (data after --limit, prompt, config);
* probe hash: sha256 of the probe's fingerprint together with the fingerprints of the tasks the
  model ran (some probes perturb the tasks' own items, so a changed task changes them too) and the
  run's seed (robustness and word_substitution_attack draw their perturbations from it);
* energy of a model or of the run: sha256 of everything inside it (recipes, task and probe hashes).
A run folder without fingerprints (written before they were recorded) gets the hash ``unknown``,
shown as such in the label.

A figure's direction (``higher_is_better``) is what results.json records beside the metric (task
metrics carry it; probe metrics and energy figures do not, so theirs is None: unknown, never guessed)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from harness.fingerprint import digest

UNKNOWN = "unknown"
ENERGY_FIGURES = ("total_energy_j", "j_per_example", "gco2e")       # per run, model, task and probe
RUN_SUBJECT = "run"


@dataclass(frozen=True)
class Figure:
    model: str                 # the model's name, or "run" for the run's own energy
    recipe: str                # recipe hash (for "run": the hash of every model's recipe)
    scope: str                 # "task" | "probe" | "energy"
    subject: str               # task or probe name; for energy also "model" or "run"
    subject_hash: str
    metric: str                # e.g. accuracy, fail_rate, j_per_example
    value: float | None
    ci_lo: float | None = None
    ci_hi: float | None = None
    n: int | None = None
    unit: str = ""
    source: str = ""
    reason: str = ""           # why value is None ("not measured: ...")
    higher_is_better: bool | None = None     # as results.json records it for the metric; None: not recorded

    @property
    def series_key(self) -> str:
        return f"{self.model}@{self.recipe}/{self.scope}:{self.subject}@{self.subject_hash}/{self.metric}"

    @property
    def label(self) -> str:
        return f"{self.model}@{self.recipe[:8]} {self.scope}:{self.subject}@{self.subject_hash[:8]} {self.metric}"


@dataclass(frozen=True)
class Entry:
    run_id: str
    started: str
    finished: str
    status: str
    git_sha: str
    harness_version: str
    run_dir: str
    models: dict[str, dict[str, Any]]        # name -> {spec, recipe, weights}
    inputs: dict[str, dict[str, Any]]        # "task:NAME" / "probe:NAME" -> {hash, data, fingerprint}
    energy: dict[str, Any]                   # the run's {energy_j, j_per_example, source, reason, gco2e, ...}
    gate: dict[str, Any] | None
    figures: tuple[Figure, ...]


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _reason(obj: dict) -> str:
    text = obj.get("not_measured") or obj.get("reason") or "no value recorded"
    text = str(text)
    return text if text.startswith("not measured") else f"not measured: {text}"


def recipe_hash(spec: dict | str, dtype: str | None, weights: str | None) -> str:
    return digest({"spec": spec, "dtype": dtype, "weights": weights})


def _weights(*places: dict) -> str | None:
    for place in places:
        for key in ("weights_sha256", "weights_fingerprint"):
            if isinstance(place.get(key), str):
                return place[key]
    return None


def _spec_of(run_json: dict, name: str, results_model: dict) -> dict | str:
    """The model spec without its name; its recipe keys (dtype=, quantize=, prune=) as the recipe the
    run recorded, so `dtype=fp16` and `dtype=float16`, or `prune=.5` and `prune=0.5`, are one series."""
    for model in (run_json.get("spec") or {}).get("models", []):
        if isinstance(model, dict) and model.get("name") == name:
            spec = {k: v for k, v in model.items() if k != "name"}
            recipe = results_model.get("recipe")
            if isinstance(recipe, dict) and isinstance(spec.get("options"), dict):
                spec["options"] = {k: v for k, v in spec["options"].items() if k not in recipe}
                spec["recipe"] = {k: v for k, v in sorted(recipe.items()) if v is not None}
            return spec
    return str(results_model.get("spec", name))


def _metric_figure(model: str, recipe: str, scope: str, subject: str, subject_hash: str, metric: str, m: Any) -> Figure:
    m = m if isinstance(m, dict) else {"value": m}
    value = _num(m.get("value"))
    ci = m.get("ci95") if isinstance(m.get("ci95"), (list, tuple)) and len(m.get("ci95")) == 2 else (None, None)
    n = m.get("n") if isinstance(m.get("n"), int) and not isinstance(m.get("n"), bool) else None
    higher = m.get("higher_is_better") if isinstance(m.get("higher_is_better"), bool) else None
    return Figure(model, recipe, scope, subject, subject_hash, metric, value, _num(ci[0]), _num(ci[1]), n,
                  reason="" if value is not None else _reason(m), higher_is_better=higher)


def missing_energy(energy: dict) -> str:
    """Why a figure is absent: the energy object's own reason when its total was not measured (a
    window with meters off records only the total, with the reason)."""
    total = energy.get("total_energy_j")
    if isinstance(total, dict) and _num(total.get("value")) is None:
        return str(total.get("not_measured") or total.get("reason") or "not recorded")
    return "not recorded in results.json" if energy else "no energy recorded"


def _energy_figures(model: str, recipe: str, subject: str, subject_hash: str, energy: Any) -> list[Figure]:
    energy = energy if isinstance(energy, dict) else {}
    out = []
    for name in ENERGY_FIGURES:
        f = energy.get(name)
        if not isinstance(f, dict):
            f = {"not_measured": missing_energy(energy)}
        value = _num(f.get("value"))
        out.append(Figure(model, recipe, "energy", subject, subject_hash, name, value, unit=str(f.get("unit", "")),
                          source=str(f.get("source", "not_measured")),
                          reason="" if value is not None else _reason(f)))
    return out


def entry_from_run(results: dict, run_json: dict | None, run_dir: str = "") -> Entry:
    """Everything the index keeps of one run. ``run_json`` may be None (a folder without it)."""
    run_json = run_json or {}
    run = results.get("run", {})
    prints = run_json.get("fingerprints") or {}
    task_prints, probe_prints = prints.get("task") or {}, prints.get("probe") or {}
    figures: list[Figure] = []
    models: dict[str, dict] = {}
    inputs: dict[str, dict] = {}
    model_hashes = []
    for name, m in (results.get("models") or {}).items():
        if not isinstance(m, dict):
            continue
        saved = (run_json.get("models") or {}).get(name) or {}
        weights = _weights(m, saved)
        spec = _spec_of(run_json, name, m)
        recipe = recipe_hash(spec, m.get("dtype"), weights)
        models[name] = {"spec": m.get("spec", ""), "recipe": recipe, "weights": weights, "dtype": m.get("dtype")}
        tasks = m.get("tasks") or {}
        task_hashes = {t: digest(task_prints[t]) if t in task_prints else UNKNOWN for t in tasks}
        inside = []
        for task, t in tasks.items():
            h = task_hashes[task]
            inputs[f"task:{task}"] = {"hash": h, "data": (task_prints.get(task) or {}).get("data", UNKNOWN),
                                      "fingerprint": task_prints.get(task)}
            inside.append(("task", task, h))
            for metric, value in (t.get("metrics") or {}).items():
                figures.append(_metric_figure(name, recipe, "task", task, h, metric, value))
            figures += _energy_figures(name, recipe, task, h, t.get("energy"))
        for probe, p in (m.get("probes") or {}).items():
            fp = probe_prints.get(probe)
            h = digest({"probe": fp, "tasks": {t: task_prints.get(t) for t in sorted(tasks)},
                        "seed": run.get("seed")}) if fp else UNKNOWN
            inputs[f"probe:{probe}"] = {"hash": h, "data": (fp or {}).get("data", UNKNOWN), "fingerprint": fp}
            inside.append(("probe", probe, h))
            for metric, value in ((p or {}).get("metrics") or {}).items():
                figures.append(_metric_figure(name, recipe, "probe", probe, h, metric, value))
            figures += _energy_figures(name, recipe, f"probe:{probe}", h, (p or {}).get("energy"))
        model_hash = digest(sorted(inside))
        model_hashes.append((name, recipe, model_hash))
        figures += _energy_figures(name, recipe, "model", model_hash, m.get("energy"))
    energy = (results.get("energy") or {}).get("run") or {}
    run_recipe, run_hash = digest(sorted((n, r) for n, r, _ in model_hashes)), digest(sorted(model_hashes))
    figures += _energy_figures(RUN_SUBJECT, run_recipe, RUN_SUBJECT, run_hash, energy)
    total, per_example, carbon = (energy.get(k) if isinstance(energy.get(k), dict) else {"not_measured": missing_energy(energy)}
                                  for k in ENERGY_FIGURES)
    summary = {"energy_j": _num(total.get("value")), "j_per_example": _num(per_example.get("value")),
               "source": total.get("source", "not_measured"),
               "reason": "" if _num(total.get("value")) is not None else _reason(total or {"not_measured": "no energy recorded"}),
               "gco2e": _num(carbon.get("value")), "carbon_source": carbon.get("source", "not_measured"),
               "carbon_reason": "" if _num(carbon.get("value")) is not None else _reason(carbon or {"not_measured": "no carbon recorded"})}
    gate = results.get("gate") if isinstance(results.get("gate"), dict) else None
    return Entry(run_id=str(run.get("id") or run_json.get("id") or ""), started=str(run.get("started") or run_json.get("started") or ""),
                 finished=str(run.get("finished") or ""), status=str(run.get("status") or ""),
                 git_sha=str(run.get("git_sha") or ""), harness_version=str(run.get("harness_version") or ""),
                 run_dir=run_dir, models=models, inputs=inputs, energy=summary, gate=gate, figures=tuple(figures))
