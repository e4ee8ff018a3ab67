"""Assembling results.json from the sample store and the run state (pure: values in, dict out).

Metric values are recomputed from the stored predictions, in dataset order, with a bootstrap
seeded by the run seed and the task's name (never the model's or the metric's): every model and
metric of a task is resampled with the same example indices, so identical predictions get
identical intervals, and an interrupted-and-resumed run and an uninterrupted one give identical
numbers.
"""
from __future__ import annotations

from typing import Sequence

from harness import __version__
from harness.meters.carbon import CarbonIntensity
from harness.meters.energy import aggregate, covering, energy_object
from harness.invalid import invalid_summary
from harness.calibration import calibration
from harness.metrics.bootstrap import bootstrap, seed_for
from harness.plugins import PROBES
from harness.prepared import PreparedTask
from harness.run_dir import RunState

SCHEMA_VERSION = 1
REMOTE_ENERGY = "remote model: the energy is spent on the server and cannot be read from here"


def task_result(task: PreparedTask, records: Sequence[dict], model: str, seed: int, resamples: int) -> dict:
    """Metrics over the scored records; invalid ones (a non-finite model output) are counted apart.
    ``n`` is the number scored, ``complete`` whether every example has a record."""
    own = getattr(task, "own_result", None)          # a task that scores itself (harness.lmeval)
    if own is not None:
        return own(records, seed, resamples)
    stored, invalid = len(records), invalid_summary(records)
    records = sorted((r for r in records if "invalid" not in r), key=lambda r: r["index"])
    references = [r["reference"] for r in records]
    metrics = {}
    for spec in task.metrics:
        metric = spec.resolve()
        why_not = metric.unavailable()
        if records and why_not:
            metrics[spec.name] = {"value": None, "stderr": None, "ci95": [None, None], "n": len(records),
                                  "not_measured": why_not, "higher_is_better": metric.higher_is_better}
            continue
        if not records:
            reason = "no example was scored: every model output was invalid (see invalid)"
            metrics[spec.name] = {"value": None, "stderr": None, "ci95": [None, None], "n": 0, "not_measured": reason,
                                  "higher_is_better": metric.higher_is_better}
            continue
        predictions = [r["prediction"] if spec.view == "prediction" else r["views"][spec.view] for r in records]
        stats = metric.record_stats(predictions, references, [r.get("scores", {}) for r in records])
        value = bootstrap(stats, metric.value_from_totals, resamples, seed_for(seed, task.name))
        metrics[spec.name] = {**value.to_json(), "higher_is_better": metric.higher_is_better, **metric.describe()}
    result = {"kind": task.kind.name, "n": len(records), "n_expected": len(task.examples),
              "complete": stored == len(task.examples), "invalid": invalid,
              "metrics": metrics}
    config = getattr(task, "config", None)
    for option in ("tokenize", "normalize"):          # how the texts were compared, where the task chose it
        if getattr(config, option, ""):
            result[option] = getattr(config, option)
    if hasattr(task.kind, "forecast"):        # multiple choice and classification: how sure, and how right
        forecasts = [f for f in map(task.kind.forecast, records) if f is not None]
        result["calibration"] = calibration(forecasts, task.kind.forecast_source,
                                            seed_for(seed, task.name, "calibration"), resamples)
    return result


def assemble(state: RunState, tasks: Sequence[PreparedTask], records: Sequence[dict], environment: dict,
             finished: str | None, status: str, windows: Sequence[dict] = (),
             intensity: CarbonIntensity = CarbonIntensity(None, "not given"), meters_environment: dict | None = None,
             meters_disabled: str | None = None, probes: Sequence = ()) -> dict:
    spec = state.spec
    models = {}

    def energy(kind: str, metrics: dict | None = None, task_kind: str | None = None, remote: bool = False,
               **match: str) -> dict:
        if kind == "run":
            chosen = covering(windows, f"run:{state.id}")
        elif kind == "model":
            chosen = covering(windows, f"run:{state.id}/model:{match['model']}")
        else:
            chosen = [w for w in windows if w["kind"] == kind and all(w.get(k) == v for k, v in match.items())]
        return energy_object(aggregate(chosen), intensity, metrics, task_kind, meters_disabled or (REMOTE_ENERGY if remote else None))

    for model_spec in spec.models:
        info = state.models.get(model_spec.name)
        if info is None:
            continue
        per_task, records_of = {}, {}
        for task in tasks:
            ids = {ex.id for ex in task.examples}     # a stray record (an edited line) is no item of this run
            mine = [r for r in records if r["model"] == model_spec.name and r["task"] == task.name and r["id"] in ids]
            if mine:
                result = task_result(task, mine, model_spec.name, spec.seed, spec.bootstrap_resamples)
                result["energy"] = energy("task", result["metrics"], task.kind.name, bool(info.get("remote")),
                                          model=model_spec.name, task=task.name)
                per_task[task.name] = result
                records_of[task.name] = mine
        if any(getattr(t, "selection", None) for t in tasks):     # lm-eval groups: their own aggregates
            from harness.lmeval.aggregate import group_results

            def group_energy(names: list[str], metrics: dict, model: str = model_spec.name) -> dict:
                chosen = [w for w in windows if w["kind"] == "task" and w.get("model") == model and w.get("task") in names]
                return energy_object(aggregate(chosen), intensity, metrics, "lm-eval:group",
                                     meters_disabled or (REMOTE_ENERGY if info.get("remote") else None))
            per_task.update(group_results(tasks, per_task, records_of, spec.seed, spec.bootstrap_resamples, group_energy))
        per_probe = {}
        for config in probes:
            mine = [r for r in records if r["model"] == model_spec.name and r["task"] == f"probe:{config.name}"]
            if mine:
                valid = sorted((r for r in mine if "invalid" not in r), key=lambda r: r["index"])
                summary = PROBES.get(config.probe)().summarize(valid, config, spec.seed)
                per_probe[config.name] = {"probe": config.probe, "n": len(mine), **summary,
                                          "invalid": invalid_summary(mine),
                                          "energy": energy("probe", summary.get("metrics"), remote=bool(info.get("remote")),
                                                           model=model_spec.name, probe=config.name)}
        models[model_spec.name] = {**info, "tasks": per_task, "probes": per_probe,
                                   "skipped": state.skipped.get(model_spec.name, {}),
                                   "energy": energy("model", remote=bool(info.get("remote")), model=model_spec.name)}
    return {
        "schema_version": SCHEMA_VERSION,
        "run": {"id": state.id, "started": state.started, "finished": finished, "status": status, "seed": spec.seed,
                "limit": spec.limit, "harness_version": __version__, "git_sha": environment.get("git_sha"),
                "argv": state.argv, "failures": list(state.failures)},
        "environment": {k: v for k, v in environment.items() if k != "git_sha"},
        "models": models,
        "energy": {"run": energy("run"), "carbon_intensity": intensity.to_json(), "meters": meters_environment or {}},
    }
