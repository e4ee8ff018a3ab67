"""What a tune found (pure: points in, JSON-ready values out): the Pareto front of quality against the
objective among the configurations that pass the floor (the full model included: it passes by
definition), the best one (the least objective; ties: the better quality), its saving against the
full model with Welch's one-sided test on the repeats (harness.gate.energy.welch_p, the gate's own),
and the gate policy that holds it to its floor.
"""
from __future__ import annotations

from typing import Any

from harness.gate.energy import welch_p


def _objective(point: dict, objective: str) -> float | None:
    return point[objective].get("value")


def pareto(points: list[dict], objective: str) -> list[dict]:
    """The feasible points no other feasible point dominates (less or equal J and more or equal
    quality, one of them strictly), sorted by the objective."""
    ok = [p for p in points if p["feasible"] and _objective(p, objective) is not None and p["quality_mean"] is not None]

    def dominates(a: dict, b: dict) -> bool:
        ja, jb, qa, qb = _objective(a, objective), _objective(b, objective), a["quality_mean"], b["quality_mean"]
        return ja <= jb and qa >= qb and (ja < jb or qa > qb)
    front = [p for p in ok if not any(dominates(o, p) for o in ok if o is not p)]
    return sorted(front, key=lambda p: (_objective(p, objective), -p["quality_mean"]))


def best(front: list[dict], full: dict, objective: str) -> dict[str, Any] | None:
    """The front's point of least objective, with its saving against the full model."""
    if not front:
        return None
    chosen = front[0]
    out = dict(chosen)
    j, j_full = _objective(chosen, objective), _objective(full, objective)
    if j is not None and j_full:
        out["saving_pct"] = 100 * (j_full - j) / j_full
        mine, theirs = chosen[objective].get("per_repeat") or [], full[objective].get("per_repeat") or []
        out["saving_p"] = welch_p(mine, theirs) if len(mine) >= 2 and len(theirs) >= 2 and chosen is not full else None
        out["saving_test"] = "Welch's t on the repeats, one-sided: the full model uses more"
    out["is_full_model"] = chosen is full
    return out


def _number(x: float) -> float:
    return float(f"{x:.6g}")


def policy(chosen: dict, full: dict, margin: float) -> dict:
    """The gate policy (harness.gate.policy's format) that holds ``chosen`` to its floor: every metric
    of the selected tasks non-inferior to the full model (a baseline rule: `harness gate RUN --baseline
    FULL_RUN`), each at least the full model's value less the margin, and J/example within the upper
    end of the interval the tune measured (judged on the interval, harness.gate.energy)."""
    rules = []
    for task, metrics in chosen["quality"].items():
        for metric, value in metrics.items():
            rules.append({"name": f"{task} {metric} non-inferior to the full model (margin {margin:g})",
                          "select": {"task": task}, "metric": metric,
                          "baseline": {"max_drop": margin, "judge": "ci"}})
            base = full["quality"].get(task, {}).get(metric, {}).get("value")
            if base is not None and value.get("higher_is_better", True):
                rules.append({"name": f"{task} {metric} floor", "select": {"task": task}, "metric": metric,
                              "min": _number(base - margin)})
    energy = chosen["j_per_example"]
    top = (energy.get("ci95") or [None, None])[1] or energy.get("value")
    if top is not None:
        rules.append({"name": "J/example budget of the tuned configuration", "energy": "j_per_example",
                      "max": _number(top)})
    return {"version": 1, "rules": rules}


def _comment(text: str) -> str:
    """``text`` kept on one comment line: every line break YAML knows (\\n, \\r, U+0085, U+2028, U+2029)
    written as a visible ``\\n``, so a name cannot end the comment and add keys to the policy."""
    return "\\n".join(text.splitlines())


def policy_text(chosen: dict, full: dict, margin: float, full_run: str) -> str:
    import yaml
    head = (f"# harness tune: holds {_comment(chosen['spec'])} to its quality floor (every selected task metric "
            f"non-inferior\n# to the full model {_comment(full['spec'])} at margin {margin:g}) and to the J/example it "
            f"was measured at.\n# Run it:  {_comment(chosen['command'])}\n"
            f"# Gate it: harness gate RUN_DIR --policy tune-gate.yaml --baseline {_comment(full_run)}\n")
    return head + yaml.safe_dump(policy(chosen, full, margin), sort_keys=False, allow_unicode=True)
