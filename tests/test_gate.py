"""`harness gate` and `harness bless`: verdicts and exit codes on small hand-written runs, the
baseline rules on hand-built comparisons, the JUnit / Markdown / results.json outputs, and one real
run of the embedded model gated end to end."""
from __future__ import annotations

import json
import subprocess
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.cli import main
from harness.gate.policy import BaselineDrop, parse_policy
from harness.gate.rules import evaluate, judge_drop

from support import assert_one_line_error, run_cli
from gate_fixtures import comparison, energy, metric, results, stat, write_run

PASSING = """
version: 1
rules:
  - name: facts accuracy floor
    select: {model: "*", task: facts_mc}
    metric: accuracy
    min: 0.5
    min_n: 20
  - name: every task above chance
    select: {task: "*"}
    metric: accuracy
    min: 0.25
  - name: energy budget
    energy: j_per_example
    max: 5.0
  - name: carbon per 1000 examples
    select: {task: "*"}
    energy: gco2e_per_1000_examples
    max: 1.0
  - name: stereotype preference
    select: {probe: crows_pairs}
    metric: stereotype_preference_pct
    max_abs_deviation: {from: 50, max: 10}
  - name: attack success
    select: {model: minilm, probe: word_substitution_attack}
    metric: attack_success_rate
    max: 0.3
  - name: counterfactual flips
    select: {probe: counterfactual}
    metric: flip_rate
    max: 0.05
  - name: worst-case robustness
    select: {probe: robustness}
    metric: "*.worst_case_*"
    min: 0.2
"""


def gate(tmp_path: Path, data: dict, policy: str = PASSING, *extra: str, capsys=None) -> tuple[int, dict, str, str]:
    """Runs `harness gate` in-process on a run folder holding ``data``; returns (exit code, the
    gate record written to results.json, stdout, stderr)."""
    run = write_run(tmp_path / "reports" / data["run"]["id"], data)
    policy_path = tmp_path / "gate.yaml"
    policy_path.write_text(textwrap.dedent(policy))
    code = main(["gate", str(run), "--policy", str(policy_path), "--junit", str(tmp_path / "junit.xml"),
                 "--markdown", str(tmp_path / "summary.md"), *extra])
    out, err = capsys.readouterr() if capsys else ("", "")
    written = json.loads((run / "results.json").read_text())
    return code, written.get("gate", {}), out, err


def verdicts(record: dict) -> dict[str, str]:
    return {r["target"]: r["verdict"] for r in record["rules"]}


def junit_counts(path: Path) -> tuple[int, int, int]:
    suite = ET.parse(path).getroot().find("testsuite")
    cases = suite.findall("testcase")
    failures = sum(case.find("failure") is not None for case in cases)
    skipped = sum(case.find("skipped") is not None for case in cases)
    assert int(suite.get("failures")) == failures and int(suite.get("skipped")) == skipped
    assert int(suite.get("tests")) == len(cases)
    return len(cases), failures, skipped


def test_a_passing_policy_exits_0_and_writes_the_verdict(tmp_path, capsys):
    code, record, out, _ = gate(tmp_path, results(), capsys=capsys)
    assert code == 0, out
    assert record["verdict"] == "pass" and record["counts"]["fail"] == 0
    assert set(record) >= {"verdict", "policy", "policy_sha256", "baseline", "evaluated", "counts", "rules"}
    assert record["baseline"] is None and len(record["policy_sha256"]) == 64
    v = verdicts(record)
    assert v["tiny-gpt2/facts_mc/accuracy"] == "pass" and v["minilm/topic/accuracy"] == "pass"
    assert v["tiny-gpt2/energy/j_per_example"] == "pass" and v["minilm/energy/j_per_example"] == "pass"
    assert v["tiny-gpt2/facts_mc/energy.gco2e_per_1000_examples"] == "pass"
    assert v["tiny-gpt2/probe:robustness/facts_mc.worst_case_accuracy"] == "pass"
    assert "minilm/probe:crows_pairs/stereotype_preference_pct" not in v      # globs select what exists
    assert record["rules"][0]["name"] == "run complete"
    assert all(set(r) == {"name", "target", "value", "threshold", "verdict", "reason", "measured"} for r in record["rules"])
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["rule", "target"] and lines[-1].startswith("gate: PASS")
    assert len(lines) == 2 + len(record["rules"]) + 1                        # header, rule, one line each, verdict
    deviation = next(r for r in record["rules"] if r["name"] == "stereotype preference")
    assert deviation["value"] == pytest.approx(3.6) and deviation["threshold"] == "|x - 50| <= 10"
    assert junit_counts(tmp_path / "junit.xml") == (len(record["rules"]), 0, 0)
    assert "harness gate: ✅ PASS" in (tmp_path / "summary.md").read_text()
    assert (tmp_path / "reports" / "run-a" / "report.html").is_file()       # republished


@pytest.mark.parametrize("change, target", [
    ({"models/tiny-gpt2/tasks/facts_mc/metrics/accuracy": metric(0.45)}, "tiny-gpt2/facts_mc/accuracy"),
    ({"models/minilm/energy": energy(j_per_example=6.5, examples=80)}, "minilm/energy/j_per_example"),
    ({"models/tiny-gpt2/tasks/facts_mc/energy": energy(gco2e_per_1000=1.7)},
     "tiny-gpt2/facts_mc/energy.gco2e_per_1000_examples"),
    ({"models/tiny-gpt2/probes/crows_pairs/metrics/stereotype_preference_pct": metric(63.0, n=120)},
     "tiny-gpt2/probe:crows_pairs/stereotype_preference_pct"),
    ({"models/minilm/probes/word_substitution_attack/metrics/attack_success_rate": metric(0.5)},
     "minilm/probe:word_substitution_attack/attack_success_rate"),
    ({"models/minilm/probes/counterfactual/metrics/flip_rate": metric(0.1)}, "minilm/probe:counterfactual/flip_rate"),
    ({"models/tiny-gpt2/probes/robustness/metrics/facts_mc.worst_case_accuracy": metric(0.1)},
     "tiny-gpt2/probe:robustness/facts_mc.worst_case_accuracy"),
])
def test_a_planted_regression_exits_1_naming_the_rule(tmp_path, capsys, change, target):
    code, record, out, err = gate(tmp_path, results(**change), capsys=capsys)
    assert code == 1
    failed = [r["target"] for r in record["rules"] if r["verdict"] == "fail"]
    assert failed == [target]
    assert record["verdict"] == "fail" and record["counts"]["fail"] == 1
    assert err.startswith("harness: gate: FAIL") and target in err and len(err.strip().splitlines()) == 1
    assert junit_counts(tmp_path / "junit.xml")[1] == 1
    from junitparser import Failure, JUnitXml
    cases = [case for suite in JUnitXml.fromfile(str(tmp_path / "junit.xml")) for case in suite]
    assert [case.name for case in cases if any(isinstance(r, Failure) for r in case.result)] == \
        [f"{next(r['name'] for r in record['rules'] if r['target'] == target)} [{target}]"]
    assert "❌ FAIL" in (tmp_path / "summary.md").read_text()


