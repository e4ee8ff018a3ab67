"""Assembling results.json from the sample store and the run state (pure: values in, ``Results`` out).

Metric values are recomputed from the stored predictions, in dataset order, with a bootstrap
seeded by the run seed and the task's name (never the model's or the metric's): every model and
metric of a task is resampled with the same example indices, so identical predictions get
identical intervals, and an interrupted-and-resumed run and an uninterrupted one give identical
numbers.

The statistics computed here (a task's metrics and calibration, a probe's ``summarize``) can
raise, or return what the types refuse. That is a failure of that piece, not of the run: it is
recorded in ``run.failures`` (kind "summary", piece the task or ``probe:NAME``), the piece is left
out, the run reads "complete with errors" (exit 3), and results.json and report.html are written.
Since a summary is recomputed each time results are assembled, such a failure is never stored in
run.json: a resume computes it again.
"""
from __future__ import annotations

import sys
from typing import Any, Callable, Sequence

from pydantic import ValidationError

from harness import __version__
from harness.calibration import calibration
from harness.invalid import invalid_summary
from harness.meters.carbon import CarbonIntensity
from harness.meters.energy import aggregate, covering, energy_object
from harness.metrics.bootstrap import bootstrap, seed_for
from harness.plugins import PROBES
from harness.prepared import PreparedTask
from harness.results.migration import failure as failure_record
from harness.results.types import (COMPLETE, COMPLETE_WITH_ERRORS, SCHEMA_VERSION, ModelResult, ProbeResult, Results,
                                   TaskResult)
from harness.results.values import Failure, MetricValue
from harness.run_dir import RunState

REMOTE_ENERGY = "remote model: the energy is spent on the server and cannot be read from here"
SUMMARY_FIX = ("this is a bug in the summary's code (harness's, or the plugin's that registered it): report it with "
               "this error; the items are kept in samples.jsonl, and `harness run --resume RUN_DIR` summarizes again")


