"""harness.report.energy_view: no one-dot charts, the y axis says which way is better, and every
model's energy bars are drawn on one scale."""
from __future__ import annotations

import pytest
import results_builder as rb

from harness.report.cells import Notes
from harness.report.energy_view import energy_bars, quality_energy


def _task(value, hib, joules, n=10, kind="generate"):
    return rb.task({"m1": rb.metric(value, higher_is_better=hib)}, kind=kind, n=n,
                   energy=rb.energy(total_energy_j=(joules, "J"), j_per_example=(joules / n, "J/example")))


def test_tasks_one_model_ran_go_to_a_table_and_shared_tasks_get_a_panel():
    results = rb.results("r", {
        "a": rb.model(tasks={"shared": _task(30.0, False, 50.0), "only_a": _task(0.5, True, 10.0)}),
        "b": rb.model(tasks={"shared": _task(35.0, False, 20.0)})})
    qe = quality_energy(results, Notes())
    assert [p.title for p in qe.panels] == ["shared"] and len(qe.panels[0].points) == 2
    assert qe.panels[0].higher_is_better is False                   # perplexity-like: the axis says ↓ better
    assert [(r["task"], r["model"], r["arrow"]) for r in qe.rows] == [("only_a", "a", "↑")]


def test_energy_bars_share_one_scale_across_models():
    results = rb.results("r", {"cheap": rb.model(tasks={"t": _task(1.0, True, 150.0)}),
                               "costly": rb.model(tasks={"t": _task(1.0, True, 6000.0)})})
    cheap, costly = energy_bars(results)
    assert cheap.x_axis.ticks[-1] == costly.x_axis.ticks[-1]
    assert costly.bars[0].width / cheap.bars[0].width == pytest.approx(6000.0 / 150.0)


def test_an_interval_over_repeats_is_a_whisker_on_its_bar():
    total = rb.figure(100.0, "J", ci95=[90.0, 130.0], repeats=5)
    results = rb.results("r", {"m": rb.model(tasks={"t": rb.task({"a": rb.metric(0.5)}, energy=rb.energy(total_energy_j=total))})})
    (chart,) = energy_bars(results)
    bar = chart.bars[0]
    assert bar.lo < chart.left + bar.width < bar.hi and "[90, 130]" in bar.value