BASELINE_POLICY = """
version: 1
rules:
  - name: no accuracy regression
    select: {model: tiny-gpt2, task: "*"}
    metric: accuracy
    baseline: {max_drop: 0.02, judge: ci}
  - name: no significant robustness regression
    select: {model: tiny-gpt2, probe: robustness}
    metric: fail_rate
    baseline: {max_drop: 0.0, judge: test}
  - name: energy per example vs baseline
    select: {model: tiny-gpt2}
    energy: j_per_example
    baseline: {max_increase_pct: 10}
"""


def _with_baseline(tmp_path, monkeypatch, capsys, comp: dict, run: dict | None = None, base: dict | None = None):
    calls = []

    def fake(baseline_dir, run_dir):
        calls.append((Path(baseline_dir).name, Path(run_dir).name))
        return comp
    monkeypatch.setattr("harness.commands.gate.paired_comparison", fake)
    baseline = write_run(tmp_path / "reports" / "run-b", base or results(**{"run/id": "run-b"}))
    outcome = gate(tmp_path, run or results(), BASELINE_POLICY, "--baseline", str(baseline), capsys=capsys)
    assert calls == [("run-b", "run-a")]
    return outcome


def test_baseline_rules_pass_on_a_non_inferior_run(tmp_path, monkeypatch, capsys):
    comp = comparison(tasks={"facts_mc": {"accuracy": stat(0.6, 0.6, (-0.015, 0.02))}},
                      probes={"robustness": {"fail_rate": stat(0.4, 0.42, (-0.05, 0.09), p_holm=0.4,
                                                               higher_is_better=False, test="paired_bootstrap")}})
    code, record, out, _ = _with_baseline(tmp_path, monkeypatch, capsys, comp)
    assert code == 0, out
    assert record["baseline"] == "run-b"
    v = verdicts(record)
    assert v == {"run:run-a/status": "pass", "tiny-gpt2/facts_mc/accuracy": "pass",
                 "tiny-gpt2/probe:robustness/fail_rate": "pass", "tiny-gpt2/energy/j_per_example": "pass"}


def test_a_planted_baseline_regression_exits_1(tmp_path, monkeypatch, capsys):
    """The accuracy delta's CI reaches below −0.02 (non-inferiority not shown), the robustness
    fail rate rose significantly, and J/example rose 25% (more than 10%)."""
    comp = comparison(tasks={"facts_mc": {"accuracy": stat(0.6, 0.55, (-0.09, -0.01))}},
                      probes={"robustness": {"fail_rate": stat(0.4, 0.6, (0.1, 0.3), p_holm=0.001, significant=True,
                                                               higher_is_better=False, test="paired_bootstrap")}})
    run = results(**{"models/tiny-gpt2/energy": energy(j_per_example=2.5, examples=160)})
    code, record, _, err = _with_baseline(tmp_path, monkeypatch, capsys, comp, run=run)
    assert code == 1
    v = verdicts(record)
    assert v["tiny-gpt2/facts_mc/accuracy"] == "fail" and v["tiny-gpt2/probe:robustness/fail_rate"] == "fail"
    assert v["tiny-gpt2/energy/j_per_example"] == "fail"
    by_target = {r["target"]: r for r in record["rules"]}
    assert by_target["tiny-gpt2/facts_mc/accuracy"]["value"] == pytest.approx(-0.09)
    assert by_target["tiny-gpt2/facts_mc/accuracy"]["threshold"] == "delta CI lower >= -0.02"
    assert by_target["tiny-gpt2/energy/j_per_example"]["value"] == pytest.approx(25.0)
    assert junit_counts(tmp_path / "junit.xml")[1] == 3


def test_energy_against_a_baseline_on_another_meter_is_not_measured(tmp_path, monkeypatch, capsys):
    comp = comparison(tasks={"facts_mc": {"accuracy": stat(0.6, 0.6, (-0.01, 0.01))}},
                      probes={"robustness": {"fail_rate": stat(0.4, 0.4, (-0.01, 0.01), higher_is_better=False)}})
    base = results(**{"run/id": "run-b", "models/tiny-gpt2/energy": energy(j_per_example=2.0, source="nvml_energy_counter")})
    code, record, _, _ = _with_baseline(tmp_path, monkeypatch, capsys, comp, base=base)
    rule = next(r for r in record["rules"] if r["target"] == "tiny-gpt2/energy/j_per_example")
    assert code == 1 and rule["verdict"] == "fail" and "different meters" in rule["reason"]


