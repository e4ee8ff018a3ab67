"""The quality floor of `harness tune`: every metric of every selected task non-inferior to the full
model at the margin, judged exactly as the gate judges a ``baseline: {max_drop: M, judge: ci}`` rule.

The trial's run is paired with the full model's run item by item by harness.compare (``compare_runs``)
and each metric's PairedStat goes through harness.gate.rules.judge_drop: the delta's 95% CI bound on
the worse side must lie within the margin. A metric the comparison could not measure fails the floor.

The sequential test (``clearly_fails``) stops a trial early on a prefix of the items: it fails when a
metric's whole 95% interval already lies beyond the margin (its better-side bound is worse than
-margin), a one-sided 2.5% error per look. With K looks before the full measurement, a trial exactly
at the margin is pruned wrongly with probability at most K x 2.5% (Bonferroni over the looks);
harness.tune uses one look at half the items by default.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.gate.policy import BaselineDrop
from harness.gate.rules import judge_drop


@dataclass(frozen=True)
class MetricFloor:
    task: str
    metric: str
    baseline: float | None       # the full model's value on the paired items
    value: float | None          # the trial's
    delta: float | None
    ci95: tuple[float | None, float | None]
    n: int
    passed: bool                 # non-inferior at the margin (judge_drop's verdict; not measured: False)
    clearly_fails: bool          # the whole interval is beyond the margin
    reason: str
    higher_is_better: bool = True

    @property
    def slack(self) -> float | None:
        """How far the worse-side CI bound is inside the margin (negative: beyond it); Optuna's
        constraint is its negation (<= 0: feasible)."""
        lo, hi = self.ci95
        bound = lo if self.higher_is_better else hi
        return None if bound is None else (bound if self.higher_is_better else -bound)

    def to_json(self) -> dict:
        return {"task": self.task, "metric": self.metric, "baseline": self.baseline, "value": self.value,
                "delta": self.delta, "ci95": list(self.ci95), "n": self.n, "passed": self.passed, "reason": self.reason}


@dataclass(frozen=True)
class Floor:
    margin: float
    metrics: tuple[MetricFloor, ...]

    @property
    def passed(self) -> bool:
        return bool(self.metrics) and all(m.passed for m in self.metrics)

    @property
    def clearly_fails(self) -> bool:
        return any(m.clearly_fails for m in self.metrics)

    def constraint(self) -> float:
        """<= 0 when every metric is non-inferior: the largest amount by which a worse-side bound
        passes -margin (a metric not measured counts as 1, infeasible)."""
        worst = [1.0 if not m.passed and m.slack is None else -(m.slack + self.margin) for m in self.metrics]
        return max(worst, default=1.0)

    def to_json(self) -> dict:
        return {"margin": self.margin, "passed": self.passed, "metrics": [m.to_json() for m in self.metrics]}


def judge(full_run: Path, trial_run: Path, tasks: tuple[str, ...], margin: float, *, prefix: bool = False) -> Floor:
    """The floor of ``trial_run`` against ``full_run`` on ``tasks``. ``prefix``: the trial ran on the
    first items only, so the comparison is on the items both runs answered."""
    from harness.compare import compare_runs
    comparison = compare_runs(full_run, [trial_run], intersection=prefix)
    entry = next(iter(comparison.models.values()))
    check = BaselineDrop(max_drop=margin, judge="ci")
    out = []
    for task in tasks:
        if not entry.tasks.get(task):
            out.append(MetricFloor(task, "*", None, None, None, (None, None), 0, False, False,
                                   f"the comparison holds no metric of task {task}"))
        for metric, stat in entry.tasks.get(task, {}).items():
            _, _, ok, reason = judge_drop(check, stat)
            lo, hi = stat.ci95
            best_side = hi if stat.higher_is_better else lo
            beyond = best_side is not None and (best_side < -margin if stat.higher_is_better else best_side > margin)
            out.append(MetricFloor(task, metric, stat.baseline, stat.other, stat.delta, (lo, hi), stat.n, bool(ok),
                                   bool(beyond), reason, stat.higher_is_better))
    return Floor(margin, tuple(out))
