"""The checks of a gate rule on one figure, as pure functions: absolute bounds, a deviation from a
centre, and a metric's drop against the baseline on the paired comparison (an energy figure's change
and budget: harness.gate.energy, judged with the repeats' spread). Each says what it compared in words (the verdict's threshold and reason)."""
from __future__ import annotations

from harness.finite import is_finite_number as _finite
from harness.gate.policy import BaselineDrop, Bounds, Deviation
from harness.gate.power import DEFAULT_ALPHA
from harness.results.comparison import PairedStat


def fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.4g}"


def bounds_threshold(check: Bounds) -> str:
    parts = ([f">= {check.min:g}"] if check.min is not None else []) + ([f"<= {check.max:g}"] if check.max is not None else [])
    return " and ".join(parts)


def judge_bounds(check: Bounds, value: float) -> tuple[bool, str]:
    if check.min is not None and value < check.min:
        return False, f"{fmt(value)} is below the floor {check.min:g}"
    if check.max is not None and value > check.max:
        return False, f"{fmt(value)} is above the ceiling {check.max:g}"
    return True, f"{fmt(value)} is within {bounds_threshold(check)}"


def deviation_threshold(check: Deviation) -> str:
    return f"|x - {check.center:g}| <= {check.max:g}"


def judge_deviation(check: Deviation, value: float) -> tuple[float, bool, str]:
    deviation = abs(value - check.center)
    ok = deviation <= check.max
    return deviation, ok, f"value {fmt(value)} is {fmt(deviation)} from {check.center:g} " \
                          f"({'within' if ok else 'more than'} {check.max:g})"


def drop_margin(check: BaselineDrop, baseline_value: float | None) -> float | None:
    if check.max_drop is not None:
        return check.max_drop
    if baseline_value is None or not _finite(baseline_value):
        return None
    return abs(baseline_value) * (check.max_drop_pct or 0.0) / 100


def family_alpha(check: BaselineDrop) -> float:
    """The family-wise level of a ``judge: test`` rule."""
    return check.alpha if check.alpha is not None else DEFAULT_ALPHA


def drop_threshold(check: BaselineDrop, stat: PairedStat | None = None) -> str:
    """The threshold in words; with no STAT yet (no baseline), in terms of the policy alone."""
    base = stat.baseline if stat is not None else None
    margin = drop_margin(check, base)
    pct = "" if check.max_drop_pct is None else f"{check.max_drop_pct:g}% of {fmt(base)}" \
        if margin is not None else f"{check.max_drop_pct:g}% of baseline"
    if check.judge == "ci":
        if margin is None:
            return f"delta CI within a drop of {pct}"
        side = f"lower >= {-margin:.4g}" if stat is None or stat.higher_is_better else f"upper <= {margin:.4g}"
        return f"delta CI {side}" + (f" [{pct}]" if pct else "")
    allowed = pct if margin is None else f"{margin:.4g}" + (f" [{pct}]" if pct else "")
    test = stat.test if stat is not None and "test" in stat.model_fields_set else "paired test"
    return f"no significant drop > {allowed} ({test}, Holm p < {family_alpha(check):g} over the rule's family)"


def judge_drop(check: BaselineDrop, stat: PairedStat, min_n: int = 0,
               p_holm: float | None = None) -> tuple[float | None, str, bool | None, str]:
    """(value, threshold, passed, reason) for a STAT of the paired comparison; passed None: not measured.
    ``p_holm``: the p-value adjusted over the rule's own Holm family (judge test); without it, the
    comparison's own ``p_holm``."""
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
    change = f"delta {delta:+.4g} ({fmt(stat.baseline)} → {fmt(stat.other)}, n={n})"
    if check.judge == "ci":
        lo, hi = stat.ci95
        bound = lo if higher else hi
        if not _finite(bound):
            return None, threshold, None, "the delta has no confidence interval"
        ok = bound >= -margin if higher else bound <= margin
        side = "lower" if higher else "upper"
        return bound, threshold, ok, f"{change}; 95% CI [{fmt(lo)}, {fmt(hi)}]: {side} bound " + \
            ("within" if ok else "beyond") + f" the allowed drop {margin:.4g}"
    if stat.too_few_items:
        return None, threshold, None, f"too few items for the paired test (n={n})"
    p = stat.p_holm if p_holm is None else p_holm
    significant = p is not None and p < family_alpha(check)
    drop = -delta if higher else delta
    ok = not (significant and drop > margin)
    verdict = ("a significant drop" if drop > 0 else "a significant gain") if significant else "no significant change"
    return delta, threshold, ok, f"{change}; Holm p {fmt(p)}: {verdict}" + \
        ("" if ok or not significant else f" larger than {margin:.4g}")