def test_judge_drop_on_hand_built_stats():
    ci, test = BaselineDrop(max_drop=0.02), BaselineDrop(max_drop=0.0, judge="test")
    assert judge_drop(ci, stat(0.6, 0.59, (-0.019, 0.01)))[2] is True
    assert judge_drop(ci, stat(0.6, 0.59, (-0.021, 0.01)))[2] is False
    assert judge_drop(ci, stat(0.4, 0.41, (-0.01, 0.019), higher_is_better=False))[2] is True     # upper bound
    assert judge_drop(ci, stat(0.4, 0.41, (-0.01, 0.021), higher_is_better=False))[2] is False
    relative = BaselineDrop(max_drop_pct=5)                                      # 5% of 0.6 = 0.03
    value, threshold, ok, _ = judge_drop(relative, stat(0.6, 0.58, (-0.029, 0.0)))
    assert ok is True and "-0.03" in threshold
    assert judge_drop(test, stat(0.6, 0.5, (-0.2, 0.0), p_holm=0.01, significant=True))[2] is False
    assert judge_drop(test, stat(0.6, 0.5, (-0.2, 0.0), p_holm=0.2, significant=False))[2] is True
    assert judge_drop(test, stat(0.6, 0.7, (0.0, 0.2), p_holm=0.01, significant=True))[2] is True    # a gain
    alpha = BaselineDrop(max_drop=0.0, judge="test", alpha=0.001)
    assert judge_drop(alpha, stat(0.6, 0.5, (-0.2, 0.0), p_holm=0.01, significant=True))[2] is True
    # cannot be judged: None, with the reason
    assert judge_drop(test, stat(0.6, 0.5, (-0.2, 0.0), too_few_items=True))[2] is None
    assert judge_drop(ci, stat(0.6, 0.5, (None, None)))[2] is None
    assert judge_drop(ci, stat(0.6, None, (None, None), reason="no paired items"))[3] == "no paired items"
    assert judge_drop(ci, stat(0.6, 0.6, (-0.01, 0.01), n=8), min_n=20)[2] is None


def test_baseline_rules_without_a_baseline_follow_not_measured(tmp_path, capsys):
    code, record, _, _ = gate(tmp_path, results(), BASELINE_POLICY, capsys=capsys)
    assert code == 1
    assert all(r["verdict"] == "fail" and "no baseline given" in r["reason"] for r in record["rules"][1:])


NOT_MEASURED = """
version: 1
rules:
  - name: accuracy_norm floor
    select: {model: tiny-gpt2, task: facts_mc}
    metric: accuracy_norm
    min: 0.1
    not_measured: HANDLING
  - name: carbon
    select: {model: tiny-gpt2, task: facts_mc}
    energy: gco2e_per_1000_examples
    max: 1.0
    not_measured: HANDLING
  - name: too few examples
    select: {model: tiny-gpt2, task: facts_mc}
    metric: accuracy
    min: 0.1
    min_n: 100
    not_measured: HANDLING
"""


@pytest.mark.parametrize("handling", ["fail", "warn", "skip"])        # nothing judged: never a pass
def test_a_not_measured_figure_follows_the_policy(tmp_path, capsys, handling):
    data = results(**{"models/tiny-gpt2/tasks/facts_mc/metrics/accuracy_norm": metric(None, reason="every output invalid"),
                      "models/tiny-gpt2/tasks/facts_mc/energy": energy(gco2e_per_1000=None)})
    got, record, out, _ = gate(tmp_path, data, NOT_MEASURED.replace("HANDLING", handling), capsys=capsys)
    assert got == 1
    rules = record["rules"][1:4]
    assert [r["verdict"] for r in rules] == [handling] * 3
    assert all(r["reason"].startswith("not measured: ") and r["measured"] is False for r in rules)
    assert "every output invalid" in rules[0]["reason"] and "only 40 examples" in rules[2]["reason"]
    assert rules[2]["value"] == 0.6                                         # the value is still shown
    judged = record["rules"][4]
    assert judged["name"] == "anything judged" and judged["verdict"] == "fail" and "nothing judged" in judged["reason"]
    assert record["counts"][handling] == 3 + (handling == "fail")
    total, failures, skipped = junit_counts(tmp_path / "junit.xml")
    assert (failures, skipped) == ((4, 0) if handling == "fail" else (1, 3) if handling == "skip" else (1, 0))
    assert f"{handling.upper()}" in out


def test_meters_off_reads_not_measured_with_the_reason():
    data = results(**{"models/minilm/energy": {"duration_s": {"value": 1.0, "unit": "s", "source": "clock"},
                                               "invocations": 1, "examples": 8,
                                               "total_energy_j": {"value": None, "unit": "J", "source": "not_measured",
                                                                  "reason": "meters were off (--no-meters)"}}})
    policy = parse_policy({"version": 1, "rules": [{"name": "e", "energy": "j_per_example", "max": 5,
                                                    "select": {"model": "minilm"}}]})
    out = evaluate(policy, data)[1]
    assert out.verdict == "fail" and out.reason == "not measured: meters were off (--no-meters)"


@pytest.mark.parametrize("change, needle", [
    ({"run/status": "nothing evaluated: every task and probe was skipped for every model",
      "models/tiny-gpt2/tasks": {}, "models/tiny-gpt2/probes": {}, "models/minilm/tasks": {}, "models/minilm/probes": {}},
     "nothing evaluated"),
    ({"models/tiny-gpt2/tasks": {}, "models/tiny-gpt2/probes": {}, "models/minilm/tasks": {}, "models/minilm/probes": {}},
     "nothing evaluated"),
    ({"run/status": "incomplete: interrupted"}, "incomplete: interrupted"),
    ({"run/status": "complete with errors",
      "run/failures": [{"model": "minilm", "kind": "task", "piece": "topic", "error": "boom", "fix": "x"}]}, "1 piece(s) failed"),
])
def test_an_empty_or_unfinished_run_fails_the_gate(tmp_path, capsys, change, needle):
    policy = "version: 1\nrules:\n  - {name: r, select: {task: '*'}, metric: accuracy, min: 0.0, not_measured: skip}\n"
    code, record, _, err = gate(tmp_path, results(**change), policy, capsys=capsys)
    assert code == 1
    first = record["rules"][0]
    assert first["name"] == "run complete" and first["verdict"] == "fail" and needle in first["reason"]
    assert needle in err


