"""Hostile inputs to the energy gate and the repeats flags: a hand-edited results.json whose 95%
interval is backwards or does not hold its value, a Welch level that can never be reached, and
repeats asked of a run that measures nothing or for longer than a run could last."""
from __future__ import annotations

import json

import pytest

import results_builder as rb
from harness.errors import HarnessError
from harness.gate.policy import parse_policy
from harness.results.values import Figure
from support import assert_one_line_error, run_cli

POLICY = "version: 1\nrules:\n  - name: budget\n    select: {task: t}\n    energy: j_per_example\n    max: 12\n"


def _run_with_interval(tmp_path, ci95, value=11.0):
    jpe = rb.figure(11.0, "J/example", "nvml_energy_counter", repeats=3, per_repeat=[10.0, 11.0, 12.0],
                    ci95=[9.0, 13.0])
    energy = rb.energy(examples=32, j_per_example=jpe)
    run = rb.write(tmp_path / "run", rb.results("r", {"m": rb.model(tasks={"t": rb.task({"accuracy": rb.metric(0.5)},
                                                                                         energy=energy)})}))
    raw = json.loads((run / "results.json").read_text())
    figure = raw["models"]["m"]["tasks"]["t"]["energy"]["j_per_example"]
    figure["ci95"], figure["value"] = ci95, value                     # the hand edit
    (run / "results.json").write_text(json.dumps(raw))
    (tmp_path / "gate.yaml").write_text(POLICY)
    return run


@pytest.mark.parametrize("ci95,value", [([13.0, 9.0], 11.0), ([13.0, 13.5], 11.0), ([5.0, 6.0], 11.0)])
def test_a_hand_edited_interval_that_cannot_hold_the_value_is_refused_at_read(tmp_path, ci95, value):
    """[13, 9] (lower above upper) read as a whole interval over the ceiling 12 and failed; [5, 6]
    around 11 read as within the budget and passed: both must be refused, not judged."""
    run = _run_with_interval(tmp_path, ci95, value)
    proc = run_cli("gate", str(run), "--policy", str(tmp_path / "gate.yaml"))
    assert_one_line_error(proc, "interval")


def test_a_computed_interval_with_no_spread_still_reads():
    """Equal repeats: the interval is the value itself, up to float rounding."""
    f = Figure(value=0.1 + 0.2, unit="J", source="estimated", repeats=2, per_repeat=[0.3, 0.3], ci95=[0.3, 0.3])
    assert f.interval == (0.3, 0.3)


@pytest.mark.parametrize("alpha", [0, 1])
def test_a_welch_level_the_test_can_never_or_always_reach_is_refused(alpha):
    """alpha 0: p < 0 never holds, so a +50% significant increase only ever warned."""
    rule = {"name": "x", "select": {"task": "t"}, "energy": "j_per_example",
            "baseline": {"max_increase_pct": 5, "alpha": alpha}}
    with pytest.raises(HarnessError, match="alpha"):
        parse_policy({"version": 1, "rules": [rule]})


@pytest.mark.parametrize("flags,needles", [
    (["--repeats", "2", "--no-meters"], ["--repeats 2", "--no-meters"]),
    (["--min-measure-s", "0.5", "--no-meters"], ["--min-measure-s 0.5", "--no-meters"]),
    (["--repeats", "99999999999"], ["--repeats", "from 1 to 100"]),
])
def test_repeats_that_would_measure_nothing_or_never_end_are_refused(tmp_path, flags, needles):
    """--repeats 2 --no-meters ran the work three times to write `energy: not measured`;
    --repeats 99999999999 was taken and would never have ended."""
    proc = run_cli("run", "--model", "tiny-gpt2", "--tasks", "facts_mc", "--limit", "4", "--no-probes",
                   "--no-history", "--out", str(tmp_path / "out"), *flags, env={"HF_HOME": str(tmp_path / "hf")},
                   timeout=120)        # unfixed, --repeats 99999999999 never ends: the timeout fails the test
    assert_one_line_error(proc, *needles)
    assert not (tmp_path / "out").exists()
