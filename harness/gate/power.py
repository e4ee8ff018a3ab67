"""What a baseline rule can see: the minimum detectable effect (MDE) of its paired test, and the Holm
family its p-values are corrected over (pure functions).

**Minimum detectable effect.** The smallest true drop that the rule's paired test detects with 80%
power at the rule's level and this n (two-sided), in the metric's units:

* 0/1 outcomes (accuracy, exact match, a probe's pass/fail items; McNemar's test): Connor's
  sample-size formula for paired proportions, solved for the difference δ,
  ``n = [z(1-α/2)·√ψ + z(power)·√(ψ - δ²)]² / δ²`` (R. J. Connor, "Sample size for testing
  differences in proportions for the paired-sample design", Biometrics 43 (1987) 207-211), where ψ
  is the discordant rate: the observed (b + c) / n, and at least δ (a drop of δ flips at least a δ
  share of the items; with no discordant pair observed this is the best case). The exact test adds
  a floor: it cannot reject on fewer than ``k_min`` one-way discordant pairs (2·0.5^k < α), so δ is
  at least k_min / n. δ is then scaled to the metric's units (×100 for a percentage).
* Corpus metrics and means (BLEU, chrF, F1, probe means; the paired bootstrap):
  ``(z(1-α/2) + z(power)) · SD``, with SD the standard deviation of the paired bootstrap replicates
  of the delta (H. S. Bloom, "Minimum detectable effects", Evaluation Review 19 (1995) 547-556).
  Where the replicates have no spread (identical per-item statistics), SD is planned as √2 times the
  baseline's own bootstrap SD (as for uncorrelated outputs). The bootstrap's smallest p-value is
  1/(resamples + 1): at a level below it no drop is detectable.

The level α is, for ``judge: test``, the rule's alpha (0.05 by default) divided by its Holm family's
size (what the smallest p-value of the family is held to); for ``judge: ci``, 0.05 (the 95%
interval's bound: the same number is then the smallest margin within which a model with no drop
shows non-inferiority with 80% probability).

**Holm family.** A ``judge: test`` rule's p-values are corrected over the statistics that rule
selects (its models × tasks or probes × metrics that have a p-value) and nothing else, so adding an
unrelated metric, task or model to the run never weakens the rule.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

from harness.finite import is_finite_number
from harness.results.comparison import PairedStat

POWER = 0.8
CI_ALPHA = 0.05                 # the comparison's intervals are 95%
DEFAULT_ALPHA = 0.05
FAMILY = "the statistics this rule selects (its models × tasks or probes × metrics with a p-value), nothing else"


def _z(p: float) -> float:
    return NormalDist().inv_cdf(p)


def exact_min_discordant(alpha: float) -> int:
    """The fewest one-way discordant pairs for which McNemar's exact test gives p < alpha (2·0.5^k < alpha)."""
    return math.floor(math.log2(2 / alpha)) + 1 if alpha > 0 else math.inf   # type: ignore[return-value]


def mde_mcnemar(n: int, discordant_rate: float, alpha: float, power: float = POWER) -> float | None:
    """The smallest difference in proportions δ that McNemar's test detects with ``power`` (Connor 1987,
    ψ = max(observed discordant rate, δ)), at least the exact test's floor; None: no δ ≤ 1 is detectable."""
    if n <= 0 or not 0 < alpha < 1:
        return None
    za, zb = _z(1 - alpha / 2), _z(power)

    def needed(d: float) -> float:
        psi = max(discordant_rate, d)
        return (za * math.sqrt(psi) + zb * math.sqrt(max(psi - d * d, 0.0))) ** 2 / (d * d)
    if needed(1.0) > n:
        return None
    low, high = 0.0, 1.0
    for _ in range(60):
        mid = (low + high) / 2
        if mid > 0 and needed(mid) <= n:
            high = mid
        else:
            low = mid
    delta = max(high, exact_min_discordant(alpha) / n)
    return delta if delta <= 1 else None


def mde_normal(sd: float, alpha: float, power: float = POWER) -> float:
    """(z(1-α/2) + z(power)) · SD: the smallest shift a two-sided normal test detects with ``power``."""
    return (_z(1 - alpha / 2) + _z(power)) * sd


@dataclass(frozen=True)
class Power:
    """The rule's power statement on one target (results.json gate.rules[].power)."""
    n: int
    alpha: float
    method: str
    mde: float | None = None          # metric units; None: see reason
    margin: float | None = None       # the rule's allowed drop, metric units
    reason: str = ""
    power: float = POWER

    @property
    def detectable(self) -> bool | None:
        """Whether the rule can detect its own allowed drop (None: not known)."""
        if self.margin is None or (self.mde is None and not self.reason.startswith("no drop")):
            return None
        return self.mde is not None and self.margin >= self.mde

    def to_json(self) -> dict:
        out = {"n": self.n, "power": self.power, "alpha": self.alpha, "method": self.method, "mde": self.mde,
               "margin": self.margin, "detectable": self.detectable}
        if self.reason:
            out["reason"] = self.reason
        return out

    def text(self) -> str:
        if self.mde is None:
            return f"power: {self.reason or 'not known'} (n={self.n})"
        return f"detects a drop of {self.mde:.4g} with 80% power at n={self.n} (α {self.alpha:.3g}; {self.method})"


def stat_power(stat: PairedStat, alpha: float, margin: float | None) -> Power:
    """The power statement for one paired statistic at level ``alpha`` (two-sided)."""
    n = stat.n
    if stat.discordant is not None and stat.scale is not None:       # 0/1 outcomes: McNemar
        b, c = stat.discordant.baseline_only, stat.discordant.other_only
        rate = (b + c) / n if n else 0.0
        method = f"McNemar, discordant rate {rate:.3g} (Connor 1987)"
        delta = mde_mcnemar(n, rate, alpha)
        if delta is None:
            floor = exact_min_discordant(alpha)
            return Power(n, alpha, method, None, margin, f"no drop is detectable: the exact test needs at least {floor} "
                                                          f"one-way discordant pairs at α {alpha:.3g}")
        return Power(n, alpha, method, delta * float(stat.scale), margin)
    resamples = stat.resamples
    if resamples and 1 / (resamples + 1) >= alpha:
        return Power(n, alpha, f"paired bootstrap, {resamples} resamples", None, margin,
                     f"no drop is detectable: the bootstrap's smallest p-value 1/{resamples + 1} is not below α {alpha:.3g}")
    sd, planned = stat.sd_delta, ""
    if not (is_finite_number(sd) and sd > 0):
        base = stat.sd_baseline
        if not (is_finite_number(base) and base > 0):
            return Power(n, alpha, "paired bootstrap", None, margin,
                         "not estimable: neither the paired difference nor the baseline has any spread on these items")
        sd, planned = math.sqrt(2) * base, " (no paired spread: √2 × the baseline's, as if uncorrelated)"
    return Power(n, alpha, f"paired bootstrap SD {sd:.3g}{planned} (Bloom 1995)", mde_normal(sd, alpha), margin)