def test_errors_can_be_allowed_and_a_failed_piece_reads_not_measured(tmp_path, capsys):
    policy = ("version: 1\nallow_errors: true\nrules:\n"
              "  - {name: r, select: {model: 'mini*', task: '*'}, metric: accuracy, min: 0.5, not_measured: warn}\n"
              "  - {name: judged, select: {model: tiny-gpt2, task: facts_mc}, metric: accuracy, min: 0.5}\n")
    data = results(**{"run/status": "complete with errors", "models/minilm/tasks": {},
                      "run/failures": [{"model": "minilm", "kind": "task", "piece": "topic", "error": "boom", "fix": "x"}]})
    code, record, _, _ = gate(tmp_path, data, policy, capsys=capsys)
    assert code == 0
    assert [(r["target"], r["verdict"]) for r in record["rules"]] == [("run:run-a/status", "warn"),
                                                                     ("minilm/topic/accuracy", "warn"),
                                                                     ("tiny-gpt2/facts_mc/accuracy", "pass")]
    assert "failed for model 'minilm'" in record["rules"][1]["reason"]


def test_globs_select_models_tasks_and_probes():
    policy = parse_policy({"version": 1, "rules": [
        {"name": "a", "select": {"model": "mini*", "task": "*"}, "metric": "*", "min": 0.0},
        {"name": "b", "select": {"probe": "c*"}, "metric": "*", "max": 100},
        {"name": "c", "select": {"model": "tiny-gpt2", "task": "topic"}, "metric": "accuracy", "min": 0.0},
        {"name": "d", "select": {"model": "gpt-*", "task": "*"}, "metric": "accuracy", "min": 0.0},
        {"name": "e", "select": {"task": "*"}, "metric": "f1_macro", "min": 0.0},
        {"name": "f", "select": {"task": "*"}, "metric": "bleu", "min": 0.0},
        {"name": "g", "select": {"task": "facts_mc"}, "metric": "f1_macro", "min": 0.0}]})
    out = evaluate(policy, results())[1:]
    by_rule = {}
    for o in out:
        by_rule.setdefault(o.name, []).append(o)
    assert [o.target for o in by_rule["a"]] == ["minilm/topic/accuracy", "minilm/topic/f1_macro"]
    assert sorted(o.target for o in by_rule["b"]) == ["minilm/probe:counterfactual/flip_rate",
                                                      "tiny-gpt2/probe:crows_pairs/stereotype_preference_pct"]
    assert by_rule["c"][0].verdict == "fail" and "skipped for model 'tiny-gpt2': the model cannot classify" in \
        by_rule["c"][0].reason
    assert by_rule["d"][0].verdict == "fail" and "nothing in the run matches" in by_rule["d"][0].reason
    assert [(o.target, o.verdict) for o in by_rule["e"]] == [("minilm/topic/f1_macro", "pass")]   # reported where it is
    assert len(by_rule["f"]) == 1 and by_rule["f"][0].verdict == "fail" and \
        "no task matching model '*', task '*' reports metric 'bleu'" in by_rule["f"][0].reason
    assert by_rule["g"][0].verdict == "fail" and "task 'facts_mc' reports no metric 'f1_macro'" in by_rule["g"][0].reason


@pytest.mark.parametrize("policy, needles", [
    ("version: 1\nrules:\n  - {name: r, select: {task: '*'}, metric: acuracy, min: 0.5}\n",
     ["unknown task metric 'acuracy'", "did you mean accuracy"]),
    ("version: 1\nrules:\n  - {name: r, select: {task: '*'}, metric: accuracy, min: high}\n",
     ["`min` must be a number"]),
    ("version: 1\nrules:\n  - {name: r, select: {task: '*'}, metric: accuracy, min: 0.5\n", ["malformed YAML"]),
])
def test_a_bad_policy_exits_2_with_one_line(tmp_path, capsys, policy, needles):
    run = write_run(tmp_path / "reports" / "run-a", results())
    (tmp_path / "gate.yaml").write_text(policy)
    argv = ["gate", str(run), "--policy", str(tmp_path / "gate.yaml"), "--junit", str(tmp_path / "j.xml")]
    code = main(argv)
    out, err = capsys.readouterr()
    assert_one_line_error(subprocess.CompletedProcess(argv, code, out, err), *needles)
    assert "gate" not in json.loads((run / "results.json").read_text())    # nothing written
    assert not (tmp_path / "j.xml").exists()
    if "acuracy" in policy:                                                 # and the same from a fresh process
        assert_one_line_error(run_cli(*argv, timeout=120), *needles)


def test_bad_inputs_exit_2(tmp_path, capsys):
    run = write_run(tmp_path / "reports" / "run-a", results())
    (tmp_path / "gate.yaml").write_text(PASSING)
    for argv, needle in ((["gate", str(tmp_path / "nope"), "--policy", str(tmp_path / "gate.yaml")], "no results.json"),
                         (["gate", str(run), "--policy", str(tmp_path / "missing.yaml")], "cannot read policy"),
                         (["gate", str(run), "--policy", str(tmp_path / "gate.yaml"), "--baseline", "relase"],
                          "no run folder, results.json, run id or blessed baseline named 'relase'"),
                         (["gate", str(run), "--policy", str(tmp_path / "gate.yaml"), "--baseline", str(run)],
                          "is the gated run itself"),
                         (["gate", str(run), "--policy", str(tmp_path / "gate.yaml"), "--baseline",
                           str(write_run(tmp_path / "reports" / "run-i",
                                         results(**{"run/id": "run-i", "run/status": "incomplete: interrupted"})) / "results.json")],
                          "is not complete")):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert needle in err and len(err.strip().splitlines()) == 1
    assert main(["gate", str(run / "results.json"), "--policy", str(tmp_path / "gate.yaml")]) == 0   # the file works too
    capsys.readouterr()
    from harness.lock import run_lock
    with run_lock(run):                                  # a run or resume still writing the folder
        assert main(["gate", str(run), "--policy", str(tmp_path / "gate.yaml")]) == 2
    assert "in use by another harness run" in capsys.readouterr().err


