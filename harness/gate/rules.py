"""Evaluating a gate policy on a run's results (pure functions: the typed results of harness.results
and the policy's dataclasses in, outcomes out; the verdict is a ``GateVerdict``).

Each rule is evaluated on every target its select matches (one outcome per rule and target); a
figure that cannot be judged (absent, not measured, too few examples, no baseline, a baseline of
another model or of other work) gets the rule's ``not_measured`` verdict, with the reason. The first
outcome is always the run's own status: an incomplete run, one with failed pieces, or one that
scored nothing does not pass a gate. Nor does a gate that judged no figure at all (every rule not
measured, whatever its ``not_measured`` says): ``anything judged`` then fails.

One function per kind of check (``JUDGES``: bounds, deviation, a metric's drop on the paired
comparison, an energy figure's change against the baseline's), each ``(rule, target, name, ctx) ->
Outcome``. A metric's baseline rule also states its power (harness.gate.power: the smallest drop its
test detects with 80% power at this n) and, when that is larger than the drop it allows, says so and
takes the rule's ``underpowered`` verdict; a ``judge: test`` rule corrects its p-values over its own
Holm family (the statistics it selects), recorded in the verdict's ``families``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Callable, Literal

from harness.gate.checks import (bounds_threshold, deviation_threshold, drop_margin, drop_threshold, family_alpha,
                                 judge_bounds, judge_deviation, judge_drop)
from harness.gate.energy import change_threshold, figure_of, judge_budget, judge_change
from harness.gate.counterpart import input_differences, paired_model
from harness.gate.policy import (BaselineChange, BaselineDrop, Bounds, Deviation, Energy, Metric, Policy, Quantity,
                                 Rule, Select, is_glob)
from harness.gate.power import CI_ALPHA, FAMILY, stat_power
from harness.gate.reading import Entry, Reading, metrics_of, names_of, read_energy, read_metric
from harness.results.comparison import Comparison, PairedStat
from harness.results.reading import as_results
from harness.results.types import ModelResult, Results
from harness.results.verdict import GateVerdict

__all__ = ["Outcome", "Target", "evaluate", "evaluate_rule", "judge_drop", "judge_change", "gate_record", "JUDGES"]

Verdict = Literal["pass", "fail", "warn", "skip"]
VERDICTS: tuple[Verdict, ...] = ("pass", "fail", "warn", "skip")
RUN_RULE = "run complete"
JUDGED_RULE = "anything judged"
NO_BASELINE = "no baseline given (--baseline RUN_DIR, results.json or NAME)"


@dataclass(frozen=True)
class Outcome:
    name: str                      # the rule's name
    target: str                    # "<model>/<task | probe:NAME | energy>/<metric>"
    value: float | None            # what the threshold is compared with
    threshold: str
    verdict: Verdict
    reason: str
    measured: bool = True          # a figure was compared with the threshold (False: not measured)
    power: dict | None = None      # a metric baseline rule's power statement (harness.gate.power.Power)

    def to_json(self) -> dict:
        out = {"name": self.name, "target": self.target, "value": self.value, "threshold": self.threshold,
               "verdict": self.verdict, "reason": self.reason, "measured": self.measured}
        if self.power is not None:
            out["power"] = self.power
        return out


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

    def what(self) -> str:
        return f"probe {self.piece!r}" if self.scope == "probe" else f"task {self.piece!r}"


@dataclass
class Context:
    """What every check may read: the run, the baseline run, their paired comparison, run.json's
    fingerprints of both (harness.compare.inputs.fingerprints), and per rule its Holm family."""
    results: Results
    baseline: Results | None = None
    comparison: Comparison | None = None
    prints: dict = field(default_factory=dict)            # this run's fingerprints
    baseline_prints: dict = field(default_factory=dict)
    family_p: dict[tuple[str, str], float] = field(default_factory=dict)    # (target label, metric) -> Holm p
    family_size: int = 0
    families: dict[str, dict] = field(default_factory=dict)                # rule name -> its family (the verdict's)


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


def _selected(rule: Rule, results: Results) -> list[tuple[Target, str]]:
    """Every (target, metric or figure name) the rule judges. A glob over tasks or probes selects those
    that report the metric (``task: "*"``, ``metric: accuracy`` leaves out generation tasks); a literal
    task or probe that does not report it reads not measured, and so does a glob that leaves nothing."""
    pattern = rule.select.task if rule.select.scope == "task" else rule.select.probe
    out = []
    for target in targets(rule.select, results):
        names = metric_names(target, rule.quantity) if isinstance(rule.quantity, Metric) else [rule.quantity.name]
        for name in names:
            if isinstance(rule.quantity, Metric) and pattern is not None and is_glob(pattern) and \
                    target.entry is not None and name not in metrics_of(target.entry):
                continue
            out.append((target, name))
    if not out:
        out.append((Target(rule.select.model, rule.select.scope, pattern, None,
                           f"no {rule.select.scope} matching {rule.select.describe()} reports metric "
                           f"{rule.quantity.name!r}"), rule.quantity.name))
    return out


def metric_names(target: Target, quantity: Metric) -> list[str]:
    """The metrics of ``target`` a (possibly glob) metric name selects (harness.gate.reading.names_of)."""
    return names_of(target.entry, quantity)


# --- the checks, one function per kind ---------------------------------------------------------------

def _not_measured(rule: Rule, label: str, threshold: str, reason: str, value: float | None = None,
                  power: dict | None = None) -> Outcome:
    return Outcome(rule.name, label, value, threshold, rule.not_measured, f"not measured: {reason}", measured=False,
                   power=power)


def _too_few(rule: Rule, n: int | None) -> str | None:
    if rule.min_n and (n is None or n < rule.min_n):
        return f"{'an unknown number of' if n is None else f'only {n}'} examples; the rule needs at least {rule.min_n}"
    return None


def _reading(rule: Rule, target: Target, name: str) -> Reading:
    if isinstance(rule.quantity, Metric):
        return read_metric(target.entry, name, target.what())
    return read_energy(target.entry, name)


def _passed(ok: bool) -> Verdict:
    return "pass" if ok else "fail"


def _judged(rule: Rule, label: str, threshold: str, reading: Reading, judge) -> Outcome:
    """Bounds and deviation: the figure itself against the check; ``judge(value)`` gives
    (the value shown, verdict, reason)."""
    if reading.value is None:
        return _not_measured(rule, label, threshold, reading.reason)
    few = _too_few(rule, reading.n)
    if few:
        return _not_measured(rule, label, threshold, few, reading.value)
    value, verdict, reason = judge(reading.value)
    return Outcome(rule.name, label, value, threshold, verdict, reason)


def judge_bounds_target(rule: Rule, target: Target, name: str, ctx: Context) -> Outcome:
    check: Bounds = rule.check      # type: ignore[assignment]

    def judge(v: float):
        if isinstance(rule.quantity, Energy):       # an energy budget: judged on its interval (harness.gate.energy)
            return (v, *judge_budget(check, figure_of(target.entry, name)))
        ok, reason = judge_bounds(check, v)
        return v, _passed(ok), reason
    return _judged(rule, target.label(rule.quantity, name), bounds_threshold(check), _reading(rule, target, name), judge)


def judge_deviation_target(rule: Rule, target: Target, name: str, ctx: Context) -> Outcome:
    check: Deviation = rule.check   # type: ignore[assignment]

    def judge(v: float):
        deviation, ok, reason = judge_deviation(check, v)
        return deviation, _passed(ok), reason
    return _judged(rule, target.label(rule.quantity, name), deviation_threshold(check), _reading(rule, target, name),
                   judge)


def baseline_entry(target: Target, ctx: Context, figure: str) -> tuple[Entry | None, str]:
    """The baseline's counterpart of ``target`` for an energy figure, or (None, why not)."""
    if ctx.baseline is None:
        return None, NO_BASELINE
    paired, why = paired_model(ctx.baseline, ctx.results, target.model)
    if paired is None:
        return None, why
    base_model = ctx.baseline.models[paired]
    base_entry = base_model if target.scope == "model" else _pieces(base_model, target.scope).get(target.piece)
    if base_entry is None:
        return None, f"the baseline's model {paired!r} has no {target.scope} {target.piece!r}"
    differs = input_differences(target.scope, target.piece, figure, base_model, ctx.results.models[target.model],
                                ctx.baseline_prints, ctx.prints)
    return (None, differs) if differs else (base_entry, "")


