"""results.json ``gate``, typed: a release gate's verdict (built by harness.gate.rules; the terminal
table, JUnit XML and Markdown are made from it by harness.gate.outputs). Imports nothing from
harness but the value types.

    {verdict: "pass" | "fail", policy, policy_sha256, baseline, evaluated,
     counts: {pass, fail, warn, skip},
     rules: [{name, target, value, threshold, verdict, reason, measured?, power?}],
     families?: {rule name: {size, alpha, definition, members}}}

Layout 2.1 added ``measured``, ``power`` (a metric baseline rule's minimum detectable effect,
harness.gate.power) and ``families`` (each ``judge: test`` rule's Holm family).
"""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import StrictBool

from harness.results.values import Count, Number, Value

RuleVerdict = Literal["pass", "fail", "warn", "skip"]


class RulePower(Value):
    """What a metric baseline rule's paired test can see at this n: the smallest drop it detects with
    ``power`` (80%) at the two-sided level ``alpha`` (the minimum detectable effect, ``mde``, in the
    metric's units; null: see ``reason``), the rule's allowed drop (``margin``) and whether the rule can
    detect it (``detectable``: margin >= mde; null when not known)."""
    n: Count
    power: Number = 0.8
    alpha: Number
    method: str
    mde: Optional[Number] = None
    margin: Optional[Number] = None
    detectable: Optional[StrictBool] = None
    reason: Optional[str] = None


class HolmFamily(Value):
    """The p-values one ``judge: test`` rule's Holm correction runs over: the statistics it selects."""
    size: Count
    alpha: Number
    definition: str = ""
    members: list[str] = []


class GateRule(Value):
    """One rule on one target ("<model>/<task | probe:NAME | energy>/<metric>"): the value the
    threshold was compared with (null: not measured, see the reason), and the verdict. ``measured``:
    a figure was judged (false: the verdict is the rule's not_measured handling)."""
    name: str
    target: str
    value: Optional[Number] = None
    threshold: str
    verdict: RuleVerdict
    reason: str
    measured: Optional[StrictBool] = None
    power: Optional[RulePower] = None


class GateVerdict(Value):
    verdict: Literal["pass", "fail"]
    policy: str = ""
    policy_sha256: str = ""
    baseline: Optional[str] = None
    evaluated: str = ""
    counts: dict[RuleVerdict, Count] = {}
    rules: list[GateRule] = []
    families: dict[str, HolmFamily] = {}
