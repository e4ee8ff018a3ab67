"""Energy rules judged with their uncertainty (harness.gate.rules hands its `energy:` checks here).

An energy figure measured over repeats (`harness run --repeats N`, harness.protocol) is the mean of
N per-repeat values (``per_repeat``) with the 95% interval of that mean (``ci95``). The gate uses
them:

* **Against a baseline run** (``baseline: {max_increase_pct: M, alpha: A}``, or ``max_drop_pct``
  for a figure where more is better): the rule fails only when the change is worse than M percent
  AND significant at level A (default 0.05): Welch's t-test on the two runs' repeats, one-sided in
  the worse direction (Welch, since the two runs' spreads differ when the machine's load does). A
  change beyond M that is not significant is a warning; a significant change within M passes.
* **An absolute budget** (``max``, or ``min`` for a figure where more is better) is judged on the
  interval: fail when its lower bound is over a ``max`` (the whole interval is), warn when only
  its upper bound is, pass when the interval is within (mirrored for ``min``).
* **Without a spread** (one repeat on either side, or a figure that is not a mean over repeats,
  such as total J): the point value is judged alone, as a single measurement can only be, and the
  reason says that it was judged without a spread and how to get one (``--repeats N``).

Figures from different meters (e.g. ``estimated`` against ``nvml_energy_counter``) are never
compared: that would measure the meters, not the model. Measured on the synthetic NVML with 3%
run-to-run noise (tests/test_gate_energy.py): a planted +10% increase fails a 5% rule in every one
of 40 seeds at 5 repeats a side; with no change, 0 of 40 seeds fail (README, "Energy you can gate").
"""
from __future__ import annotations

import math
from typing import Literal

from harness.gate.policy import BaselineChange, Bounds
from harness.results.values import Figure

Verdict = Literal["pass", "fail", "warn"]
NO_SPREAD = "judged without a spread: {why} (harness run --repeats N measures N repeats and an interval)"


def figure_of(entry, name: str) -> Figure | None:
    """The energy figure ``name`` of a task, probe or model result (None when it has none)."""
    energy = getattr(entry, "energy", None)
    return energy.figure(name) if energy is not None else None


def _fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.4g}"


def _repeats(figure: Figure) -> list[float]:
    values = figure.per_repeat or []
    return [float(v) for v in values] if len(values) >= 2 else []


def welch_p(base: list[float], other: list[float], higher_is_worse: bool = True) -> float:
    """One-sided p-value of Welch's t-test that ``other``'s mean is worse than ``base``'s (higher,
    or lower when ``higher_is_worse`` is False). Two runs without any spread: 0 when the means
    differ the worse way, else 1."""
    if not higher_is_worse:
        base, other = [-v for v in base], [-v for v in other]
    if max(base) == min(base) and max(other) == min(other):
        return 0.0 if sum(other) / len(other) > sum(base) / len(base) else 1.0
    from scipy.stats import ttest_ind
    p = float(ttest_ind(other, base, equal_var=False, alternative="greater").pvalue)
    return p if math.isfinite(p) else 1.0


def change_threshold(check: BaselineChange) -> str:
    word = "drop" if check.higher_is_better else "increase"
    return f"{word} <= {check.max_pct:g}% over baseline, or not significant (Welch p >= {check.alpha:g} on the repeats)"


def judge_change(check: BaselineChange, base: Figure | None, other: Figure,
                 base_missing: str) -> tuple[float | None, Verdict | None, str]:
    """(percent change, verdict, reason) for an energy figure against the baseline run's; verdict
    None: not measured (the reason says why)."""
    if base is None or base.value is None:
        return None, None, f"the baseline's figure is not measured: {base.reason if base is not None else base_missing}"
    if base.source != other.source:
        return None, None, f"the figures come from different meters (baseline {base.source}, this run {other.source}); " \
                           "comparing them would measure the meters, not the model"
    if base.value == 0:
        return None, None, "the baseline's figure is 0"
    pct = 100 * (float(other.value) - float(base.value)) / abs(float(base.value))
    worse = -pct if check.higher_is_better else pct
    beyond = worse > check.max_pct
    word = "drop" if check.higher_is_better else "increase"
    change = f"{_fmt(base.value)} → {_fmt(other.value)} ({pct:+.1f}%; {other.source})"
    margin = f"the allowed {check.max_pct:g}% {word}"
    a, b = _repeats(base), _repeats(other)
    if not a or not b:
        who = " and ".join(side for side, values in (("the baseline", a), ("this run", b)) if not values)
        why = NO_SPREAD.format(why=f"{who} measured one repeat")
        return pct, "fail" if beyond else "pass", f"{change}: {'more than' if beyond else 'within'} {margin}; {why}"
    p = welch_p(a, b, higher_is_worse=not check.higher_is_better)
    significant = p < check.alpha
    test = f"Welch p {p:.3g} on {len(a)} and {len(b)} repeats ({'significant' if significant else 'not significant'} " \
           f"at {check.alpha:g})"
    if beyond and significant:
        return pct, "fail", f"{change}: more than {margin}, {test}"
    if beyond:
        return pct, "warn", f"{change}: more than {margin} but {test}: the repeats' spread could explain it"
    return pct, "pass", f"{change}: within {margin}; {test}"


def judge_budget(check: Bounds, figure: Figure) -> tuple[Verdict, str]:
    """An absolute floor or ceiling on an energy figure, judged on its 95% interval across repeats."""
    value = float(figure.value)
    interval = figure.interval
    if interval is None:
        over = (check.max is not None and value > check.max) or (check.min is not None and value < check.min)
        where = f"above the ceiling {check.max:g}" if check.max is not None and value > check.max else \
            f"below the floor {check.min:g}" if over else "within the budget"
        why = NO_SPREAD.format(why="one measured pass")
        return ("fail" if over else "pass"), f"{_fmt(value)} ({figure.source}) is {where}; {why}"
    lo, hi = interval
    shown = f"{_fmt(value)} [{_fmt(lo)}, {_fmt(hi)}] over {figure.repeats} repeats ({figure.source})"
    if check.max is not None and lo > check.max:
        return "fail", f"{shown}: the whole interval is above the ceiling {check.max:g}"
    if check.min is not None and hi < check.min:
        return "fail", f"{shown}: the whole interval is below the floor {check.min:g}"
    if check.max is not None and hi > check.max:
        return "warn", f"{shown}: the interval's upper bound is above the ceiling {check.max:g}"
    if check.min is not None and lo < check.min:
        return "warn", f"{shown}: the interval's lower bound is below the floor {check.min:g}"
    return "pass", f"{shown}: the interval is within the budget"
