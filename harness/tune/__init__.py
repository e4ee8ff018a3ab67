"""`harness tune`: the configuration of a model that costs least energy at the quality the user needs.

    from harness.tune import Settings, tune
    from harness.tune.space import build_space
    result = tune(Settings(model="tiny-gpt2", tasks=("facts_mc",), limit=32, trials=6, margin=0.05,
                           out=Path("reports/tune"), space=build_space(ModelSpec.parse("tiny-gpt2"), RuntimeOptions())))
    result["best"]["spec"]            # a --model string to paste

The parts: harness.tune.space (the knobs: batch size, dtype, quantize=, prune=, the GPU power limit
behind a flag), .trial (one trial: a prefix screen, then the measurement protocol), .floor (the
quality floor, judged by the gate's paired non-inferiority rule, and the sequential test that prunes),
.study (the Optuna study in OUT/tune.sqlite: resume after a kill), .point and .front (the figures,
the Pareto front, the best point, the gate policy), .page (tune.html).

Output in OUT: tune.json, tune.html, tune-gate.yaml; the run folders of the full model and of every
measured trial (recorded in OUT/history.sqlite); prefix screens under OUT/prefix/.
"""
from __future__ import annotations

import sys
from typing import Callable

from harness.tune.settings import Settings

__all__ = ["Settings", "tune", "INSTALL"]

INSTALL = "pip install -e '.[tune]'   (or: pip install 'harness-audit[tune]')"


def _trial_json(t) -> dict:
    attrs = t.user_attrs
    config = attrs.get("config") or {}
    note = attrs.get("pruned") or attrs.get("error") or ("killed; retried" if attrs.get("killed") else "")
    if attrs.get("redrawn") is not None:
        note = f"drew trial {attrs['redrawn']}'s configuration again: not measured twice; an untried one ran instead"
    if attrs.get("retry_of") is not None:
        note = (note + "; " if note else "") + f"retry of trial {attrs['retry_of']}"
    state = "redrawn" if attrs.get("redrawn") is not None else t.state.name.lower()
    return {"number": t.number, "state": state, "spec": attrs.get("spec", ""),
            "batch_size": config.get("batch_size"), "power_limit_w": config.get("power_limit_w"),
            "command": attrs.get("command"), "values": list(t.values) if t.values else None,
            "point": attrs.get("point"), "looks": attrs.get("looks", []), "note": note,
            "seconds": (t.datetime_complete - t.datetime_start).total_seconds()
            if t.datetime_complete and t.datetime_start else None}


def summarize(study, settings: Settings, full: dict, found_limits: dict | None = None) -> dict:
    """tune.json from the study (every figure comes from the trials' stored attributes)."""
    from harness import __version__
    from harness.run_dir import now
    import harness.tune.front as front
    trials = [_trial_json(t) for t in study.get_trials(deepcopy=False)]
    points = [full, *(t["point"] for t in trials if t["point"])]
    pareto = front.pareto(points, settings.objective)
    counts: dict[str, int] = {}
    for t in trials:
        counts[t["state"]] = counts.get(t["state"], 0) + 1
    out = {"harness_version": __version__, "created": now(), "argv": sys.argv[1:],
           "settings": {k: v for k, v in study.user_attrs["settings"].items()},
           "study": {"storage": "tune.sqlite", "name": study.study_name, "trials": counts},
           "full": full, "trials": trials, "pareto": pareto,
           "best": front.best(pareto, full, settings.objective),
           "policy": "tune-gate.yaml", "page": "tune.html"}
    if found_limits:
        out["power_limits_found_w"] = {str(k): v for k, v in found_limits.items()}
    return out


def _say_trial(t) -> None:
    attrs = t.user_attrs
    point = attrs.get("point") or {}
    energy = point.get("j_per_example") or {}
    lo, hi = energy.get("ci95") or [None, None]
    interval = f" [{lo:.3g}, {hi:.3g}]" if lo is not None and hi is not None else ""
    what = f"{attrs.get('spec', '?')} (batch size {(attrs.get('config') or {}).get('batch_size') or 'default'})"
    if point:
        floor = "passes the floor" if point["floor"]["passed"] else "fails the floor"
        print(f"trial {t.number}: {what}: {energy.get('value', 0):.4g} J/example{interval}, quality "
              f"{point['quality_mean']:.4g}, {floor}", flush=True)
    elif attrs.get("redrawn") is not None:
        print(f"trial {t.number}: drew trial {attrs['redrawn']}'s configuration again: not measured twice, an "
              "untried configuration is queued", flush=True)
    else:
        print(f"trial {t.number}: {what}: {t.state.name.lower()}: {attrs.get('pruned') or attrs.get('error', '')}",
              flush=True)


def _check_reference(full: dict, objective: str) -> None:
    """Every trial is judged against the full model's objective: when that is not measured (no answer
    correct under j_per_correct, no energy figure), no trial could pass, so none is run."""
    from harness.errors import HarnessError
    figure = full.get(objective) or {}
    if figure.get("value") is None:
        reason = figure.get("reason") or "no figure"
        fix = ("use --objective j_per_example, or tasks the model answers some items of correctly"
               if objective == "j_per_correct" else
               "see why in the full model's run folder (results.json, its energy), then tune again")
        raise HarnessError(f"the full model's {objective} is not measured ({reason}), so no configuration can be "
                           "compared with it", fix)


def tune(settings: Settings, say: Callable = _say_trial) -> dict:
    """Runs (or resumes) the tune in ``settings.out``; writes and returns tune.json's content."""
    from harness.lock import run_lock
    from harness.store import write_json_atomic, write_text_atomic
    from harness.tune.trial import measure_full
    import harness.tune.front as front
    import harness.tune.page as page
    import harness.tune.power as power
    import harness.tune.study as studies
    from harness.tune.checks import check_inputs
    out = settings.out
    check_inputs(settings)
    out.mkdir(parents=True, exist_ok=True)
    found_limits = None
    if settings.space.power_limits_w:
        power.check_limits(settings.space.power_limits_w, settings.nvml)
        found_limits = power.found_limits(settings.nvml)
    with run_lock(out):
        study = studies.open_study(settings)
        killed = studies.recover_killed(study)
        if killed:
            print(f"resuming {out / studies.STORAGE}: trial(s) {', '.join(map(str, killed))} were cut off and run "
                  "again", flush=True)
        full = study.user_attrs.get("full")
        if full is None:
            print(f"measuring the full model {settings.model} ({settings.repeats} repeats)", flush=True)
            full = measure_full(settings)
            study.set_user_attr("full", full)
        _check_reference(full, settings.objective)
        trials = min(settings.trials, settings.space.size)      # more would only measure a configuration again
        if trials < settings.trials:
            print(f"the space holds {trials} configuration(s): {trials} trial(s), not {settings.trials}", flush=True)
        done = len(studies.finished(study))
        if done:
            print(f"resuming {out / studies.STORAGE}: {done} of {trials} trials already finished", flush=True)
        while done < trials:
            if studies.run_one(study, settings, full, say) is not None:
                done += 1
            elif not studies.queue_untried(study, settings.space):
                break                               # every configuration is taken (an older study drew one twice)
        result = summarize(study, settings, full, found_limits)
        write_json_atomic(out / "tune.json", result)
        write_text_atomic(out / "tune.html", page.render(result))
        if result["best"] is not None:
            write_text_atomic(out / "tune-gate.yaml",
                              front.policy_text(result["best"], full, settings.margin, str(out / full["run_dir"])))
    return result