def judge_energy_change_target(rule: Rule, target: Target, name: str, ctx: Context) -> Outcome:
    """An energy figure against the same figure of the baseline run: beyond the margin and significant on
    the repeats (Welch) fails; beyond but not significant warns (harness.gate.energy)."""
    check: BaselineChange = rule.check      # type: ignore[assignment]
    label, threshold = target.label(rule.quantity, name), change_threshold(check)
    reading = read_energy(target.entry, name)
    if reading.value is None:
        return _not_measured(rule, label, threshold, reading.reason)
    few = _too_few(rule, reading.n)
    if few:
        return _not_measured(rule, label, threshold, few, reading.value)
    base_entry, why = baseline_entry(target, ctx, name)
    if base_entry is None:
        return _not_measured(rule, label, threshold, why)
    pct, verdict, reason = judge_change(check, figure_of(base_entry, name), figure_of(target.entry, name),
                                        read_energy(base_entry, name).reason)
    if verdict is None:
        return _not_measured(rule, label, threshold, reason)
    return Outcome(rule.name, label, pct, threshold, verdict, reason)


def paired_stat_of(target: Target, name: str, ctx: Context) -> tuple[PairedStat | None, str]:
    """The comparison's statistic for ``target``'s metric ``name``, or (None, why not)."""
    if ctx.comparison is None:
        return None, NO_BASELINE
    if ctx.baseline is not None:
        paired, why = paired_model(ctx.baseline, ctx.results, target.model)
        if paired is None:
            return None, why
    entry = ctx.comparison.entry_for(target.model, ctx.results.run.id, len(ctx.results.models))
    if entry is None:
        return None, f"the comparison pairs no baseline model with {target.model!r}"
    stat = (entry.tasks if target.scope == "task" else entry.probes).get(target.piece, {}).get(name)
    if stat is None:
        return None, f"the comparison has no paired {name!r} for {target.scope} {target.piece!r}"
    return stat, ""


