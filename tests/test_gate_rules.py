"""harness.gate.rules and harness.gate.counterpart: a gate that judged nothing fails whatever its
rules' ``not_measured`` says, and a baseline of another model or of other work is never compared:
the rule reads not measured, naming what differs."""
from __future__ import annotations

import copy
import json
import textwrap
from pathlib import Path

import pytest

import results_builder as rb
from gate_fixtures import energy, results, write_run
from harness.cli import main
from harness.gate.policy import parse_policy
from harness.gate.rules import evaluate

FP = {"data": "d" * 64, "prompt": "p" * 64, "config": "c" * 64}


def _write(folder: Path, data: dict, prints: dict | None = None) -> Path:
    write_run(folder, data)
    if prints is not None:
        (folder / "run.json").write_text(json.dumps({"id": data["run"]["id"], "fingerprints": prints}))
    return folder


def _gate(tmp_path: Path, capsys, run: dict, base: dict, policy: str, run_prints=None, base_prints=None):
    reports = tmp_path / "reports"
    gated = _write(reports / run["run"]["id"], run, run_prints)
    baseline = _write(reports / base["run"]["id"], base, base_prints)
    (tmp_path / "gate.yaml").write_text(textwrap.dedent(policy))
    code = main(["gate", str(gated), "--policy", str(tmp_path / "gate.yaml"), "--baseline", str(baseline)])
    out = capsys.readouterr()
    record = json.loads((gated / "results.json").read_text())["gate"]
    return code, {r["target"]: r for r in record["rules"]}, out.out + out.err


def _one_model(name: str, spec: str, tasks: dict, run_id: str) -> dict:
    data = results(**{"run/id": run_id})
    data["models"] = {name: copy.deepcopy(data["models"]["tiny-gpt2"] if spec == "tiny-gpt2" else data["models"]["minilm"])}
    data["models"][name]["spec"] = spec
    data["models"][name]["tasks"] = {t: copy.deepcopy(v) for t, v in tasks.items()}
    return data


ENERGY = """
version: 1
rules:
  - name: model energy
    energy: j_per_example
    baseline: {max_increase_pct: 500}
"""


def test_every_rule_not_measured_with_warn_fails_the_gate(tmp_path, capsys):
    """Every rule `not_measured: warn` and nothing measured: "PASS: 0 failed, 3 warned" was exit 0."""
    policy = textwrap.dedent("""\
        version: 1
        defaults: {not_measured: warn}
        rules:
          - {name: a, select: {task: facts_mc}, metric: accuracy_norm, min: 0.1}
          - {name: b, select: {task: facts_mc}, metric: accuracy, baseline: {max_drop: 0.02}}
          - {name: c, energy: gco2e, max: 1.0}
        """)
    data = results(**{"models/tiny-gpt2/tasks/facts_mc/metrics/accuracy_norm": rb.metric(None, reason="all NaN").to_json()})
    outcomes = evaluate(parse_policy(__import__("yaml").safe_load(policy)), data)
    assert [o.verdict for o in outcomes[1:-1]] == ["warn"] * (len(outcomes) - 2)
    assert outcomes[-1].name == "anything judged" and outcomes[-1].verdict == "fail"
    assert "nothing judged: every rule read not measured" in outcomes[-1].reason and "warned" in outcomes[-1].reason
    write_run(tmp_path / "r" / "run-a", data)
    (tmp_path / "g.yaml").write_text(policy)
    assert main(["gate", str(tmp_path / "r" / "run-a"), "--policy", str(tmp_path / "g.yaml")]) == 1
    assert "nothing judged" in capsys.readouterr().err


def test_a_baseline_of_another_model_is_not_compared(tmp_path, capsys):
    """A tiny-gpt2 run gated against a minilm run: "J/example +124.6%" passed."""
    run = _one_model("tiny-gpt2", "tiny-gpt2", results()["models"]["tiny-gpt2"]["tasks"], "run-a")
    base = _one_model("minilm", "minilm", results()["models"]["minilm"]["tasks"], "run-b")
    code, rules, text = _gate(tmp_path, capsys, run, base, ENERGY)
    rule = rules["tiny-gpt2/energy/j_per_example"]
    assert code == 1 and rule["verdict"] == "fail" and rule["measured"] is False
    assert "the baseline's only model 'minilm' (minilm) is another model than 'tiny-gpt2' (tiny-gpt2)" in rule["reason"]


def test_a_variant_of_the_same_model_is_its_baseline(tmp_path, capsys):
    tasks = results()["models"]["tiny-gpt2"]["tasks"]
    run = _one_model("int8", "tiny-gpt2", tasks, "run-a")
    base = _one_model("full", "tiny-gpt2", tasks, "run-b")
    code, rules, _ = _gate(tmp_path, capsys, run, base, ENERGY)
    assert code == 0 and rules["int8/energy/j_per_example"]["verdict"] == "pass"


