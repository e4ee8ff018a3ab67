"""Evaluating a gate policy on a run's results (pure functions: the typed results of harness.results
and the policy's dataclasses in, outcomes out; the verdict is a ``GateVerdict``).

Each rule is evaluated on every target its select matches (one outcome per rule and target); a
figure that cannot be judged (absent, not measured, too few examples, no baseline) gets the rule's
``not_measured`` verdict, with the reason. The first outcome is always the run's own status: an
incomplete run, one with failed pieces, or one that scored nothing does not pass a gate.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from fnmatch import fnmatchcase
from typing import Literal, Union

from harness.gate.policy import (BaselineChange, BaselineDrop, Bounds, Deviation, Energy, Metric, Policy, Quantity,
                                 Rule, Select, is_glob)
from harness.finite import is_finite_number as _finite
from harness.results.comparison import Comparison, PairedStat
from harness.results.reading import as_results
from harness.results.types import ModelResult, ProbeResult, Results, TaskResult
from harness.results.verdict import GateVerdict

Entry = Union[TaskResult, ProbeResult, ModelResult]

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
    """One place a rule reads: a model's task, probe or own energy. ``entry`` is its typed result,
    or None with ``missing`` saying why it is not there."""
    model: str
    scope: Literal["task", "probe", "model"]
    piece: str | None
    entry: Entry | None
    missing: str = ""

    def label(self, quantity: Quantity, name: str | None = None) -> str:
        name = name or quantity.name
        where = {"task": self.piece, "probe": f"probe:{self.piece}", "model": "energy"}[self.scope]
        if isinstance(quantity, Energy) and self.scope != "model":
            name = f"energy.{name}"
        return f"{self.model}/{where}/{name}"


# --- the run itself ---------------------------------------------------------------------------------

def scored_anything(results: Results) -> bool:
    return results.scored_anything()


def run_outcome(results: Results, allow_errors: bool = False) -> Outcome:
    run = results.run
    status = run.status
    target = f"run:{run.id}/status"
    threshold = "complete" + (" (errors allowed)" if allow_errors else "")

    def out(verdict: Verdict, reason: str) -> Outcome:
        return Outcome(RUN_RULE, target, None, threshold, verdict, reason)
    if status.startswith("nothing evaluated") or not scored_anything(results):
        return out("fail", f"nothing evaluated: the run scored no task or probe example (status: {status})")
    if status.startswith("incomplete"):
        return out("fail", f"the run is {status}; finish it with `harness run --resume RUN_DIR`")
    failures = run.failures
    if status == "complete" and not failures:
        return out("pass", "complete")
    what = f"{len(failures)} piece(s) failed, first {failures[0].model!r} {failures[0].what}: {failures[0].error}" \
        if failures else f"status {status}"
    return out("warn" if allow_errors else "fail", what)


# --- which targets a rule reads -------------------------------------------------------------------

def _pieces(info: ModelResult, scope: str) -> dict[str, Entry]:
    return info.tasks if scope == "task" else info.probes


def targets(select: Select, results: Results) -> list[Target]:
    """The targets in the run that ``select`` matches, and for a selection with no glob that is not
    in the run, one missing target saying why (skipped, failed, or absent)."""
    models = results.models
    found = []
    pattern = select.task if select.scope == "task" else select.probe
    for model, info in models.items():
        if not fnmatchcase(model, select.model):
            continue
        if select.scope not in ("task", "probe"):
            found.append(Target(model, "model", None, info))
            continue
        for piece, entry in _pieces(info, select.scope).items():
            if fnmatchcase(piece, pattern):
                found.append(Target(model, select.scope, piece, entry))
    failed = {(f.model, *f.scope) for f in results.run.failures if f.scope is not None}
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
        skipped = info.skipped if info is not None else {}
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


def _metrics(entry: Entry | None) -> dict:
    return entry.metrics if isinstance(entry, (TaskResult, ProbeResult)) else {}


def metric_names(target: Target, quantity: Metric) -> list[str]:
    metrics = _metrics(target.entry)
    if is_glob(quantity.name) and quantity.name not in metrics:    # lm-eval's exact_match[strip] is a name, not a glob
        return sorted(m for m in metrics if fnmatchcase(m, quantity.name)) or [quantity.name]
    return [quantity.name]


def read_metric(target: Target, name: str) -> Reading:
    metrics = _metrics(target.entry)
    m = metrics.get(name)
    if m is None:
        what = f"probe {target.piece!r}" if target.scope == "probe" else f"task {target.piece!r}"
        return Reading(None, None, f"{what} reports no metric {name!r} (it reports {', '.join(sorted(metrics)) or 'none'})")
    n = m.n if "n" in m.model_fields_set else getattr(target.entry, "n", None)
    if m.value is None:
        return Reading(None, n, m.reason or f"{name} has no value")
    return Reading(float(m.value), n)


def read_energy(entry: Entry | None, name: str) -> Reading:
    energy = entry.energy if entry is not None else None
    n = energy.examples if energy is not None else None
    figure = energy.figure(name) if energy is not None else None
    if figure is None:
        total = energy.total_energy_j if energy is not None else None
        if total is not None and not total.measured:          # meters off: only the total is written, with why
            return Reading(None, n, total.reason or "not measured")
        present = energy is not None and bool(energy.model_fields_set)
        return Reading(None, n, f"no energy figure {name!r} here" + ("" if present else " (no energy object)"))
    if not figure.measured or figure.value is None:
        return Reading(None, n, figure.reason or "not measured", "not_measured")
    return Reading(float(figure.value), n, source=figure.source)


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


def drop_threshold(check: BaselineDrop, stat: PairedStat | None = None) -> str:
    """The threshold in words; with no STAT yet (no baseline), in terms of the policy alone."""
    base = stat.baseline if stat is not None else None
    margin = drop_margin(check, base)
    pct = "" if check.max_drop_pct is None else f"{check.max_drop_pct:g}% of {_fmt(base)}" \
        if margin is not None else f"{check.max_drop_pct:g}% of baseline"
    if check.judge == "ci":
        if margin is None:
            return f"delta CI within a drop of {pct}"
        side = f"lower >= {-margin:.4g}" if stat is None or stat.higher_is_better else f"upper <= {margin:.4g}"
        return f"delta CI {side}" + (f" [{pct}]" if pct else "")
    allowed = pct if margin is None else f"{margin:.4g}" + (f" [{pct}]" if pct else "")
    level = f"Holm p < {check.alpha:g}" if check.alpha is not None else "Holm"
    test = stat.test if stat is not None and "test" in stat.model_fields_set else "paired test"
    return f"no significant drop > {allowed} ({test}, {level})"


def judge_drop(check: BaselineDrop, stat: PairedStat, min_n: int = 0) -> tuple[float | None, str, bool | None, str]:
    """(value, threshold, passed, reason) for a STAT of the paired comparison; passed None: not measured."""
    higher = stat.higher_is_better
    margin = drop_margin(check, stat.baseline)
    threshold = drop_threshold(check, stat)
    if margin is None:
        return None, threshold, None, "the baseline's value is not known"
    if not stat.measured:
        return None, threshold, None, str(stat.reason)
    n = stat.n
    if min_n and (n is None or n < min_n):
        return None, threshold, None, f"only {n} paired items; the rule needs at least {min_n}"
    delta = stat.delta
    if not _finite(delta):
        return None, threshold, None, "the comparison has no delta"
    change = f"delta {delta:+.4g} ({_fmt(stat.baseline)} → {_fmt(stat.other)}, n={n})"
    if check.judge == "ci":
        lo, hi = stat.ci95
        bound = lo if higher else hi
        if not _finite(bound):
            return None, threshold, None, "the delta has no confidence interval"
        ok = bound >= -margin if higher else bound <= margin
        side = "lower" if higher else "upper"
        return bound, threshold, ok, f"{change}; 95% CI [{_fmt(lo)}, {_fmt(hi)}]: {side} bound " + \
            ("within" if ok else "beyond") + f" the allowed drop {margin:.4g}"
    if stat.too_few_items:
        return None, threshold, None, f"too few items for the paired test (n={n})"
    p = stat.p_holm
    significant = (p is not None and p < check.alpha) if check.alpha is not None else stat.significant
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

def baseline_model(baseline: Results, model: str, n_models: int) -> str | None:
    """The baseline's model paired with ``model``: the same name, or the only one on each side."""
    models = baseline.models
    if model in models:
        return model
    if len(models) == 1 and n_models == 1:
        return next(iter(models))
    return None