def test_bless_records_a_fixed_baseline_and_refuses_changes(tmp_path, monkeypatch, capsys):
    reports = tmp_path / "reports"
    incomplete = write_run(reports / "run-c", results(**{"run/id": "run-c", "run/status": "incomplete: terminated"}))
    assert main(["bless", str(incomplete), "--as", "release"]) == 2
    assert "is not complete" in capsys.readouterr().err
    blessed = write_run(reports / "run-b", results(**{"run/id": "run-b"}))
    assert main(["bless", str(blessed), "--as", "release"]) == 0
    record = json.loads((reports / ".blessed" / "release.json").read_text())
    assert record["run"] == "run-b" and record["run_id"] == "run-b" and len(record["results_sha256"]) == 64
    assert main(["bless", str(blessed), "--as", "release"]) == 2                # no silent move
    assert "already blessed" in capsys.readouterr().err
    assert main(["bless", str(blessed), "--as", "../x"]) == 2
    capsys.readouterr()

    monkeypatch.setattr("harness.commands.gate.paired_comparison", lambda b, r: comparison())
    policy = "version: 1\nrules:\n  - {name: e, select: {model: tiny-gpt2}, energy: j_per_example, baseline: {max_increase_pct: 10}}\n"
    code, gated, _, _ = gate(tmp_path, results(), policy, "--baseline", "release", capsys=capsys)
    assert code == 0 and gated["baseline"] == "run-b"
    # gating the blessed run itself adds "gate" to its results.json: still the same baseline
    (tmp_path / "pass.yaml").write_text(PASSING)
    assert main(["gate", str(blessed), "--policy", str(tmp_path / "pass.yaml")]) == 0
    assert "gate" in json.loads((blessed / "results.json").read_text())
    capsys.readouterr()
    code, _, _, _ = gate(tmp_path, results(), policy, "--baseline", "release", capsys=capsys)
    assert code == 0
    # a changed number is refused
    data = json.loads((blessed / "results.json").read_text())
    data["models"]["tiny-gpt2"]["energy"]["j_per_example"]["value"] = 9.0
    (blessed / "results.json").write_text(json.dumps(data))
    run = tmp_path / "reports" / "run-a"
    assert main(["gate", str(run), "--policy", str(tmp_path / "gate.yaml"), "--baseline", "release"]) == 2
    assert "changed since it was blessed" in capsys.readouterr().err


def test_markdown_goes_to_the_github_step_summary_and_escapes_data(tmp_path, monkeypatch, capsys):
    summary = tmp_path / "step_summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    data = results(**{"models/tiny-gpt2/tasks/facts_mc/metrics/accuracy": metric(None, reason="a|b <script>x</script>")})
    code, _, _, _ = gate(tmp_path, data, capsys=capsys)
    text = summary.read_text()
    assert code == 1 and text.startswith("earlier step\n") and "## harness gate: ❌ FAIL" in text
    assert "<script>" not in text and "a\\|b &lt;script&gt;" in text
    assert text.endswith((tmp_path / "summary.md").read_text() + "\n")


def test_junit_survives_control_characters_in_reasons(tmp_path, capsys):
    data = results(**{"models/tiny-gpt2/tasks/facts_mc/metrics/accuracy": metric(None, reason="bad\x00\x1b byte")})
    gate(tmp_path, data, capsys=capsys)
    from junitparser import JUnitXml
    suites = list(JUnitXml.fromfile(str(tmp_path / "junit.xml")))
    assert suites[0].failures == 2                # the floor and the above-chance rule
    assert "bad\ufffd\ufffd byte" in (tmp_path / "junit.xml").read_text()


@pytest.mark.slow
def test_a_real_run_gated_end_to_end(tmp_path, capsys):
    out = tmp_path / "reports"
    assert main(["run", "--model", "tiny-gpt2", "--tasks", "facts_mc", "--limit", "8", "--no-probes", "--no-meters",
                 "--no-progress", "--out", str(out)]) == 0
    run = next(p for p in out.iterdir() if p.is_dir())
    accuracy = json.loads((run / "results.json").read_text())["models"]["tiny-gpt2"]["tasks"]["facts_mc"]["metrics"]["accuracy"]["value"]
    capsys.readouterr()
    policy = tmp_path / "gate.yaml"
    policy.write_text(f"version: 1\nrules:\n  - {{name: floor, select: {{task: facts_mc}}, metric: accuracy, "
                      f"min: {accuracy}, min_n: 8}}\n  - {{name: energy, energy: j_per_example, max: 5, "
                      f"not_measured: skip}}\n")
    assert main(["gate", str(run), "--policy", str(policy), "--junit", str(tmp_path / "j.xml")]) == 0
    assert junit_counts(tmp_path / "j.xml") == (3, 0, 1)
    record = json.loads((run / "results.json").read_text())["gate"]
    assert record["verdict"] == "pass" and "meters were off" in record["rules"][2]["reason"]
    policy.write_text(policy.read_text().replace(f"min: {accuracy}", f"min: {accuracy + 0.01}"))
    assert main(["gate", str(run), "--policy", str(policy), "--junit", str(tmp_path / "j.xml")]) == 1
    assert junit_counts(tmp_path / "j.xml") == (3, 1, 1)
    assert main(["bless", str(run), "--as", "v1"]) == 0


def test_the_comparison_entry_is_found_by_name_by_the_runs_map_or_as_the_only_one():
    from harness.results.comparison import Comparison

    def comparison(**fields) -> Comparison:
        return Comparison.model_validate({"baseline": "b", "source": "runs", **fields})
    by_name = comparison(models={"tiny-gpt2": {}})
    assert by_name.entry_for("tiny-gpt2", "run-a", 2) is by_name.models["tiny-gpt2"]
    keyed = comparison(models={"run-a:tiny-gpt2": {}}, runs={"run-a:tiny-gpt2": {"run_id": "run-a", "model": "tiny-gpt2"}})
    assert keyed.entry_for("tiny-gpt2", "run-a", 2) is keyed.models["run-a:tiny-gpt2"]
    assert keyed.entry_for("minilm", "run-a", 2) is None
    only = comparison(models={"other": {}})
    assert only.entry_for("tiny-gpt2", "run-a", 1) is only.models["other"]     # one model each side
    assert only.entry_for("tiny-gpt2", "run-a", 2) is None


