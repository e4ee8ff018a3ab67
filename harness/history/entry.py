"""One finished run as the history index holds it: pure functions from the typed results
(harness.results) and run.json.

A figure's *series* is the same figure of the same model name (harness.history.trend): the name is
what a periodic audit follows. Each figure keeps the hashes of what it was measured on, so a changed
recipe or changed weights is an event on that series, and changed task data or configuration a
comparability warning, never a silent join (the figure's ``series_key``, which holds them, is its
identity in the index, not the line it is drawn on):

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
metrics carry it; probe metrics and energy figures do not, so theirs is None: unknown, never guessed).
An energy figure measured over repeats keeps its 95% interval across them as its CI.

A figure is ``failed`` when what it measures scored nothing: every metric of a run that scored no
item at all (every output NaN, say), and the metrics of a task that scored none of its items, or of
a probe that scored none (energy figures are measured all the same). It reads as a failed point in the history, never as a gap to step over.
Each model's ``recipe_text`` is the spec as the run recorded it (``adapter[:location],key=value``,
with the dtype it ran in), so an event can say what changed."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from harness.fingerprint import digest
from harness.results.energy import Energy, energy_reason
from harness.results.reading import as_results
from harness.results.types import ModelResult, Results
from harness.results.values import NOT_MEASURED, MetricValue

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
    failed: bool = False       # what it measures scored nothing (a failed point, not a gap)

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
    models: dict[str, dict[str, Any]]        # name -> {spec, recipe, weights, dtype, recipe_text}
    inputs: dict[str, dict[str, Any]]        # "task:NAME" / "probe:NAME" -> {hash, data, fingerprint}
    energy: dict[str, Any]                   # the run's {energy_j, j_per_example, source, reason, gco2e, ...}
    gate: dict[str, Any] | None
    figures: tuple[Figure, ...]


def _num(value: float | int | None) -> float | None:
    return None if value is None else float(value)


def _reason(text: str | None) -> str:
    text = text or "no value recorded"
    return text if text.startswith("not measured") else f"not measured: {text}"


def recipe_hash(spec: dict | str, dtype: str | None, weights: str | None) -> str:
    return digest({"spec": spec, "dtype": dtype, "weights": weights})


def _weights(model: ModelResult, saved: dict) -> str | None:
    for get in (model.extra, saved.get):
        for key in ("weights_sha256", "weights_fingerprint"):
            if isinstance(get(key), str):
                return get(key)
    return None


def _spec_of(run_json: dict, name: str, results_model: ModelResult) -> dict | str:
    """The model spec without its name; its recipe keys (dtype=, quantize=, prune=) as the recipe the
    run recorded, so `dtype=fp16` and `dtype=float16`, or `prune=.5` and `prune=0.5`, are one series."""
    for model in (run_json.get("spec") or {}).get("models", []):
        if isinstance(model, dict) and model.get("name") == name:
            spec = {k: v for k, v in model.items() if k != "name"}
            recipe = results_model.extra("recipe")
            if isinstance(recipe, dict) and isinstance(spec.get("options"), dict):
                spec["options"] = {k: v for k, v in spec["options"].items() if k not in recipe}
                spec["recipe"] = {k: v for k, v in sorted(recipe.items()) if v is not None}
            return spec
    return results_model.spec if "spec" in results_model.model_fields_set else name


def recipe_text(run_json: dict, name: str, results_model: ModelResult) -> str:
    """The model as asked, for people: ``adapter[:location][,key=value...]`` and the dtype it ran in."""
    for model in (run_json.get("spec") or {}).get("models", []):
        if isinstance(model, dict) and model.get("name") == name:
            text = str(model.get("adapter") or "") + (f":{model['location']}" if model.get("location") else "")
            options = model.get("options") if isinstance(model.get("options"), dict) else {}
            text += "".join(f",{k}={v}" for k, v in sorted(options.items()))
            break
    else:
        text = results_model.spec or name
        recipe = results_model.extra("recipe")
        if isinstance(recipe, dict):
            text += "".join(f",{k}={v}" for k, v in sorted(recipe.items()) if v is not None)
    return text + (f" ({results_model.dtype})" if results_model.dtype else "")


def _failed(n: int | None, expected: int | None) -> bool:
    """Scored nothing though there was something to score."""
    return n == 0 and (expected is None or expected > 0)


def _metric_figure(model: str, recipe: str, scope: str, subject: str, subject_hash: str, metric: str,
                   m: MetricValue, failed: bool = False) -> Figure:
    value = _num(m.value)
    return Figure(model, recipe, scope, subject, subject_hash, metric, value, _num(m.ci95[0]), _num(m.ci95[1]), m.n,
                  reason="" if value is not None else _reason(m.reason), higher_is_better=m.higher_is_better,
                  failed=failed and value is None)


def _energy_figures(model: str, recipe: str, subject: str, subject_hash: str, energy: Energy | None) -> list[Figure]:
    """The energy figures of one scope; a figure measured over repeats (``--repeats N``) keeps its 95%
    interval across them (ci_lo, ci_hi) and ``n`` = the number of repeats, so history draws its band."""
    out = []
    for name in ENERGY_FIGURES:
        f = energy.figure(name) if energy is not None else None
        value = _num(f.value) if f is not None else None
        interval = f.interval if f is not None and value is not None else None
        out.append(Figure(model, recipe, "energy", subject, subject_hash, name, value,
                          ci_lo=interval[0] if interval else None, ci_hi=interval[1] if interval else None,
                          n=f.repeats if interval else None,
                          unit=f.unit if f is not None else "", source=f.source if f is not None else NOT_MEASURED,
                          reason="" if value is not None else _reason(f.reason if f is not None else energy_reason(energy))))
    return out


def replace_failed(f: Figure) -> Figure:
    return replace(f, failed=True)


def entry_from_run(results: Results | dict, run_json: dict | None, run_dir: str = "") -> Entry:
    """Everything the index keeps of one run. ``run_json`` may be None (a folder without it)."""
    results = as_results(results)
    run_json = run_json or {}
    run = results.run
    prints = run_json.get("fingerprints") or {}
    task_prints, probe_prints = prints.get("task") or {}, prints.get("probe") or {}
    figures: list[Figure] = []
    models: dict[str, dict] = {}
    inputs: dict[str, dict] = {}
    model_hashes = []
    nothing = not results.scored_anything()          # every figure of the run is a failed point
    for name, m in results.models.items():
        saved = (run_json.get("models") or {}).get(name) or {}
        weights = _weights(m, saved)
        spec = _spec_of(run_json, name, m)
        recipe = recipe_hash(spec, m.dtype, weights)
        models[name] = {"spec": m.spec, "recipe": recipe, "weights": weights, "dtype": m.dtype,
                        "recipe_text": recipe_text(run_json, name, m)}
        tasks = m.tasks
        task_hashes = {t: digest(task_prints[t]) if t in task_prints else UNKNOWN for t in tasks}
        inside = []
        for task, t in tasks.items():
            h = task_hashes[task]
            inputs[f"task:{task}"] = {"hash": h, "data": (task_prints.get(task) or {}).get("data", UNKNOWN),
                                      "fingerprint": task_prints.get(task)}
            inside.append(("task", task, h))
            for metric, value in t.metrics.items():
                figures.append(_metric_figure(name, recipe, "task", task, h, metric, value,
                                              nothing or _failed(t.n, t.n_expected)))
            figures += _energy_figures(name, recipe, task, h, t.energy)
        for probe, p in m.probes.items():
            fp = probe_prints.get(probe)
            h = digest({"probe": fp, "tasks": {t: task_prints.get(t) for t in sorted(tasks)},
                        "seed": run.seed}) if fp else UNKNOWN
            inputs[f"probe:{probe}"] = {"hash": h, "data": (fp or {}).get("data", UNKNOWN), "fingerprint": fp}
            inside.append(("probe", probe, h))
            for metric, value in p.metrics.items():
                figures.append(_metric_figure(name, recipe, "probe", probe, h, metric, value, nothing or _failed(p.n, None)))
            figures += _energy_figures(name, recipe, f"probe:{probe}", h, p.energy)
        model_hash = digest(sorted(inside))
        model_hashes.append((name, recipe, model_hash))
        figures += _energy_figures(name, recipe, "model", model_hash, m.energy)
    if nothing:                                  # its metrics are failed points; its energy was still measured
        figures = [replace_failed(f) if f.scope != "energy" else f for f in figures]
    energy = results.energy.run if results.energy is not None else None
    run_recipe, run_hash = digest(sorted((n, r) for n, r, _ in model_hashes)), digest(sorted(model_hashes))
    run_figures = _energy_figures(RUN_SUBJECT, run_recipe, RUN_SUBJECT, run_hash, energy)
    figures += run_figures
    total, per_example, carbon = run_figures
    summary = {"energy_j": total.value, "j_per_example": per_example.value, "source": total.source, "reason": total.reason,
               "gco2e": carbon.value, "carbon_source": carbon.source, "carbon_reason": carbon.reason}
    gate = results.gate.to_json() if results.gate is not None else None
    return Entry(run_id=run.id or str(run_json.get("id") or ""), started=run.started or str(run_json.get("started") or ""),
                 finished=run.finished or "", status=run.status,
                 git_sha=run.git_sha or "", harness_version=run.harness_version or "",
                 run_dir=run_dir, models=models, inputs=inputs, energy=summary, gate=gate, figures=tuple(figures))