def _reports(target: Target, name: str) -> bool:
    return target.entry is None or name in _metrics(target.entry)


def evaluate_rule(rule: Rule, results: Results, baseline: Results | None = None,
                  comparison: Comparison | None = None) -> list[Outcome]:
    """One outcome per target and metric. A glob over tasks or probes selects those that report the
    metric (``task: "*"``, ``metric: accuracy`` leaves out generation tasks); a literal task or probe
    that does not report it reads not measured, and so does a glob that leaves nothing."""
    n_models = len(results.models)
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


def _evaluate_one(rule: Rule, target: Target, name: str, results: Results, baseline: Results | None,
                  comparison: Comparison | None, n_models: int) -> Outcome:
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
        if comparison is None:
            return _not_measured(rule, label, threshold, "no baseline given (--baseline RUN_DIR, results.json or NAME)")
        entry = comparison.entry_for(target.model, results.run.id, n_models)
        group = (entry.tasks if target.scope == "task" else entry.probes) if entry is not None else {}
        stat = group.get(target.piece, {}).get(name) if entry is not None else None
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
    base_info = baseline.models.get(paired) if paired else None
    if base_info is None:
        return _not_measured(rule, label, threshold, f"the baseline has no model {target.model!r}")
    base_entry = base_info if target.scope == "model" else _pieces(base_info, target.scope).get(target.piece)
    if base_entry is None:
        return _not_measured(rule, label, threshold, f"the baseline's model {paired!r} has no {target.scope} {target.piece!r}")
    pct, ok, reason = judge_change(check, read_energy(base_entry, name), reading)
    if ok is None:
        return _not_measured(rule, label, threshold, reason)
    return Outcome(rule.name, label, pct, threshold, "pass" if ok else "fail", reason)


def evaluate(policy: Policy, results: Results | dict, baseline: Results | dict | None = None,
             comparison: Comparison | dict | None = None) -> list[Outcome]:
    """The run's status, then every rule on every target it selects, in policy order."""
    results = as_results(results)
    baseline = as_results(baseline) if baseline is not None else None
    if comparison is not None and not isinstance(comparison, Comparison):
        comparison = Comparison.model_validate(comparison)
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


def gate_record(policy: Policy, outcomes: list[Outcome], baseline_id: str | None, evaluated: str) -> GateVerdict:
    """results.json "gate" (harness.results.verdict); the terminal table, JUnit and Markdown are made from it."""
    return GateVerdict.model_validate(
        {"verdict": gate_verdict(outcomes), "policy": policy.source, "policy_sha256": policy.sha256,
         "baseline": baseline_id, "evaluated": evaluated, "counts": counts(outcomes),
         "rules": [{**o.to_json(), "reason": short(o.reason)} for o in outcomes]})