def test_a_planted_regression_against_a_real_baseline_run_fails_through_the_paired_comparison(tmp_path, monkeypatch, capsys):
    """Two real runs of planted classifiers on the same 40 items: the candidate gets 6 items wrong
    that the baseline gets right, so accuracy's paired delta is -0.125 and its CI lies below -0.02."""
    from support import write_task
    tests = Path(__file__).resolve().parent
    monkeypatch.syspath_prepend(str(tests))
    monkeypatch.chdir(tests)
    rows = [{"id": f"q{i}", "text": f"item {i}: label {'a' if i % 2 else 'b'}", "label": "a" if i % 2 else "b"}
            for i in range(40)]
    write_task(tmp_path / "tasks" / "t", "t", rows, kind="classify", prompt="{text}", answer="label", labels=["a", "b"],
               metrics=["accuracy"])

    def run(out: str, wrong: str) -> Path:
        assert main(["run", "--model", f"clf=py:fake_models:PlantedFlips,wrong={wrong}", "--tasks", "t", "--tasks-dir",
                     str(tmp_path / "tasks"), "--no-probes", "--no-meters", "--no-progress",
                     "--out", str(tmp_path / out)]) == 0
        return next(p for p in (tmp_path / out).iterdir() if p.is_dir())

    blessed, same, worse = run("a", "1"), run("b", "1"), run("c", "2-3-4-5-6-7")
    policy = tmp_path / "gate.yaml"
    policy.write_text("version: 1\nrules:\n  - {name: no regression, select: {task: t}, metric: accuracy, "
                      "baseline: {max_drop: 0.02, judge: ci}}\n")
    assert main(["bless", str(blessed), "--as", "release"]) == 0
    capsys.readouterr()
    assert main(["gate", str(same), "--policy", str(policy), "--baseline", str(blessed)]) == 0
    assert main(["gate", str(worse), "--policy", str(policy), "--baseline", str(blessed),
                 "--junit", str(tmp_path / "j.xml")]) == 1
    rule = next(r for r in json.loads((worse / "results.json").read_text())["gate"]["rules"] if r["name"] == "no regression")
    assert rule["verdict"] == "fail" and "delta -0.125" in rule["reason"]     # 6 broken, 1 fixed of 40
    assert junit_counts(tmp_path / "j.xml")[1] == 1
    import sqlite3
    with sqlite3.connect(tmp_path / "c" / "history.sqlite") as db:          # the history entry holds the verdict
        assert db.execute("SELECT gate_verdict FROM runs").fetchall() == [("fail",)]
    with sqlite3.connect(tmp_path / "a" / "history.sqlite") as db:          # one store of blessed names: .blessed/
        assert db.execute("SELECT name FROM baselines").fetchall() == []
    assert json.loads((tmp_path / "a" / ".blessed" / "release.json").read_text())["run"] == blessed.name
    assert main(["history", str(tmp_path / "a"), "--baseline", "release", "--html", str(tmp_path / "h.html")]) == 0
    assert f"baseline: run {blessed.name} where present" in capsys.readouterr().out


# --- a results.json that is not what `harness run` writes: one line, exit 2, in every reader -------------

BROKEN_RESULTS = {
    "not an object": "[1, 2]",
    "null": "null",
    "NaN": '{"schema_version": "2.0", "run": {"id": NaN, "status": "complete"}, "models": {}}',
    "run a list": '{"schema_version": "2.0", "run": [1], "models": {}}',
    "a model a list": '{"schema_version": "2.0", "run": {"id": "r", "status": "complete"}, "models": {"m": [1]}}',
    "tasks a list": '{"schema_version": "2.0", "run": {"id": "r", "status": "complete"}, "models": {"m": {"tasks": [1]}}}',
    "a task a string": '{"schema_version": "2.0", "run": {"id": "r", "status": "complete"}, "models": {"m": {"tasks": {"facts_mc": "x"}}}}',
    "metrics a list": '{"schema_version": "2.0", "run": {"id": "r", "status": "complete"}, "models": {"m": {"tasks": {"facts_mc": '
                      '{"kind": "k", "n": 3, "metrics": [1]}}}}}',
    "a metric a string": '{"schema_version": "2.0", "run": {"id": "r", "status": "complete"}, "models": {"m": {"tasks": {"facts_mc": '
                         '{"kind": "k", "n": 3, "metrics": {"accuracy": "high"}}}}}}',
    "n a string": '{"schema_version": "2.0", "run": {"id": "r", "status": "complete"}, "models": {"m": {"tasks": {"facts_mc": '
                  '{"kind": "k", "n": "3", "metrics": {"accuracy": {"value": 0.5}}}}}}}',
    "failures a mapping": '{"schema_version": "2.0", "run": {"id": "r", "status": "complete", "failures": {"a": 1}}, "models": {}}',
    "failures strings": '{"schema_version": "2.0", "run": {"id": "r", "status": "complete with errors", "failures": ["x"]}, "models": {}}',
    "energy a list": '{"schema_version": "2.0", "run": {"id": "r", "status": "complete"}, "models": {"m": {"energy": [1]}}}',
    "a newer major layout": '{"schema_version": "3.0", "run": {"id": "r", "status": "complete"}, "models": {}}',
    "a layout that never was": '{"schema_version": "two", "run": {"id": "r", "status": "complete"}, "models": {}}',
    "no layout": '{"run": {"id": "r", "status": "complete"}, "models": {}}',
    "a metric value a string": '{"schema_version": "2.0", "run": {"id": "r", "status": "complete"}, "models": {"m": '
                               '{"tasks": {"facts_mc": {"kind": "k", "n": 3, "metrics": {"accuracy": {"value": "0.5"}}}}}}}',
    "a not-measured figure with a value": '{"schema_version": "2.0", "run": {"id": "r", "status": "complete"}, "models": '
                                          '{"m": {"energy": {"total_energy_j": {"value": 3, "unit": "J", '
                                          '"source": "not_measured", "reason": "off"}}}}}',
    "skipped a list": '{"schema_version": "2.0", "run": {"id": "r", "status": "complete"}, "models": {"m": {"skipped": [1]}}}',
}