def test_a_baseline_that_ran_other_tasks_is_not_compared_for_the_models_energy(tmp_path, capsys):
    tasks = results()["models"]["tiny-gpt2"]["tasks"]
    run = _one_model("tiny-gpt2", "tiny-gpt2", tasks, "run-a")
    base = _one_model("tiny-gpt2", "tiny-gpt2", {**tasks, "toylang": tasks["facts_mc"]}, "run-b")
    policy = ENERGY + "  - {name: task energy, select: {task: facts_mc}, energy: j_per_example, " \
                      "baseline: {max_increase_pct: 500}}\n"
    code, rules, _ = _gate(tmp_path, capsys, run, base, policy)
    model = rules["tiny-gpt2/energy/j_per_example"]
    assert model["verdict"] == "fail" and "only the baseline ran toylang" in model["reason"]
    assert rules["tiny-gpt2/facts_mc/energy.j_per_example"]["verdict"] == "pass"      # the task both ran alike
    assert code == 1


def test_a_task_configured_otherwise_is_not_compared_and_other_items_only_per_example(tmp_path, capsys):
    tasks = results()["models"]["tiny-gpt2"]["tasks"]
    run = _one_model("tiny-gpt2", "tiny-gpt2", tasks, "run-a")
    base = _one_model("tiny-gpt2", "tiny-gpt2", tasks, "run-b")
    policy = """
    version: 1
    rules:
      - {name: per example, select: {task: facts_mc}, energy: j_per_example, baseline: {max_increase_pct: 500}}
      - {name: total, select: {task: facts_mc}, energy: total_energy_j, baseline: {max_increase_pct: 500}}
    """
    other_config = {"task": {"facts_mc": {**FP, "config": "e" * 64}}, "probe": {}}
    code, rules, _ = _gate(tmp_path / "config", capsys, run, base, policy, {"task": {"facts_mc": FP}}, other_config)
    for target in ("tiny-gpt2/facts_mc/energy.j_per_example", "tiny-gpt2/facts_mc/energy.total_energy_j"):
        assert rules[target]["verdict"] == "fail" and "task 'facts_mc': config differ" in rules[target]["reason"]
    other_limit = {"task": {"facts_mc": {**FP, "data": "f" * 64}}, "probe": {}}
    code, rules, _ = _gate(tmp_path / "limit", capsys, run, base, policy, {"task": {"facts_mc": FP}}, other_limit)
    assert rules["tiny-gpt2/facts_mc/energy.j_per_example"]["verdict"] == "pass"
    total = rules["tiny-gpt2/facts_mc/energy.total_energy_j"]
    assert total["verdict"] == "fail" and "data" in total["reason"] and total["measured"] is False


def test_a_metric_rule_against_another_model_is_not_measured_even_when_the_comparison_pairs_them():
    comp = rb.comparison({"tiny-gpt2": {"tasks": {"facts_mc": {"accuracy": rb.stat(0.6, 0.6, (-0.01, 0.01))}}}},
                         baseline="minilm").to_json()
    run = _one_model("tiny-gpt2", "tiny-gpt2", results()["models"]["tiny-gpt2"]["tasks"], "run-a")
    base = _one_model("minilm", "minilm", results()["models"]["tiny-gpt2"]["tasks"], "run-b")
    policy = parse_policy({"version": 1, "rules": [{"name": "r", "select": {"task": "facts_mc"}, "metric": "accuracy",
                                                    "baseline": {"max_drop": 0.02}}]})
    outcome = evaluate(policy, run, base, comp)[1]
    assert outcome.verdict == "fail" and "another model" in outcome.reason


@pytest.mark.parametrize("spec_b", ["tiny-gpt2", ""])
def test_the_only_models_of_two_runs_pair_only_when_their_spec_says_so(spec_b):
    from harness.gate.counterpart import paired_model
    from harness.results.reading import as_results
    run = as_results(_one_model("a", "tiny-gpt2", {}, "run-a"))
    base = as_results(_one_model("b", spec_b, {}, "run-b"))
    paired, why = paired_model(base, run, "a")
    assert (paired, why == "") == (("b", True) if spec_b else (None, False))


def test_energy_fixture_is_unchanged():
    """The energy rule on two identical single-model runs is judged (the checks above are not vacuous)."""
    data = _one_model("tiny-gpt2", "tiny-gpt2", results()["models"]["tiny-gpt2"]["tasks"], "run-a")
    data["models"]["tiny-gpt2"]["energy"] = energy(j_per_example=2.0, examples=160)
    outcome = evaluate(parse_policy({"version": 1, "rules": [{"name": "e", "energy": "j_per_example",
                                                              "baseline": {"max_increase_pct": 10}}]}),
                       data, {**data, "run": {**data["run"], "id": "run-b"}})[1]
    assert outcome.verdict == "pass" and outcome.measured
