"""Evaluating a gate policy on a run's results (pure functions: dicts and dataclasses in, outcomes out).

Each rule is evaluated on every target its select matches (one outcome per rule and target); a
figure that cannot be judged (absent, not measured, too few examples, no baseline) gets the rule's
``not_measured`` verdict, with the reason. The first outcome is always the run's own status: an
incomplete run, one with failed pieces, or one that scored nothing does not pass a gate.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from fnmatch import fnmatchcase
from typing import Literal

from harness.failures import failed_pieces
from harness.failures import what as failure_what
from harness.gate.policy import (BaselineChange, BaselineDrop, Bounds, Deviation, Energy, Metric, Policy, Quantity,
                                 Rule, Select, is_glob, QUALITY_PER_KJ)

Verdict = Literal["pass", "fail", "warn", "skip"]
VERDICTS: tuple[Verdict, ...] = ("pass", "fail", "warn", "skip")
RUN_RULE = "run complete"
JUDGED_RULE = "anything judged"


@dataclass(frozen=True)
class Outcome:
    name: str                      # the rule's name
    target: str                    # "<model>/<task | probe:NAME | energy>/<metric>"
    value: float | None            # what the threshold is compared with
    threshold: str
    verdict: Verdict
    reason: str

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Target:
    """One place a rule reads: a model's task, probe or own energy. ``entry`` is that dict in
    results.json, or None with ``missing`` saying why it is not there."""
    model: str
    scope: Literal["task", "probe", "model"]
    piece: str | None
    entry: dict | None
    missing: str = ""

    def label(self, quantity: Quantity, name: str | None = None) -> str:
        name = name or quantity.name
        where = {"task": self.piece, "probe": f"probe:{self.piece}", "model": "energy"}[self.scope]
        if isinstance(quantity, Energy) and self.scope != "model":
            name = f"energy.{name}"
        return f"{self.model}/{where}/{name}"


# --- the run itself ---------------------------------------------------------------------------------

def scored_anything(results: dict) -> bool:
    return any(entry.get("n", 0) for model in (results.get("models") or {}).values()
               for group in ("tasks", "probes") for entry in (model.get(group) or {}).values())


def run_outcome(results: dict, allow_errors: bool = False) -> Outcome:
    run = results.get("run") or {}
    status = str(run.get("status", "unknown"))
    target = f"run:{run.get('id', '?')}/status"
    threshold = "complete" + (" (errors allowed)" if allow_errors else "")

    def out(verdict: Verdict, reason: str) -> Outcome:
        return Outcome(RUN_RULE, target, None, threshold, verdict, reason)
    if status.startswith("nothing evaluated") or not scored_anything(results):
        return out("fail", f"nothing evaluated: the run scored no task or probe example (status: {status})")
    if status.startswith("incomplete"):
        return out("fail", f"the run is {status}; finish it with `harness run --resume RUN_DIR`")
    failures = run.get("failures") or []
    if status == "complete" and not failures:
        return out("pass", "complete")
    first = failures[0] if failures else {}
    what = f"{len(failures)} piece(s) failed, first {first.get('model')!r} {failure_what(first)}: {first.get('error')}" \
        if failures else f"status {status}"
    return out("warn" if allow_errors else "fail", what)


# --- which targets a rule reads -------------------------------------------------------------------



def targets(select: Select, results: dict) -> list[Target]:
    """The targets in the run that ``select`` matches, and for a selection with no glob that is not
    in the run, one missing target saying why (skipped, failed, or absent)."""
    models = results.get("models") or {}
    found = []
    group = {"task": "tasks", "probe": "probes"}.get(select.scope)
    pattern = select.task if select.scope == "task" else select.probe
    for model, info in models.items():
        if not fnmatchcase(model, select.model):
            continue
        if group is None:
            found.append(Target(model, "model", None, info))
            continue
        for piece, entry in (info.get(group) or {}).items():
            if fnmatchcase(piece, pattern):
                found.append(Target(model, select.scope, piece, entry))
    failed = failed_pieces((results.get("run") or {}).get("failures"))
    for model, kind, piece in sorted(failed):
        if kind == select.scope and fnmatchcase(model, select.model) and fnmatchcase(piece, pattern) and \
                not any(t.model == model and t.piece == piece for t in found):
            found.append(Target(model, select.scope, piece, None, f"{kind} {piece!r} failed for model {model!r} "
                                                                 "(see run.failures)"))
    if found:
        return found
    literal = not is_glob(select.model) and (pattern is None or not is_glob(pattern))
    if literal:
        info = models.get(select.model)
        skipped = (info or {}).get("skipped") or {}
        key = f"probe:{pattern}" if select.scope == "probe" else pattern
        if info is None:
            why = f"model {select.model!r} is not in the run (models: {', '.join(models) or 'none'})"
        elif key in skipped:
            why = f"{select.scope} {pattern!r} was skipped for model {select.model!r}: {skipped[key]}"
        else:
            why = f"model {select.model!r} has no {select.scope} {pattern!r} in this run"
        return [Target(select.model, select.scope, pattern, None, why)]
    return [Target(select.model, select.scope, pattern, None, f"nothing in the run matches {select.describe()}")]


# --- reading figures ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Reading:
    value: float | None
    n: int | None
    reason: str = ""                 # why value is None
    source: str = ""                 # energy figures: where the number came from


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def metric_names(target: Target, quantity: Metric) -> list[str]:
    metrics = (target.entry or {}).get("metrics") or {}
    if is_glob(quantity.name):
        return sorted(m for m in metrics if fnmatchcase(m, quantity.name)) or [quantity.name]
    return [quantity.name]


def read_metric(target: Target, name: str) -> Reading:
    metrics = (target.entry or {}).get("metrics") or {}
    m = metrics.get(name)
    if m is None:
        what = f"probe {target.piece!r}" if target.scope == "probe" else f"task {target.piece!r}"
        return Reading(None, None, f"{what} reports no metric {name!r} (it reports {', '.join(sorted(metrics)) or 'none'})")
    if not isinstance(m, dict):                       # a bare number
        return Reading(float(m), None) if _finite(m) else Reading(None, None, f"{name} is {m!r}")
    n = m.get("n", (target.entry or {}).get("n"))
    if not _finite(m.get("value")):
        return Reading(None, n, str(m.get("not_measured") or m.get("reason") or f"{name} has no value"))
    return Reading(float(m["value"]), n)


def energy_figure(energy: dict | None, name: str) -> dict | None:
    if not energy:
        return None
    if name.startswith(QUALITY_PER_KJ):
        return (energy.get("quality_per_kj") or {}).get(name[len(QUALITY_PER_KJ):])
    return energy.get(name)


def read_energy(entry: dict | None, name: str) -> Reading:
    energy = (entry or {}).get("energy")
    n = (energy or {}).get("examples")
    figure = energy_figure(energy, name)
    if figure is None:
        total = (energy or {}).get("total_energy_j") or {}
        if total.get("source") == "not_measured":          # meters off: only the total is written, with why
            return Reading(None, n, total.get("reason", "not measured"))
        return Reading(None, n, f"no energy figure {name!r} here" + ("" if energy else " (no energy object)"))
    if figure.get("source") == "not_measured" or not _finite(figure.get("value")):
        return Reading(None, n, figure.get("reason", "not measured"), "not_measured")
    return Reading(float(figure["value"]), n, source=str(figure.get("source", "")))


# --- checks ----------------------------------------------------------------------------------------

def _fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.4g}"


def _not_measured(rule: Rule, label: str, threshold: str, reason: str, value: float | None = None) -> Outcome:
    return Outcome(rule.name, label, value, threshold, rule.not_measured, f"not measured: {reason}")


def _too_few(rule: Rule, n: int | None) -> str | None:
    if rule.min_n and (n is None or n < rule.min_n):
        return f"{'an unknown number of' if n is None else f'only {n}'} examples; the rule needs at least {rule.min_n}"
    return None


def bounds_threshold(check: Bounds) -> str:
    parts = ([f">= {check.min:g}"] if check.min is not None else []) + ([f"<= {check.max:g}"] if check.max is not None else [])
    return " and ".join(parts)


def judge_bounds(check: Bounds, value: float) -> tuple[bool, str]:
    if check.min is not None and value < check.min:
        return False, f"{_fmt(value)} is below the floor {check.min:g}"
    if check.max is not None and value > check.max:
        return False, f"{_fmt(value)} is above the ceiling {check.max:g}"
    return True, f"{_fmt(value)} is within {bounds_threshold(check)}"


def judge_deviation(check: Deviation, value: float) -> tuple[float, bool, str]:
    deviation = abs(value - check.center)
    ok = deviation <= check.max
    return deviation, ok, f"value {_fmt(value)} is {_fmt(deviation)} from {check.center:g} " \
                          f"({'within' if ok else 'more than'} {check.max:g})"


def drop_margin(check: BaselineDrop, baseline_value: float | None) -> float | None:
    if check.max_drop is not None:
        return check.max_drop
    if baseline_value is None or not _finite(baseline_value):
        return None
    return abs(baseline_value) * (check.max_drop_pct or 0.0) / 100


def drop_threshold(check: BaselineDrop, stat: dict | None = None) -> str:
    """The threshold in words; with no STAT yet (no baseline), in terms of the policy alone."""
    stat = stat or {}
    margin = drop_margin(check, stat.get("baseline"))
    pct = "" if check.max_drop_pct is None else f"{check.max_drop_pct:g}% of {_fmt(stat.get('baseline'))}" \
        if margin is not None else f"{check.max_drop_pct:g}% of baseline"
    if check.judge == "ci":
        if margin is None:
            return f"delta CI within a drop of {pct}"
        side = f"lower >= {-margin:.4g}" if stat.get("higher_is_better", True) else f"upper <= {margin:.4g}"
        return f"delta CI {side}" + (f" [{pct}]" if pct else "")
    allowed = pct if margin is None else f"{margin:.4g}" + (f" [{pct}]" if pct else "")
    level = f"Holm p < {check.alpha:g}" if check.alpha is not None else "Holm"
    return f"no significant drop > {allowed} ({stat.get('test', 'paired test')}, {level})"


def judge_drop(check: BaselineDrop, stat: dict, min_n: int = 0) -> tuple[float | None, str, bool | None, str]:
    """(value, threshold, passed, reason) for a STAT of the paired comparison; passed None: not measured."""
    higher = bool(stat.get("higher_is_better", True))
    margin = drop_margin(check, stat.get("baseline"))
    threshold = drop_threshold(check, stat)
    if margin is None:
        return None, threshold, None, "the baseline's value is not known"
    if stat.get("not_measured"):
        return None, threshold, None, str(stat["not_measured"])
    n = stat.get("n")
    if min_n and (n is None or n < min_n):
        return None, threshold, None, f"only {n} paired items; the rule needs at least {min_n}"
    delta = stat.get("delta")
    if not _finite(delta):
        return None, threshold, None, "the comparison has no delta"
    change = f"delta {delta:+.4g} ({_fmt(stat.get('baseline'))} → {_fmt(stat.get('other'))}, n={n})"
    if check.judge == "ci":
        lo, hi = (list(stat.get("ci95") or []) + [None, None])[:2]
        bound = lo if higher else hi
        if not _finite(bound):
            return None, threshold, None, "the delta has no confidence interval"
        ok = bound >= -margin if higher else bound <= margin
        side = "lower" if higher else "upper"
        return bound, threshold, ok, f"{change}; 95% CI [{_fmt(lo)}, {_fmt(hi)}]: {side} bound " + \
            ("within" if ok else "beyond") + f" the allowed drop {margin:.4g}"
    if stat.get("too_few_items"):
        return None, threshold, None, f"too few items for the paired test (n={n})"
    p = stat.get("p_holm")
    significant = (p is not None and p < check.alpha) if check.alpha is not None else bool(stat.get("significant"))
    drop = -delta if higher else delta
    ok = not (significant and drop > margin)
    verdict = ("a significant drop" if drop > 0 else "a significant gain") if significant else "no significant change"
    return delta, threshold, ok, f"{change}; Holm p {_fmt(p)}: {verdict}" + \
        ("" if ok or not significant else f" larger than {margin:.4g}")


def judge_change(check: BaselineChange, base: Reading, other: Reading) -> tuple[float | None, bool | None, str]:
    """(percent change, passed, reason) for an energy figure against the baseline's; passed None: not measured."""
    if base.value is None:
        return None, None, f"the baseline's figure is not measured: {base.reason}"
    if base.source and other.source and base.source != other.source:
        return None, None, f"the figures come from different meters (baseline {base.source}, this run {other.source}); " \
                           "comparing them would measure the meters, not the model"
    if base.value == 0:
        return None, None, "the baseline's figure is 0"
    pct = 100 * (other.value - base.value) / abs(base.value)
    worse = -pct if check.higher_is_better else pct
    ok = worse <= check.max_pct
    word = "drop" if check.higher_is_better else "increase"
    return pct, ok, f"{_fmt(base.value)} → {_fmt(other.value)} ({pct:+.1f}%): " \
                    f"{'within' if ok else 'more than'} the allowed {check.max_pct:g}% {word} ({other.source or 'clock'})"


