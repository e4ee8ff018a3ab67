"""The checks of a tune's input that run before any work: --out is a folder (or absent) holding no
tune.json, tune.html or tune-gate.yaml that a tune did not write (no tune.sqlite beside them), the model's
adapter, options and recipe and every task are known, and, for ``--objective j_per_correct``, every
task has a 0/1 metric to count correct answers by. Each failure is one HarnessError (exit 2) and nothing is created."""
from __future__ import annotations

from harness.errors import HarnessError
from harness.tune.settings import Settings

OUTPUTS = ("tune.json", "tune.html", "tune-gate.yaml")


def check_out(settings: Settings) -> None:
    out = settings.out
    if out.exists() and not out.is_dir():
        raise HarnessError(f"--out {out} is a file, not a folder",
                           "pass --out a folder (new, or the one of the tune to resume)")
    theirs = [name for name in OUTPUTS if (out / name).exists()] if not (out / "tune.sqlite").exists() else []
    if theirs:                            # no study here: a tune did not write them, and they are not ours to replace
        raise HarnessError(f"--out {out} holds {', '.join(theirs)} but no tune.sqlite (not a tune's folder)",
                           "pass --out a new folder, or move those files away")


def check_model(settings: Settings) -> None:
    from harness.preflight import check_models
    check_models([settings.base], settings.runtime)   # `harness run`'s own: adapter, options, dtype=/quantize=/prune=


def check_tasks(settings: Settings) -> None:
    from harness.catalog import discover, select
    from harness.compare.measures import is_binary_metric
    tasks = select(discover(), settings.tasks)
    if settings.objective != "j_per_correct":
        return
    for task in tasks:
        if task.metrics and not any(is_binary_metric(task.kind, m) for m in task.metrics):
            raise HarnessError(f"--objective j_per_correct: task {task.name!r} ({task.kind}) has no 0/1 metric to "
                               f"count correct answers by (its metrics: {', '.join(task.metrics)})",
                               "use --objective j_per_example, or drop the task from --tasks")


def check_inputs(settings: Settings) -> None:
    """Every check above, in order; before the out folder is created."""
    check_out(settings)
    check_model(settings)
    check_tasks(settings)
