"""A gate verdict as a reader takes it in: failures first, a rule repeated over many targets with one
reason grouped into one row, the passes apart (the page folds them). Shared by report.html and the
terminal (`harness show`). Pure: the typed verdict (harness.results.verdict) in, plain data out."""
from __future__ import annotations

from dataclasses import dataclass

from harness.report.intervals import field
from harness.report.numbers import sig
from harness.results.verdict import GateRule, GateVerdict

ORDER = {"fail": 0, "warn": 1, "skip": 2, "pass": 3}


@dataclass(frozen=True)
class RuleGroup:
    """Rules of one name that reached one verdict for one reason (and threshold): one row."""
    name: str
    verdict: str
    threshold: str
    reason: str
    targets: tuple[str, ...]
    values: tuple[str, ...]
    notes: tuple[str, ...] = ()      # what a rule says beyond its reason: its power statement, its Holm family

    @property
    def count(self) -> int:
        return len(self.targets)


def _as_dict(value) -> dict:
    if hasattr(value, "to_json"):
        return value.to_json()
    return dict(value) if isinstance(value, dict) else {}


def power_text(power) -> str:
    """A baseline rule's power statement: "detects a drop of 0.12 or more (80% power, alpha 0.05, n 32)",
    and when its allowed drop is smaller, that it cannot detect it."""
    p = _as_dict(power)
    if not p:
        return ""
    if p.get("mde") is None:
        return f"minimum detectable effect not known: {p.get('reason') or 'no reason recorded'}"
    text = (f"detects a drop of {sig(p['mde'])} or more ({sig(100 * p.get('power', 0.8))}% power, "
            f"alpha {sig(p.get('alpha'))}, n {p.get('n')})")
    if p.get("detectable") is False:
        text += f"; the allowed drop {sig(p.get('margin'))} is below what it can detect"
    return text


def _notes(rule: GateRule, families: dict) -> tuple[str, ...]:
    """What a rule says beyond its reason: its power (a metric baseline rule) and its Holm family."""
    out = []
    power = power_text(field(rule, "power"))
    if power:
        out.append(power)
    family = _as_dict(families.get(rule.name))
    if family:
        out.append(f"Holm family: {family.get('size')} p-values ({family.get('definition') or 'the statistics the rule selects'})")
    for key in ("note", "notes"):
        value = field(rule, key)
        if value:
            out.append(", ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value))
    return tuple(out)


def rule_groups(gate: GateVerdict) -> list[RuleGroup]:
    """The rules grouped by (name, verdict, threshold, reason, notes), failures first, in policy order within."""
    groups: dict[tuple, list[GateRule]] = {}
    families = _as_dict(field(gate, "families"))
    for rule in gate.rules:
        groups.setdefault((rule.name, rule.verdict, rule.threshold, rule.reason, _notes(rule, families)), []).append(rule)
    out = [RuleGroup(name, verdict, threshold, reason, tuple(r.target for r in rules), tuple(sig(r.value) for r in rules),
                     notes)
           for (name, verdict, threshold, reason, notes), rules in groups.items()]
    return sorted(out, key=lambda g: ORDER.get(g.verdict, 4))


def counts_text(gate: GateVerdict) -> str:
    """"2 failed, 1 warned, 15 passed, 0 skipped" (rule targets)."""
    counts = dict(gate.counts) or {v: sum(r.verdict == v for r in gate.rules) for v in ORDER}
    words = {"fail": "failed", "warn": "warned", "pass": "passed", "skip": "skipped"}
    return ", ".join(f"{counts.get(v, 0)} {words[v]}" for v in ("fail", "warn", "pass", "skip"))


def terminal_lines(gate: GateVerdict) -> list[str]:
    """`harness show`: the verdict, then each failing, warning or skipped group on one line (passes counted)."""
    where = "; ".join(p for p in (f"policy {gate.policy}" if gate.policy else "",
                                  f"baseline {gate.baseline}" if gate.baseline else "",
                                  f"evaluated {gate.evaluated}" if gate.evaluated else "") if p)
    lines = [f"gate: {gate.verdict.upper()} ({counts_text(gate)} rule targets{'; ' + where if where else ''})"]
    for g in rule_groups(gate):
        if g.verdict == "pass":
            continue
        targets = ", ".join(g.targets) if g.count <= 4 else f"{', '.join(g.targets[:3])} and {g.count - 3} other targets"
        value = f" = {g.values[0]}" if g.count == 1 and g.values[0] != "—" else ""
        extra = f" [{'; '.join(g.notes)}]" if g.notes else ""
        lines.append(f"  {g.verdict.upper()} {g.name} ({g.threshold}) on {targets}{value}: {g.reason}{extra}")
    return lines