@pytest.mark.parametrize("command", ["gate", "show", "export", "compare", "bless", "history"])
@pytest.mark.parametrize("name", list(BROKEN_RESULTS))
def test_a_results_json_of_the_wrong_shape_is_one_line_in_every_reader(tmp_path, capsys, command, name):
    reports = tmp_path / "reports"
    good = write_run(reports / "good", results())
    bad = write_run(reports / "bad", results())
    (bad / "results.json").write_text(BROKEN_RESULTS[name])
    policy = tmp_path / "gate.yaml"
    policy.write_text(PASSING)
    argv = {"gate": ["gate", str(bad), "--policy", str(policy)], "show": ["show", str(bad)],
            "export": ["export", str(bad), "--prometheus-textfile", str(tmp_path / "m.prom")],
            "compare": ["compare", str(good), str(bad), "--json", str(tmp_path / "c.json")],
            "bless": ["bless", str(bad), "--as", "v1"],
            "history": ["history", str(reports), "--html", str(tmp_path / "h.html")]}[command]
    code = main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err
    assert "results.json" in err and "fix:" in err
    if command == "history":                       # the other runs still make a history; this one is named
        assert code == 0 and f"{bad} left out of the history" in err
    else:
        assert code == 2, err


def test_control_characters_and_a_huge_reason_keep_junit_and_markdown_valid_and_short(tmp_path, capsys):
    error = "boom \x00\x01\x0b\x1b[31m\x7f\ufffe " + "x" * 200_000
    data = results(**{"run/status": "complete with errors",
                      "run/failures": [{"model": "minilm", "kind": "task", "piece": "topic", "error": error, "fix": "x"}]})
    policy = ('version: 1\nrules:\n  - {name: "ctl \\x01\\x1b\\x7f\\uFFFE end", select: {task: "*"}, '
              'metric: accuracy, min: 0.1}\n')
    code, record, out, err = gate(tmp_path, data, policy, capsys=capsys)
    assert code == 1 and "Traceback" not in err
    root = ET.parse(tmp_path / "junit.xml").getroot()                    # parses: no invalid character left
    failure = root.find("testsuite").find("testcase").find("failure")
    assert failure is not None and len(failure.get("message")) < 2_000 and len(failure.text) < 3_000
    assert (tmp_path / "junit.xml").stat().st_size < 20_000
    assert (tmp_path / "summary.md").stat().st_size < 20_000 and len(out) < 20_000
    assert len(record["rules"][0]["reason"]) < 2_000 and "more characters" in record["rules"][0]["reason"]


def test_a_lone_surrogate_is_refused_in_results_and_in_the_policy(tmp_path, capsys):
    run = write_run(tmp_path / "reports" / "run-a", results())
    (run / "results.json").write_text(json.dumps(results(**{"run/id": "run-\ud800"})))    # JSON escape \ud800
    policy = tmp_path / "gate.yaml"
    policy.write_text(PASSING)
    assert main(["gate", str(run), "--policy", str(policy)]) == 2
    assert "not valid" in capsys.readouterr().err
    run = write_run(tmp_path / "reports" / "run-b", results())
    policy.write_text('version: 1\nrules:\n  - {name: "bad \\uD800", select: {task: "*"}, metric: accuracy, min: 0.1}\n')
    assert main(["gate", str(run), "--policy", str(policy)]) == 2
    assert "`name`" in capsys.readouterr().err


def test_markdown_cells_cannot_make_links_or_images(tmp_path, capsys):
    reason = "see [click](https://evil.example) ![p](https://evil.example/p.png)"
    data = results(**{"models/tiny-gpt2/tasks/facts_mc/metrics/accuracy": metric(None, reason=reason)})
    gate(tmp_path, data, capsys=capsys)
    text = (tmp_path / "summary.md").read_text()
    assert "](" not in text.replace("\\](", "") and "\\[click\\]" in text and "!\\[p\\]" in text


def test_a_gate_whose_every_rule_was_skipped_judged_nothing_and_fails(tmp_path, capsys):
    """`not_measured: skip` on every rule of a CPU run (energy unmetered): no figure was judged, so
    the gate must not read PASS (exit 1: nothing evaluated); one judged rule is enough to pass."""
    data = results(**{"models/tiny-gpt2/energy": energy(j_per_example=None), "models/minilm/energy": energy(j_per_example=None)})
    skip_only = "version: 1\nrules:\n  - {name: e, energy: j_per_example, max: 5, not_measured: skip}\n"
    code, record, out, err = gate(tmp_path / "a", data, skip_only, capsys=capsys)
    assert code == 1 and record["verdict"] == "fail"
    assert record["rules"][-1]["verdict"] == "fail" and "every rule read not measured" in record["rules"][-1]["reason"]
    assert "nothing judged" in err
    judged = skip_only + "  - {name: f, select: {task: facts_mc}, metric: accuracy, min: 0.1}\n"
    code, record, _, _ = gate(tmp_path / "b", data, judged, capsys=capsys)
    assert code == 0 and record["counts"]["skip"] == 2


def test_a_baseline_that_is_a_copy_of_the_gated_run_or_has_failed_pieces_is_refused(tmp_path, capsys):
    run = write_run(tmp_path / "reports" / "run-a", results())
    (tmp_path / "gate.yaml").write_text(PASSING)
    copy = write_run(tmp_path / "elsewhere" / "run-a", results())                  # the same run id
    failed = write_run(tmp_path / "elsewhere" / "run-f", results(**{
        "run/id": "run-f", "run/failures": [{"model": "minilm", "kind": "task", "piece": "topic", "error": "boom", "fix": "x"}]}))
    for baseline, needle in ((copy, "is the gated run itself"), (failed, "failed")):
        assert main(["gate", str(run), "--policy", str(tmp_path / "gate.yaml"), "--baseline", str(baseline)]) == 2
        err = capsys.readouterr().err
        assert needle in err and len(err.strip().splitlines()) == 1, err


def test_a_blessed_record_cannot_point_outside_the_reports_folder(tmp_path, capsys):
    reports = tmp_path / "reports"
    blessed = write_run(reports / "run-b", results(**{"run/id": "run-b"}))
    outside = write_run(tmp_path / "outside", results(**{"run/id": "run-o"}))
    run = write_run(reports / "run-a", results())
    (tmp_path / "gate.yaml").write_text(PASSING)
    assert main(["bless", str(blessed), "--as", "v1"]) == 0
    record_path = reports / ".blessed" / "v1.json"
    record = json.loads(record_path.read_text())
    from harness.gate.baseline import core_digest, file_digest
    for target in ("../outside", str(outside)):                   # edited to name a folder elsewhere, digests to match
        record.update(run=target, results_sha256=core_digest(json.loads((outside / "results.json").read_text())),
                      samples_sha256=file_digest(outside / "samples.jsonl"))
        record_path.write_text(json.dumps(record))
        capsys.readouterr()
        assert main(["gate", str(run), "--policy", str(tmp_path / "gate.yaml"), "--baseline", "v1"]) == 2
        assert "not a blessed-baseline record" in capsys.readouterr().err


