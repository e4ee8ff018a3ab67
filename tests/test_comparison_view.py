"""harness.report.comparison_view: the delta plot never mixes units - deltas relative to the baseline."""
from __future__ import annotations

import pytest
import results_builder as rb

from harness.report.cells import Notes
from harness.report.comparison_view import comparison_view


def test_deltas_are_relative_to_the_baseline_so_bleu_and_accuracy_share_an_axis():
    comparison = rb.comparison({"small": {"tasks": {
        "toylang": {"bleu": rb.stat(50.0, 45.0, (-8.0, -2.0), significant=True)},
        "facts_mc": {"accuracy": rb.stat(0.5, 0.45, (-0.1, 0.0))},
        "toyzh": {"bleu": rb.stat(0.0, 0.0, (0.0, 0.0))}}}}, "full")
    (model,) = comparison_view(comparison, Notes())["models"]
    rows = {r.label: r for r in model["forest"].rows}
    bleu, acc = rows["toylang · bleu ↑"], rows["facts_mc · accuracy ↑"]
    assert bleu.x == pytest.approx(acc.x)                              # both -10% of their baseline
    assert "relative to the baseline" in model["forest"].x_axis.title
    assert model["left_out"] == ["toyzh · bleu ↑ (Δ 0 on a baseline of 0)"]
