"""harness.report.terminal: the summary opens with one line per model - recipe, headline metrics,
energy, J/example and CO2e with their sources - then what was not done, grouped; the full table
only with --verbose and in `harness show`, which also shows a gate's verdict."""
from __future__ import annotations

import results_builder as rb
from report_gated import CARBON_REASON, gated

from harness.report.terminal import summary_table

TABLE_HEADER = "model "


def test_the_summary_opens_with_one_line_per_model_with_energy_and_its_sources():
    text = summary_table(gated())
    lines = text.splitlines()
    full, pruned = lines[0], lines[1]
    assert full.startswith("full [float32]: facts_mc accuracy 0.594") and "toylang bleu 54.9 [50.9, 58.9]" in full
    assert pruned.startswith("pruned [float32, prune=0.9]: facts_mc accuracy 0.125")
    for line in (full, pruned):
        assert " J, " in line and "J/example" in line and "g CO2e" in line
        assert "(energy: CodeCarbon estimate; CO2e at 400 g/kWh from --carbon-intensity)" in line
    assert "120 J, 1.67 J/example, 0.0133 g CO2e" in full
    assert "± stderr" not in text                                # the full table waits for --verbose
    assert "harness show RUN_DIR" in text and lines[-1] == "run gated-run: complete"
    assert len(lines) <= 8


def test_verbose_and_show_add_the_full_table_and_show_adds_the_gate():
    assert "± stderr" in summary_table(gated(), verbose=True)
    shown = summary_table(gated(), show=True).splitlines()
    assert shown[0] == "gate: FAIL (8 failed, 0 warned, 16 passed, 0 skipped rule targets; policy gate.yaml; " \
                       "evaluated 2026-12-01T10:00:00+00:00)"
    carbon = [line for line in shown if "carbon vs baseline" in line]
    assert len(carbon) == 1 and "and 3 other targets" in carbon[0] and CARBON_REASON in carbon[0]   # 6 targets, one line
    assert any(line.startswith("  FAIL facts accuracy floor (>= 0.5) on pruned/facts_mc/accuracy = 0.125") for line in shown)
    assert not any("budget" in line for line in shown)                                   # passes are counted, not listed
    assert any("prune=0.9" in line for line in shown) and any(line.startswith(TABLE_HEADER) for line in shown)


def test_not_measured_energy_and_carbon_say_why():
    results = rb.results("r", {"m": rb.model(tasks={"t": rb.task({"accuracy": rb.metric(0.5)})},
                                             energy=rb.energy(total_energy_j=rb.figure(None, reason="meters were off")))},
                         carbon=None)
    (line,) = [x for x in summary_table(results).splitlines() if x.startswith("m [")]
    assert line.endswith("| energy not measured: meters were off")
    measured = rb.results("r", {"m": rb.model(energy=rb.energy(total_energy_j=(10.0, "J"), j_per_example=(1.0, "J/example"),
                                                               gco2e=rb.figure(None, "gCO2e", reason=rb.NO_CARBON)))},
                          carbon=None)
    (line,) = [x for x in summary_table(measured).splitlines() if x.startswith("m [")]
    assert f"10 J, 1 J/example, CO2e not measured: {rb.NO_CARBON}" in line


def test_an_energy_interval_over_repeats_is_shown_with_its_repeats():
    jpe = rb.figure(2.0, "J/example", ci95=[1.8, 2.2], repeats=5, cv=0.04)
    results = rb.results("r", {"m": rb.model(energy=rb.energy(total_energy_j=(100.0, "J"), j_per_example=jpe))})
    (line,) = [x for x in summary_table(results).splitlines() if x.startswith("m [")]
    assert "2 ± 0.2 J/example (5 repeats)" in line


def test_skips_are_one_line_per_model_grouped_by_reason():
    results = rb.results("r", {"m": rb.model(skipped={"a": "cannot classify", "b": "cannot classify", "probe:x": "no items"})})
    lines = [x for x in summary_table(results).splitlines() if x.startswith("skipped")]
    assert lines == ["skipped for m: a, b (cannot classify); probe:x (no items)"]


def test_harness_show_of_a_gated_run_gives_the_verdict_and_each_recipe(tmp_path, capsys):
    from harness.cli import main
    folder = rb.write(tmp_path / "gated-run", gated())
    assert main(["show", str(folder)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("gate: FAIL") and "pruned [float32, prune=0.9]" in out and "full [float32]" in out
