"""harness.report.verdict and the page's verdict box: failures first, a reason repeated over many targets
one row, the passes folded, and the per-model summary still on the first screen."""
from __future__ import annotations

from report_gated import CARBON_REASON, gated

from harness.report import render_html
from harness.report.verdict import rule_groups


def test_rules_are_grouped_by_reason_with_failures_first():
    groups = rule_groups(gated().gate)
    assert [g.verdict for g in groups[:3]] == ["fail", "fail", "fail"] and groups[-1].verdict == "pass"
    carbon = next(g for g in groups if g.name == "carbon vs baseline")
    assert carbon.count == 6 and carbon.reason == CARBON_REASON
    assert sum(g.count for g in groups) == 24


def test_the_page_shows_the_failing_groups_folds_the_passes_and_says_a_reason_once():
    html = render_html(gated(), [])
    box = html[html.index('<div class="verdict fail">'):html.index('id="summary"')]
    assert box.count(CARBON_REASON) == 1 and "<b>6 targets</b>" in box
    open_part = box[:box.index("<details")]
    assert "facts accuracy floor" in open_part and "budget 0" not in open_part      # passes only in the fold
    assert "<summary>passed: 16 rule targets in 16 rules</summary>" in box


def test_a_rules_power_statement_and_holm_family_are_shown_beside_it():
    """Layout 2.1's gate states each baseline rule's minimum detectable effect and its Holm family."""
    import results_builder as rb
    rule = {"name": "no drop", "target": "m/t/accuracy", "value": -0.05, "threshold": "drop <= 0.02", "verdict": "warn",
            "reason": "underpowered", "power": {"n": 32, "power": 0.8, "alpha": 0.05, "method": "mcnemar", "mde": 0.21,
                                                "margin": 0.02, "detectable": False}}
    gate = rb.verdict([rule]).model_copy(update={"families": {"no drop": {"size": 3, "alpha": 0.05,
                                                                          "definition": "the metrics this rule selects"}}})
    (group,) = rule_groups(gate)
    assert group.notes == ("detects a drop of 0.21 or more (80% power, alpha 0.05, n 32); the allowed drop 0.02 is "
                           "below what it can detect", "Holm family: 3 p-values (the metrics this rule selects)")