def judge_metric_drop_target(rule: Rule, target: Target, name: str, ctx: Context) -> Outcome:
    """A metric's drop on the paired comparison (judge ci or test), with the rule's power statement."""
    check: BaselineDrop = rule.check        # type: ignore[assignment]
    label = target.label(rule.quantity, name)
    stat, why = paired_stat_of(target, name, ctx)
    if stat is None:
        return _not_measured(rule, label, drop_threshold(check), why)
    family_p = ctx.family_p.get((label, name)) if check.judge == "test" else None
    value, threshold, ok, reason = judge_drop(check, stat, rule.min_n, p_holm=family_p)
    margin = drop_margin(check, stat.baseline)
    level = CI_ALPHA if check.judge == "ci" else family_alpha(check) / max(ctx.family_size, 1)
    power = stat_power(stat, level, margin) if stat.measured else None
    if ok is None:
        return _not_measured(rule, label, threshold, reason, power=power.to_json() if power else None)
    verdict: Verdict = "pass" if ok else "fail"
    if power is not None and power.detectable is False:
        if verdict == "fail":
            reason += f"; note: this rule cannot detect its own max_drop {margin:.4g} ({power.text()})"
        else:
            said = "a model with no drop would pass less than 80% of the time" if check.judge == "ci" else \
                "a pass is no evidence that the drop is smaller"
            reason += f"; cannot detect its own max_drop {margin:.4g}: {power.text()}; {said}"
            if check.underpowered != "ignore":
                verdict = check.underpowered        # type: ignore[assignment]
    return Outcome(rule.name, label, value, threshold, verdict, reason, power=power.to_json() if power else None)


JUDGES: dict[type, Callable[[Rule, Target, str, Context], Outcome]] = {
    Bounds: judge_bounds_target,
    Deviation: judge_deviation_target,
    BaselineChange: judge_energy_change_target,
    BaselineDrop: judge_metric_drop_target,
}


# --- a rule on its targets ---------------------------------------------------------------------------

def _threshold(rule: Rule) -> str:
    check = rule.check
    return (bounds_threshold(check) if isinstance(check, Bounds) else deviation_threshold(check)
            if isinstance(check, Deviation) else change_threshold(check) if isinstance(check, BaselineChange)
            else drop_threshold(check))