def task_result(task: PreparedTask, records: Sequence[dict], model: str, seed: int, resamples: int) -> dict:
    """Metrics over the scored records; invalid ones (a non-finite model output) are counted apart.
    ``n`` is the number scored, ``complete`` whether every example has a record. A task that scores
    itself (``own_result``: harness.lmeval's tasks, with lm-eval's own aggregations) returns its entry."""
    own = getattr(task, "own_result", None)
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
            metrics[spec.name] = {**MetricValue.not_measured(why_not, len(records)).to_json(),
                                  "higher_is_better": metric.higher_is_better}
            continue
        if not records:
            reason = "no example was scored: every model output was invalid (see invalid)"
            metrics[spec.name] = {**MetricValue.not_measured(reason, 0).to_json(),
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


def probe_result(config, records: Sequence[dict], seed: int) -> dict:
    """A probe's ``summarize`` over its valid records, in item order, with the common fields."""
    valid = sorted((r for r in records if "invalid" not in r), key=lambda r: r["index"])
    summary = PROBES.get(config.probe)().summarize(valid, config, seed)
    if not isinstance(summary, dict):
        raise TypeError(f"summarize returned {type(summary).__name__}, not a dict")
    metrics = {name: m if isinstance(m, dict) else {"value": m}       # a bare number is a value without an interval
               for name, m in (summary.get("metrics") or {}).items()}
    return {"probe": config.probe, "n": len(records), **summary, "metrics": metrics, "invalid": invalid_summary(records)}


def _summary_error(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"the summary is not what results.json holds: {where}: {first['msg']}"
    try:
        text = str(exc)
    except Exception:                       # an exception whose message cannot be read
        text = ""
    return f"{type(exc).__name__}: {text}"[:2000]


def summarized(failures: list[Failure], model: str, piece: str, compute: Callable[[], Any]) -> Any:
    """``compute()``, or None with the failure recorded when it raises (Ctrl-C and SIGTERM still stop)."""
    try:
        return compute()
    except Exception as exc:            # a summary's failure is that piece's, never the whole run's
        failure = Failure(model=model, kind="summary", piece=piece, error=_summary_error(exc), fix=SUMMARY_FIX)
        failures.append(failure)
        print(f"harness: {failure.describe()} failed, going on: {failure.error}", file=sys.stderr)
        return None


def lm_eval_groups(tasks: Sequence[PreparedTask], per_task: dict[str, TaskResult], records_of: dict, spec,
                   failures: list[Failure], model: str, energy_of: Callable) -> dict[str, TaskResult]:
    """The entries of the lm-eval groups among ``tasks`` (harness.lmeval.aggregate), each one piece:
    a group whose aggregate raises is a summary failure of ``lm-eval:GROUP``, its subtasks kept."""
    from harness.lmeval.aggregate import group_result, groups_of
    out = {}
    for group_name, group in groups_of(tasks).items():
        def one(group_name=group_name, group=group) -> TaskResult:
            return TaskResult.model_validate(group_result(group_name, group, tasks, per_task, records_of, spec.seed,
                                                          spec.bootstrap_resamples, energy_of))
        found = summarized(failures, model, group_name, one)
        if found is not None:
            out[group_name] = found
    return out


def assemble(state: RunState, tasks: Sequence[PreparedTask], records: Sequence[dict], environment: dict,
             finished: str | None, status: str, windows: Sequence[dict] = (),
             intensity: CarbonIntensity = CarbonIntensity(None, "not given"), meters_environment: dict | None = None,
             meters_disabled: str | None = None, probes: Sequence = (), run_extra: dict | None = None) -> Results:
    spec = state.spec
    models: dict[str, ModelResult] = {}
    summary_failures: list[Failure] = []

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
        name = model_spec.name
        info = state.models.get(name)
        if info is None:
            continue
        remote = bool(info.get("remote"))
        per_task, records_of = {}, {}
        for task in tasks:
            ids = {ex.id for ex in task.examples}     # a stray record (an edited line) is no item of this run
            mine = [r for r in records if r["model"] == name and r["task"] == task.name and r["id"] in ids]
            if not mine:
                continue

            def one_task(task=task, mine=mine) -> TaskResult:
                result = task_result(task, mine, name, spec.seed, spec.bootstrap_resamples)
                result["energy"] = energy("task", result["metrics"], task.kind.name, remote, model=name, task=task.name)
                return TaskResult.model_validate(result)
            found = summarized(summary_failures, name, task.name, one_task)
            if found is not None:
                per_task[task.name] = found
                records_of[task.name] = mine
        if any(getattr(t, "selection", None) for t in tasks):      # lm-eval groups: lm-eval's own aggregates

            def group_energy(names: list[str], metrics: dict, name=name, remote=remote) -> dict:
                chosen = [w for w in windows if w["kind"] == "task" and w.get("model") == name and w.get("task") in names]
                return energy_object(aggregate(chosen), intensity, metrics, "lm-eval:group",
                                     meters_disabled or (REMOTE_ENERGY if remote else None))
            per_task.update(lm_eval_groups(tasks, per_task, records_of, spec, summary_failures, name, group_energy))
        per_probe = {}
        for config in probes:
            mine = [r for r in records if r["model"] == name and r["task"] == f"probe:{config.name}"]
            if not mine:
                continue

            def one_probe(config=config, mine=mine) -> ProbeResult:
                result = probe_result(config, mine, spec.seed)
                result["energy"] = energy("probe", result["metrics"], remote=remote, model=name, probe=config.name)
                return ProbeResult.model_validate(result)
            found = summarized(summary_failures, name, f"probe:{config.name}", one_probe)
            if found is not None:
                per_probe[config.name] = found
        models[name] = ModelResult.model_validate({
            **info, "tasks": per_task, "probes": per_probe, "skipped": state.skipped.get(name, {}),
            "energy": energy("model", remote=remote, model=name)})
    if summary_failures and status == COMPLETE:
        status = COMPLETE_WITH_ERRORS
    failures = [failure_record(f) for f in state.failures] + [f.to_json() for f in summary_failures]
    return Results.model_validate({
        "schema_version": SCHEMA_VERSION,
        "run": {"id": state.id, "started": state.started, "finished": finished, "status": status, "seed": spec.seed,
                "limit": spec.limit, "harness_version": __version__, "git_sha": environment.get("git_sha"),
                "argv": state.argv, "failures": failures, **(run_extra or {})},
        "environment": {k: v for k, v in environment.items() if k != "git_sha"},
        "models": models,
        "energy": {"run": energy("run"), "carbon_intensity": intensity.to_json(), "meters": meters_environment or {}},
    })