def test_an_empty_baseline_is_bad_input_not_no_baseline(tmp_path, capsys):
    run = write_run(tmp_path / "reports" / "run-a", results())
    (tmp_path / "gate.yaml").write_text(PASSING)
    assert main(["gate", str(run), "--policy", str(tmp_path / "gate.yaml"), "--baseline", ""]) == 2
    assert "--baseline" in capsys.readouterr().err


@pytest.mark.parametrize("existing", [b"\xff\x00", b"[1]", b"{"])
def test_bless_over_a_damaged_record_or_into_a_blocked_folder_is_one_line(tmp_path, capsys, existing):
    reports = tmp_path / "reports"
    run = write_run(reports / "run-b", results(**{"run/id": "run-b"}))
    (reports / ".blessed").mkdir()
    (reports / ".blessed" / "v1.json").write_bytes(existing)
    assert main(["bless", str(run), "--as", "v1"]) == 2
    assert "already blessed" in capsys.readouterr().err          # still refused without --force, never a traceback
    assert main(["bless", str(run), "--as", "v1", "--force"]) == 0
    (reports / ".blessed" / "v1.json").unlink()
    (reports / ".blessed").rmdir()
    (reports / ".blessed").write_text("not a folder")
    capsys.readouterr()
    assert main(["bless", str(run), "--as", "v2"]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_a_baseline_on_other_items_names_a_fix_the_gate_has(tmp_path, capsys):
    """compare's refusal says `--intersection`, a flag `harness gate` does not take: the gate's own
    error says what to do instead."""
    def records(n: int) -> str:
        return "".join(json.dumps({"model": "tiny-gpt2", "task": "facts_mc", "id": f"q{i}", "index": i,
                                   "input": f"q{i}", "prediction": "a", "reference": "a", "scores": {"accuracy": 1.0},
                                   "views": {}, "details": {}}) + "\n" for i in range(n))
    run = write_run(tmp_path / "reports" / "run-a", results())
    (run / "samples.jsonl").write_text(records(40))
    base = write_run(tmp_path / "reports" / "run-b", results(**{"run/id": "run-b"}))
    (base / "samples.jsonl").write_text(records(20))
    (tmp_path / "gate.yaml").write_text("version: 1\nrules:\n  - {name: r, select: {task: facts_mc}, metric: accuracy, "
                                        "baseline: {max_drop: 0.02}}\n")
    assert main(["gate", str(run), "--policy", str(tmp_path / "gate.yaml"), "--baseline", str(base)]) == 2
    err = capsys.readouterr().err
    assert "not run on the same items" in err and "--intersection" not in err and "same tasks" in err


@pytest.mark.parametrize("text, code", [
    ('{"schema_version": "2.0", "run": {"id": "r", "status": "complete"}, "models": {"m": {}}}', 0),
    ('{"schema_version": "2.0", "run": {"id": "r", "status": "complete"}, "models": {"m": {"tasks": {"t": {"kind": "k", '
     '"n": 1, "metrics": {"accuracy": {"value": 0.5}}}}, "probes": {"p": {"metrics": {}}}}}}', 0),
    ('{"schema_version": "2.0", "run": {"id": "r", "status": "complete"}, "models": {"m": {"tasks": {"t": {"metrics": '
     '{"accuracy": {"value": 0.5}}}}}}}', 2),                  # a task without its kind and n: refused, not misread
    ('{"schema_version": "2.0", "run": {"id": "r", "status": "complete with errors", "failures": [{}]}, "models": {}}', 2),
    ('{"schema_version": 1, "run": {"id": "r", "status": "complete with errors", "failures": [{}]}, "models": {}}', 2),
])
def test_show_reads_a_results_json_with_optional_keys_left_out_and_refuses_missing_ones(tmp_path, capsys, text, code):
    (tmp_path / "results.json").write_text(text)
    assert main(["show", str(tmp_path)]) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err and (code == 0 or len(err.strip().splitlines()) == 1), err


def test_a_damaged_history_index_is_a_warning_not_the_gate_or_bless_exit_code(tmp_path, capsys):
    """The verdict is the gate's exit code; the history index is a side record, as in `harness run`."""
    reports = tmp_path / "reports"
    run = write_run(reports / "run-a", results())
    (reports / "history.sqlite").write_text("not a database")
    (tmp_path / "gate.yaml").write_text(PASSING)
    assert main(["gate", str(run), "--policy", str(tmp_path / "gate.yaml")]) == 0
    assert "warning" in capsys.readouterr().err
    assert json.loads((run / "results.json").read_text())["gate"]["verdict"] == "pass"
    failing = PASSING.replace("min: 0.5", "min: 0.99")
    (tmp_path / "gate.yaml").write_text(failing)
    assert main(["gate", str(run), "--policy", str(tmp_path / "gate.yaml")]) == 1
    capsys.readouterr()
    assert main(["bless", str(run), "--as", "v1"]) == 0                    # bless writes no index: nothing to warn of
    assert "warning" not in capsys.readouterr().err and (reports / ".blessed" / "v1.json").is_file()


def test_a_failed_task_whose_name_holds_a_quote_reads_as_failed(tmp_path, capsys):
    """The failure is data (kind, piece): no display text is parsed back (`task "it's"` once missed)."""
    import results_builder as rb
    data = results(**{"run/status": "complete with errors",
                      "run/failures": [rb.failure("minilm", "task", "it's").to_json()]})
    policy = "version: 1\nallow_errors: true\nrules:\n  - {name: q, select: {task: \"it*\"}, metric: accuracy, min: 0.1}\n"
    code, record, _, _ = gate(tmp_path, data, policy, capsys=capsys)
    assert code == 1 and "task \"it's\" failed for model 'minilm'" in record["rules"][1]["reason"]