def change_threshold(check: BaselineChange) -> str:
    return f"{'drop' if check.higher_is_better else 'increase'} <= {check.max_pct:g}% over baseline"


# --- a rule on its targets ---------------------------------------------------------------------------

def comparison_entry(comparison: dict | None, model: str, run: dict, n_models: int) -> dict | None:
    """This model's part of the comparison ("models.<key>"): by its name, by the "runs" map, or the
    only one when both sides have one model."""
    if not comparison:
        return None
    models = comparison.get("models") or {}
    if model in models:
        return models[model]
    for key, ref in (comparison.get("runs") or {}).items():
        if key in models and ref.get("model") == model and ref.get("run_id") in (None, run.get("id")):
            return models[key]
    if len(models) == 1 and n_models == 1:
        return next(iter(models.values()))
    return None


def baseline_model(baseline: dict, model: str, n_models: int) -> str | None:
    """The baseline's model paired with ``model``: the same name, or the only one on each side."""
    models = baseline.get("models") or {}
    if model in models:
        return model
    if len(models) == 1 and n_models == 1:
        return next(iter(models))
    return None


def _reports(target: Target, name: str) -> bool:
    return target.entry is None or name in ((target.entry.get("metrics") or {}))


def evaluate_rule(rule: Rule, results: dict, baseline: dict | None = None,
                  comparison: dict | None = None) -> list[Outcome]:
    """One outcome per target and metric. A glob over tasks or probes selects those that report the
    metric (``task: "*"``, ``metric: accuracy`` leaves out generation tasks); a literal task or probe
    that does not report it reads not measured, and so does a glob that leaves nothing."""
    n_models = len(results.get("models") or {})
    pattern = rule.select.task if rule.select.scope == "task" else rule.select.probe
    out = []
    for target in targets(rule.select, results):
        names = metric_names(target, rule.quantity) if isinstance(rule.quantity, Metric) else [rule.quantity.name]
        for name in names:
            if isinstance(rule.quantity, Metric) and pattern is not None and is_glob(pattern) and \
                    not _reports(target, name):
                continue
            out.append(_evaluate_one(rule, target, name, results, baseline, comparison, n_models))
    if not out:
        where = Target(rule.select.model, rule.select.scope, pattern, None,
                       f"no {rule.select.scope} matching {rule.select.describe()} reports metric {rule.quantity.name!r}")
        out.append(_evaluate_one(rule, where, rule.quantity.name, results, baseline, comparison, n_models))
    return out


