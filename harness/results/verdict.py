"""results.json ``gate``, typed: a release gate's verdict (built by harness.gate.rules; the terminal
table, JUnit XML and Markdown are made from it by harness.gate.outputs). Imports nothing from
harness but the value types.

    {verdict: "pass" | "fail", policy, policy_sha256, baseline, evaluated,
     counts: {pass, fail, warn, skip}, rules: [{name, target, value, threshold, verdict, reason}]}
"""
from __future__ import annotations

from typing import Literal, Optional

from harness.results.values import Count, Number, Value

RuleVerdict = Literal["pass", "fail", "warn", "skip"]


class GateRule(Value):
    """One rule on one target ("<model>/<task | probe:NAME | energy>/<metric>"): the value the
    threshold was compared with (null: not measured, see the reason), and the verdict."""
    name: str
    target: str
    value: Optional[Number] = None
    threshold: str
    verdict: RuleVerdict
    reason: str


class GateVerdict(Value):
    verdict: Literal["pass", "fail"]
    policy: str = ""
    policy_sha256: str = ""
    baseline: Optional[str] = None
    evaluated: str = ""
    counts: dict[RuleVerdict, Count] = {}
    rules: list[GateRule] = []