def holm_family(rule: Rule, selected: list[tuple[Target, str]], ctx: Context) -> None:
    """A ``judge: test`` rule's Holm family: the p-values of the statistics it selects (into ``ctx``)."""
    from harness.probes.stats import holm
    ctx.family_p, ctx.family_size = {}, 0
    if not (isinstance(rule.check, BaselineDrop) and rule.check.judge == "test"):
        return
    found = {}
    for target, name in selected:
        if target.entry is None:
            continue
        stat, _ = paired_stat_of(target, name, ctx)
        if stat is not None and stat.measured and stat.p_value is not None:
            found[(target.label(rule.quantity, name), name)] = stat.p_value
    ctx.family_p, ctx.family_size = holm(found) if found else {}, len(found)
    ctx.families[rule.name] = {"size": len(found), "alpha": family_alpha(rule.check), "definition": FAMILY,
                               "members": [label for label, _ in found]}


def evaluate_rule(rule: Rule, results: Results, baseline: Results | None = None,
                  comparison: Comparison | None = None, ctx: Context | None = None) -> list[Outcome]:
    """One outcome per target and metric (see ``_selected``)."""
    ctx = ctx or Context(results, baseline, comparison)
    selected = _selected(rule, results)
    holm_family(rule, selected, ctx)
    out = []
    for target, name in selected:
        if target.entry is None:
            out.append(_not_measured(rule, target.label(rule.quantity, name), _threshold(rule), target.missing))
        else:
            out.append(JUDGES[type(rule.check)](rule, target, name, ctx))
    return out


def evaluate(policy: Policy, results: Results | dict, baseline: Results | dict | None = None,
             comparison: Comparison | dict | None = None, fingerprints: tuple[dict, dict] = ({}, {}),
             families: dict[str, dict] | None = None) -> list[Outcome]:
    """The run's status, then every rule on every target it selects, in policy order, then
    ``anything judged`` when no rule judged a figure. ``fingerprints``: run.json's of (this run, the
    baseline). ``families``, when given, receives each ``judge: test`` rule's Holm family."""
    results = as_results(results)
    baseline = as_results(baseline) if baseline is not None else None
    if comparison is not None and not isinstance(comparison, Comparison):
        comparison = Comparison.model_validate(comparison)
    ctx = Context(results, baseline, comparison, fingerprints[0] or {}, fingerprints[1] or {})
    out = [run_outcome(results, policy.allow_errors)]
    for rule in policy.rules:
        out.extend(evaluate_rule(rule, results, baseline, comparison, ctx))
    if families is not None:
        families.update(ctx.families)
    if not any(o.measured for o in out[1:]):        # a gate that judged no figure is not a pass
        first = out[1] if len(out) > 1 else None
        tally = ", ".join(f"{sum(o.verdict == v for o in out[1:])} {w}" for v, w in
                          (("fail", "failed"), ("warn", "warned"), ("skip", "skipped")))
        out.append(Outcome(JUDGED_RULE, "policy", None, "at least one rule judged", "fail",
                           f"nothing judged: every rule read not measured ({tally}; first: "
                           f"{first.name if first else '-'}: {first.reason if first else 'the policy has no rule'}); "
                           "a gate that judged no figure does not pass", measured=False))
    return out


def counts(outcomes: list[Outcome]) -> dict[str, int]:
    return {v: sum(o.verdict == v for o in outcomes) for v in VERDICTS}


def gate_verdict(outcomes: list[Outcome]) -> Literal["pass", "fail"]:
    return "fail" if any(o.verdict == "fail" for o in outcomes) else "pass"


REASON_CHARS = 1000      # a reason quotes run text (a model's error message): the verdict stays readable


def short(text: str, limit: int = REASON_CHARS) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text) - limit} more characters)"


def gate_record(policy: Policy, outcomes: list[Outcome], baseline_id: str | None, evaluated: str,
                families: dict[str, dict] | None = None) -> GateVerdict:
    """results.json "gate" (harness.results.verdict); the terminal table, JUnit and Markdown are made from it."""
    record = {"verdict": gate_verdict(outcomes), "policy": policy.source, "policy_sha256": policy.sha256,
              "baseline": baseline_id, "evaluated": evaluated, "counts": counts(outcomes),
              "rules": [{**o.to_json(), "reason": short(o.reason)} for o in outcomes]}
    if families:
        record["families"] = families
    return GateVerdict.model_validate(record)