def _evaluate_one(rule: Rule, target: Target, name: str, results: dict, baseline: dict | None,
                  comparison: dict | None, n_models: int) -> Outcome:
    label = target.label(rule.quantity, name)
    check = rule.check
    if isinstance(check, Bounds):
        threshold = bounds_threshold(check)
    elif isinstance(check, Deviation):
        threshold = f"|x - {check.center:g}| <= {check.max:g}"
    elif isinstance(check, BaselineChange):
        threshold = change_threshold(check)
    else:
        threshold = drop_threshold(check)
    if target.entry is None:
        return _not_measured(rule, label, threshold, target.missing)

    if isinstance(check, BaselineDrop):
        entry = comparison_entry(comparison, target.model, results.get("run") or {}, n_models)
        if comparison is None:
            return _not_measured(rule, label, threshold, "no baseline given (--baseline RUN_DIR, results.json or NAME)")
        group = {"task": "tasks", "probe": "probes"}[target.scope]
        stat = ((entry or {}).get(group) or {}).get(target.piece, {}).get(name) if entry else None
        if stat is None:
            why = (f"the comparison pairs no baseline model with {target.model!r}" if entry is None else
                   f"the comparison has no paired {name!r} for {target.scope} {target.piece!r}")
            return _not_measured(rule, label, threshold, why)
        value, threshold, ok, reason = judge_drop(check, stat, rule.min_n)
        if ok is None:
            return _not_measured(rule, label, threshold, reason)
        return Outcome(rule.name, label, value, threshold, "pass" if ok else "fail", reason)

    reading = read_metric(target, name) if isinstance(rule.quantity, Metric) else read_energy(target.entry, name)
    if reading.value is None:
        return _not_measured(rule, label, threshold, reading.reason)
    few = _too_few(rule, reading.n)
    if few:
        return _not_measured(rule, label, threshold, few, reading.value)
    if isinstance(check, Bounds):
        ok, reason = judge_bounds(check, reading.value)
        return Outcome(rule.name, label, reading.value, threshold, "pass" if ok else "fail", reason)
    if isinstance(check, Deviation):
        deviation, ok, reason = judge_deviation(check, reading.value)
        return Outcome(rule.name, label, deviation, threshold, "pass" if ok else "fail", reason)
    # BaselineChange: the same figure in the baseline run
    if baseline is None:
        return _not_measured(rule, label, threshold, "no baseline given (--baseline RUN_DIR, results.json or NAME)")
    paired = baseline_model(baseline, target.model, n_models)
    base_info = (baseline.get("models") or {}).get(paired) if paired else None
    if base_info is None:
        return _not_measured(rule, label, threshold, f"the baseline has no model {target.model!r}")
    base_entry = base_info if target.scope == "model" else \
        (base_info.get({"task": "tasks", "probe": "probes"}[target.scope]) or {}).get(target.piece)
    if base_entry is None:
        return _not_measured(rule, label, threshold, f"the baseline's model {paired!r} has no {target.scope} {target.piece!r}")
    pct, ok, reason = judge_change(check, read_energy(base_entry, name), reading)
    if ok is None:
        return _not_measured(rule, label, threshold, reason)
    return Outcome(rule.name, label, pct, threshold, "pass" if ok else "fail", reason)


