"""The Optuna study of a tune, stored in OUT/tune.sqlite beside OUT/history.sqlite, so a killed tune
resumes: the same command opens the same study, keeps every finished trial (complete, pruned, or
failed with a reason) and runs only the trials still owed. A trial left running by a process that
was killed (kill -9: no handler runs) is marked failed as ``killed`` and its configuration is queued
again first; it does not count towards ``--trials``.

A sampler may draw a configuration a finished trial already measured (TPE and NSGA-II both can):
that trial is closed at once as ``redrawn`` (not measured twice, not counted towards ``--trials``)
and a configuration no trial has drawn is queued instead, so a study of as many trials as the
space holds measures every configuration once.

Two objectives, (objective, quality): minimize J, maximize the tasks' mean headline metric; the
floor is Optuna's constraint (harness.tune.floor: <= 0 feasible), read by the sampler (TPE by
default, NSGA-II with ``--sampler nsga2``) from the trial's ``constraint`` attribute. The settings
that define the study are its ``settings`` attribute; a resume with other settings is refused.
"""
from __future__ import annotations

import json
from typing import Any

from harness.errors import HarnessError
from harness.tune.settings import Settings

STORAGE = "tune.sqlite"
NAME = "harness-tune"
SAMPLERS = ("tpe", "nsga2")
REDRAWN = "redrawn"                  # user attribute: the number of the trial that measured this configuration


def _constraints(trial) -> list[float]:
    return list(trial.user_attrs.get("constraint", [1.0]))


def _sampler(settings: Settings):
    import warnings

    import optuna
    with warnings.catch_warnings():       # Optuna 5 deprecates constraints_func (still there to 7); Optuna 4 has no other way
        warnings.simplefilter("ignore", FutureWarning)
        return _new_sampler(optuna, settings)


def _new_sampler(optuna, settings: Settings):
    if settings.sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(population_size=max(4, min(20, settings.trials)), seed=settings.seed,
                                             constraints_func=_constraints)
    return optuna.samplers.TPESampler(seed=settings.seed, constraints_func=_constraints,
                                      n_startup_trials=min(10, max(2, settings.trials // 2)))


def open_study(settings: Settings):
    """The study in OUT/tune.sqlite: created, or loaded when the settings match."""
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{(settings.out / STORAGE).resolve()}"
    study = optuna.create_study(storage=storage, study_name=NAME, directions=["minimize", "maximize"],
                                sampler=_sampler(settings), load_if_exists=True)
    wanted = json.loads(json.dumps(settings.identity()))
    found = study.user_attrs.get("settings")
    if found is None or (found != wanted and "full" not in study.user_attrs and not study.get_trials(deepcopy=False)):
        study.set_user_attr("settings", wanted)     # nothing was measured yet (e.g. a task name was wrong): start over
    elif found != wanted:
        differ = sorted(k for k in set(found) | set(wanted) if found.get(k) != wanted.get(k))
        raise HarnessError(f"{settings.out} holds a tune with other settings ({', '.join(differ)} differ)",
                           "rerun the same command to resume it, or pass another --out for a new tune")
    return study


def recover_killed(study) -> list[int]:
    """Trials a killed process left running: marked failed (``killed``), their configuration queued again."""
    from optuna.trial import TrialState
    killed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study._storage.set_trial_user_attr(trial._trial_id, "killed", True)
        study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        if trial.params:
            study.enqueue_trial(dict(trial.params), user_attrs={"retry_of": trial.number})
        killed.append(trial.number)
    return killed


def finished(study) -> list:
    """The trials that count towards --trials: complete, pruned, or failed for a reason (not killed,
    not a configuration drawn again)."""
    from optuna.trial import TrialState
    return [t for t in study.get_trials(deepcopy=False)
            if t.state in (TrialState.COMPLETE, TrialState.PRUNED)
            or (t.state == TrialState.FAIL and not t.user_attrs.get("killed") and REDRAWN not in t.user_attrs)]


def queue_untried(study, space) -> bool:
    """Queues the first configuration of ``space`` that no finished, running or queued trial holds;
    False when every one is taken."""
    from optuna.trial import TrialState
    taken = [t.params for t in finished(study)]
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING)):
        taken.append(t.params or t.system_attrs.get("fixed_params") or {})
    for params in space.configurations():
        if params not in taken:
            study.enqueue_trial(params)
            return True
    return False


def _twin(study, trial) -> int | None:
    """The finished trial that drew ``trial``'s configuration, if any."""
    return next((t.number for t in finished(study) if t.number != trial.number and t.params == trial.params), None)


def run_one(study, settings: Settings, full: dict, say) -> Any | None:
    """Asks for a trial, runs it, tells the study how it ended; returns the frozen trial. None when
    the sampler drew a configuration already measured: closed as ``redrawn`` without a run."""
    import optuna
    from optuna.trial import TrialState

    from harness.tune.trial import run_trial
    trial = study.ask()
    settings.space.suggest(trial)                   # the draw itself (run_trial's suggest returns the same)
    twin = _twin(study, trial)
    if twin is not None:
        trial.set_user_attr(REDRAWN, twin)
        study.tell(trial, state=TrialState.FAIL)
        say(study.get_trials(deepcopy=False)[trial.number])
        return None
    try:
        values = run_trial(trial, settings, full)
    except optuna.TrialPruned as exc:
        trial.set_user_attr("pruned", str(exc))
        study.tell(trial, state=TrialState.PRUNED)
    except HarnessError as exc:
        trial.set_user_attr("error", " ".join(str(exc).splitlines()))
        study.tell(trial, state=TrialState.FAIL)
    else:
        study.tell(trial, values)
    frozen = study.get_trials(deepcopy=False)[trial.number]
    say(frozen)
    return frozen
