"""Pairing two models' records item by item (pure).

An item is (task, id, sha256(input), sha256(reference)): two records pair when they answer the
same id of the same task with the same exact input (for multiple choice: the prompt and the
choices) and the same reference. The "reference" is the
record's own ``reference`` except where a probe stores a model-dependent one (the counterfactual
probe stores the model's original answer there; its item is the original input, see
``harness.compare.probes``). Items that one model has and the other lacks, or that share an id but
not their input or reference, make the two sets differ: ``refuse_differences`` says so on one
line, unless the comparison is asked for on the intersection.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from harness.errors import HarnessError

PAIRING_KEY = "task, id, sha256(input), sha256(reference)"


def digest(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def item_key(record: dict, reference: Any) -> tuple[str, str, str, str]:
    """A multiple-choice item's exact input is its prompt and its choices (a distractor edited
    between two runs makes another item, though the prompt reads the same)."""
    shown = record.get("input", "")
    choices = (record.get("details") or {}).get("choices")
    return record["task"], str(record["id"]), digest(shown if choices is None else [shown, choices]), digest(reference)


@dataclass(frozen=True)
class TaskPairing:
    """One task's (or probe's) paired records, in the baseline's item order."""
    task: str
    baseline: tuple[dict, ...]
    other: tuple[dict, ...]
    only_baseline: int = 0        # ids the other model lacks
    only_other: int = 0           # ids the baseline lacks
    changed: int = 0              # ids both have, with a different input or reference

    @property
    def n(self) -> int:
        return len(self.baseline)

    @property
    def dropped(self) -> int:
        return self.only_baseline + self.only_other + self.changed     # ids left out of the comparison

    @property
    def differs(self) -> bool:
        return bool(self.only_baseline or self.only_other or self.changed)


@dataclass(frozen=True)
class Pairing:
    tasks: dict[str, TaskPairing]        # tasks both models have records for
    only_baseline: tuple[str, ...]       # tasks only the baseline ran
    only_other: tuple[str, ...]

    def differing(self) -> list[TaskPairing]:
        return [p for p in self.tasks.values() if p.differs]


def by_task(records: Iterable[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in records:
        out.setdefault(r["task"], []).append(r)
    return out


def pair(baseline: Sequence[dict], other: Sequence[dict], reference_of: Callable[[dict], Any]) -> Pairing:
    """Pairs two models' records (each model's own, of any tasks) by item key."""
    mine, theirs = by_task(baseline), by_task(other)
    tasks = {}
    for task in sorted(set(mine) & set(theirs)):
        keyed_b = {str(r["id"]): r for r in mine[task]}
        keyed_o = {str(r["id"]): r for r in theirs[task]}
        both = set(keyed_b) & set(keyed_o)
        same = {i for i in both if item_key(keyed_b[i], reference_of(keyed_b[i])) == item_key(keyed_o[i], reference_of(keyed_o[i]))}
        order = sorted(same, key=lambda i: (keyed_b[i].get("index", 0), i))
        tasks[task] = TaskPairing(task, tuple(keyed_b[i] for i in order), tuple(keyed_o[i] for i in order),
                                  only_baseline=len(set(keyed_b) - both), only_other=len(set(keyed_o) - both),
                                  changed=len(both - same))
    return Pairing(tasks, tuple(sorted(set(mine) - set(theirs))), tuple(sorted(set(theirs) - set(mine))))


def describe(p: TaskPairing, baseline: str, other: str) -> str:
    parts = []
    if p.only_baseline:
        parts.append(f"{p.only_baseline} only in {baseline}")
    if p.only_other:
        parts.append(f"{p.only_other} only in {other}")
    if p.changed:
        parts.append(f"{p.changed} with the same id but a different input or reference")
    return f"{p.task}: {', '.join(parts)}"


def refuse_differences(pairing: Pairing, baseline: str, other: str) -> None:
    """One line naming how the two models' items differ, with the way out."""
    differing = pairing.differing()
    if not differing:
        return
    shared = sum(p.n for p in pairing.tasks.values())
    details = "; ".join(describe(p, baseline, other) for p in differing[:3])
    more = f"; and {len(differing) - 3} more tasks" if len(differing) > 3 else ""
    raise HarnessError(f"{baseline} and {other} were not run on the same items ({details}{more})",
                       f"compare runs made with the same tasks, --limit, --probe-limit and seed, or pass "
                       f"--intersection to compare the {shared} items they share")