def evaluate(policy: Policy, results: dict, baseline: dict | None = None, comparison: dict | None = None) -> list[Outcome]:
    """The run's status, then every rule on every target it selects, in policy order."""
    out = [run_outcome(results, policy.allow_errors)]
    for rule in policy.rules:
        out.extend(evaluate_rule(rule, results, baseline, comparison))
    if all(o.verdict == "skip" for o in out[1:]):        # a gate that judged no figure is not a pass
        first = out[1].reason if len(out) > 1 else "the policy has no rule"
        out.append(Outcome(JUDGED_RULE, "policy", None, "at least one rule judged", "fail",
                           f"nothing evaluated: every rule was skipped (first: {out[1].name if len(out) > 1 else '-'}: "
                           f"{first}); a gate that judged no figure does not pass"))
    return out


def counts(outcomes: list[Outcome]) -> dict[str, int]:
    return {v: sum(o.verdict == v for o in outcomes) for v in VERDICTS}


def gate_verdict(outcomes: list[Outcome]) -> Literal["pass", "fail"]:
    return "fail" if any(o.verdict == "fail" for o in outcomes) else "pass"


REASON_CHARS = 1000      # a reason quotes run text (a model's error message): the verdict stays readable


def short(text: str, limit: int = REASON_CHARS) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text) - limit} more characters)"


def gate_record(policy: Policy, outcomes: list[Outcome], baseline_id: str | None, evaluated: str) -> dict:
    """results.json "gate" (SCHEMAS.md); the terminal table, JUnit and Markdown are made from it."""
    return {"verdict": gate_verdict(outcomes), "policy": policy.source, "policy_sha256": policy.sha256,
            "baseline": baseline_id, "evaluated": evaluated, "counts": counts(outcomes),
            "rules": [{**o.to_json(), "reason": short(o.reason)} for o in outcomes]}
