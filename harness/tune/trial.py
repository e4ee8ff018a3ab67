"""One trial of `harness tune`: a configuration drawn by Optuna, screened on a prefix of the items by
the sequential floor test (harness.tune.floor: pruned when it already fails), then measured with the
protocol (harness.measure: a warm-up pass that scores, N measured repeats) and judged against the
full model's run. What it learns is stored on the Optuna trial as user attributes (the point of
harness.tune.point, the floor, the looks), so tune.json is rebuilt from the study alone.

Run folders: the measured ones directly under OUT (beside OUT/history.sqlite, where each is
recorded, so `harness history OUT` lists them), the prefix screens under OUT/prefix/.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from harness.errors import HarnessError
from harness.spec import MeterOptions, ModelSpec, RuntimeOptions
import harness.tune.floor as floors
import harness.tune.power as power
from harness.tune.point import OBJECTIVES, point_of
from harness.tune.settings import Settings
from harness.tune.space import Config, command_of, spec_text

MIN_PREFIX = 8            # fewer items than this on a look: no look (the interval would say nothing)


def _measure(settings: Settings, spec: str, runtime: RuntimeOptions, out: Path, *, limit: int | None, repeats: int,
             meters: MeterOptions):
    from harness.measure import measure
    return measure(spec, settings.tasks, out=out, limit=limit, repeats=repeats, seed=settings.seed, runtime=runtime,
                   meters=meters)


def _relative(path: Path, out: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(out.resolve()))
    except ValueError:
        return str(path)


def measure_full(settings: Settings) -> dict:
    """The full model, as the user gave it, at the run's defaults: the reference every floor pairs with."""
    spec = settings.model
    measured = _measure(settings, spec, settings.runtime, settings.out, limit=settings.limit,
                        repeats=settings.repeats, meters=settings.meters)
    _record_history(measured.run_dir)
    config = Config(batch_size=settings.runtime.batch_size)
    return point_of(measured, None, spec=spec, config=config.to_json(),
                    command=command_of(spec, config, settings.tasks, settings.limit), tasks=settings.tasks,
                    run_dir=_relative(measured.run_dir, settings.out), trial=None)


def _record_history(run_dir: Path) -> None:
    from harness.history import record
    try:
        record(run_dir)
    except Exception as exc:      # the index is a convenience; the trial's run folder is what counts
        import sys
        print(f"harness: warning: {run_dir.name} not added to the history index ({exc})", file=sys.stderr)


def prefix_sizes(settings: Settings, items: int) -> list[int]:
    sizes = sorted({int(items * f) for f in settings.looks if 0 < f < 1})
    return [n for n in sizes if MIN_PREFIX <= n < items]


def _objective(point: dict, objective: str) -> float:
    figure = point[objective]
    if figure.get("value") is None:
        raise HarnessError(f"trial {point['trial']}: {objective} is not measured: {figure.get('reason')}",
                           "see why in the trial's run folder (results.json, its energy); "
                           "for j_per_correct, pick tasks with a 0/1 metric")
    return float(figure["value"])


def run_trial(trial, settings: Settings, full: dict) -> tuple[float, float]:
    """Draws, screens, measures and judges one configuration; returns Optuna's values (objective,
    quality). Raises optuna.TrialPruned when a look fails the floor; HarnessError when the
    configuration cannot run here (the caller records the trial as failed, with the reason)."""
    import optuna

    from harness.models import variants
    assert settings.objective in OBJECTIVES
    config = settings.space.suggest(trial)
    spec = spec_text(settings.base, config)
    command = command_of(spec, config, settings.tasks, settings.limit)
    trial.set_user_attr("spec", spec)
    trial.set_user_attr("config", config.to_json())
    trial.set_user_attr("command", command)
    runtime = dataclasses.replace(settings.runtime, batch_size=config.batch_size)
    full_dir = settings.out / full["run_dir"]
    variants.check(ModelSpec.parse(spec), runtime)
    items = min(m["n"] for metrics in full["quality"].values() for m in metrics.values())
    looks = []
    with power.applied(config.power_limit_w, settings.nvml):
        for n in prefix_sizes(settings, items):
            screened = _measure(settings, spec, runtime, settings.out / "prefix", limit=n, repeats=1,
                                meters=MeterOptions(enabled=False))
            verdict = floors.judge(full_dir, screened.run_dir, settings.tasks, settings.margin, prefix=True)
            looks.append({"items": n, "clearly_fails": verdict.clearly_fails, **verdict.to_json()})
            trial.set_user_attr("looks", looks)
            if verdict.clearly_fails:
                raise optuna.TrialPruned(f"fails the floor on the first {n} items")
        measured = _measure(settings, spec, runtime, settings.out, limit=settings.limit, repeats=settings.repeats,
                            meters=settings.meters)
    _record_history(measured.run_dir)
    verdict = floors.judge(full_dir, measured.run_dir, settings.tasks, settings.margin)
    point = point_of(measured, verdict, spec=spec, config=config.to_json(), command=command, tasks=settings.tasks,
                     run_dir=_relative(measured.run_dir, settings.out), trial=trial.number)
    trial.set_user_attr("point", point)
    trial.set_user_attr("constraint", [verdict.constraint()])
    return _objective(point, settings.objective), float(point["quality_mean"] or 0.0)
