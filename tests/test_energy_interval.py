"""An energy figure measured over repeats (--repeats N) carries its interval into every reader:
the history index (so history.html draws its band), the Prometheus and TensorBoard exports, and
the terminal's energy lines."""
from __future__ import annotations

import json

import pytest

import results_builder as rb
from harness.exports.prometheus import build_registry
from harness.exports.tensorboard import scalars
from harness.history import record
from harness.history.html import trend_chart
from harness.history.index import HistoryIndex
from harness.history.trend import build_series
from harness.report.terminal import summary_table

PER_REPEAT = [2.0, 2.2, 1.9, 2.1, 2.3]


def _results(run_id: str, started: str, spread: bool = True):
    jpe = rb.figure(2.1, "J/example", "estimated", **({"repeats": 5, "per_repeat": PER_REPEAT, "ci95": (1.90, 2.30),
                                                        "cv": 0.075} if spread else {}))
    energy = rb.energy(duration_s=(3.0, "s", "clock"), examples=40, total_energy_j=(100.0, "J"), j_per_example=jpe,
                       gco2e=rb.figure(0.0133, "gCO2e", "estimated", intensity_g_per_kwh=480.0,
                                       intensity_source="world average (Ember, Global Electricity Review 2024), 2023; "
                                                        "refine with --country ISO3 or --carbon-intensity G_PER_KWH"))
    task = rb.task({"accuracy": rb.metric(0.5, n=40)}, n=40, energy=energy)
    return rb.results(run_id, {"tiny-gpt2": rb.model(tasks={"facts_mc": task}, energy=energy)}, started=started,
                      run_energy=energy)


def test_the_history_index_keeps_the_interval_and_draws_its_band(tmp_path):
    for run_id, started in (("r1", "2026-12-01T10:00:00+00:00"), ("r2", "2026-12-02T10:00:00+00:00")):
        rb.write(tmp_path / run_id, _results(run_id, started))
        record(tmp_path / run_id)
    rows = [r for r in HistoryIndex(tmp_path / "history.sqlite").figures() if r["metric"] == "j_per_example"]
    assert rows and all((r["ci_lo"], r["ci_hi"], r["n"]) == (pytest.approx(1.9), pytest.approx(2.3), 5) for r in rows)
    series = [s for s in build_series(rows) if s.scope == "energy"]
    chart = trend_chart(series[0], {"r1": 0, "r2": 1})
    assert chart.bands                                        # the interval drawn as a band


def test_a_figure_without_repeats_has_no_interval_in_the_index(tmp_path):
    rb.write(tmp_path / "r1", _results("r1", "2026-12-01T10:00:00+00:00", spread=False))
    record(tmp_path / "r1")
    rows = [r for r in HistoryIndex(tmp_path / "history.sqlite").figures() if r["metric"] == "j_per_example"]
    assert rows and all(r["ci_lo"] is None and r["ci_hi"] is None for r in rows)


def test_the_exports_carry_the_interval_as_extra_series():
    from prometheus_client import generate_latest
    text = generate_latest(build_registry(_results("r1", "2026-12-01T10:00:00+00:00"))).decode()
    assert 'harness_task_energy_joules_per_example_ci95_lower{model="tiny-gpt2",source="estimated",task="facts_mc"} 1.9' in text
    assert 'harness_task_energy_joules_per_example_ci95_upper{model="tiny-gpt2",source="estimated",task="facts_mc"} 2.3' in text
    assert 'harness_run_energy_joules_per_example_repeats{source="estimated"} 5.0' in text
    values, _ = scalars(_results("r1", "2026-12-01T10:00:00+00:00"))
    assert values["tiny-gpt2/energy/facts_mc/j_per_example/ci95_lower"] == pytest.approx(1.9)
    assert values["run/energy/j_per_example/ci95_upper"] == pytest.approx(2.3)
    plain, _ = scalars(_results("r1", "2026-12-01T10:00:00+00:00", spread=False))
    assert not any(tag.endswith("ci95_lower") and "/energy/" in tag for tag in plain)


def test_the_terminal_gives_the_interval_and_the_carbon_source():
    lines = summary_table(_results("r1", "2026-12-01T10:00:00+00:00")).splitlines()
    jpe = next(line for line in lines if line.startswith("J/example: "))
    assert jpe.startswith("J/example: 2.1 [1.9, 2.3] over 5 measured repeats (95% interval, cv 7.5%; estimated")
    co2 = next(line for line in lines if line.startswith("CO2e: "))
    assert "at 480 g CO2e/kWh, world average (Ember, Global Electricity Review 2024), 2023; refine with --country" in co2


def test_the_report_shows_the_interval_and_the_carbon_source_beside_the_figures():
    from harness.report import render_html
    html = render_html(_results("r1", "2026-12-01T10:00:00+00:00"), [], [])
    assert '2.1 <span class="ci">± 0.2</span>' in html                   # the half-width beside the value
    assert 'title="estimated; 95% interval [1.9, 2.3] over 5 repeats, cv 0.075"' in html     # bounds on hover
    # the CO2e figure names the intensity it was priced at (the column header says it too, where results.json
    # records the run's intensity: harness.report.headline.carbon_source)
    assert 'title="estimated; carbon intensity: world average (Ember, Global Electricity Review 2024), 2023; ' \
           'refine with --country ISO3' in html
