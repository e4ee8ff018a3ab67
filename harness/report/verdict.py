"""A gate verdict as a reader takes it in: failures first, a rule repeated over many targets with one
reason grouped into one row, the passes apart (the page folds them). Shared by report.html and the
terminal (`harness show`). Pure: the typed verdict (harness.results.verdict) in, plain data out."""
from __future__ import annotations

from dataclasses import dataclass

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
    notes: tuple[str, ...] = ()      # what a rule says beyond its reason (e.g. a newer layout's power statement)

    @property
    def count(self) -> int:
        return len(self.targets)


NOTE_FIELDS = ("mde", "minimum_detectable_effect", "power", "family", "note", "notes")


def _notes(rule: GateRule) -> tuple[str, ...]:
    out = []
    for key in NOTE_FIELDS:
        value = rule.extra(key)
        if value is None or value == "" or value == []:
            continue
        if isinstance(value, (list, tuple)):
            value = ", ".join(map(str, value))
        elif isinstance(value, float):
            value = sig(value)
        elif isinstance(value, dict):
            value = "; ".join(f"{k} {sig(v) if isinstance(v, float) else v}" for k, v in value.items())
        out.append(f"{key.replace('_', ' ')}: {value}")
    return tuple(out)


def rule_groups(gate: GateVerdict) -> list[RuleGroup]:
    """The rules grouped by (name, verdict, threshold, reason, notes), failures first, in policy order within."""
    groups: dict[tuple, list[GateRule]] = {}
    for rule in gate.rules:
        groups.setdefault((rule.name, rule.verdict, rule.threshold, rule.reason, _notes(rule)), []).append(rule)
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
