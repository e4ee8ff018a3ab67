"""The gate policy schema: parsing into dataclasses, one-line errors, and the name tables kept in
step with the registries and the energy objects."""
from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
import yaml

from harness.errors import HarnessError
from harness.gate.names import probe_metrics, task_metrics, vocabulary
from harness.gate.policy import (ENERGY_FIGURES, BaselineChange, BaselineDrop, Bounds, Deviation, Energy, Metric,
                                 check_names, load_policy, parse_policy)

from gate_fixtures import results


def _policy(tmp_path: Path, text: str):
    path = tmp_path / "gate.yaml"
    path.write_text(textwrap.dedent(text))
    return load_policy(path)


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(HarnessError) as info:
        _policy(tmp_path, text)
    message = str(info.value)
    assert "\n" not in message and "fix:" in message
    return message


def test_the_issue_example_parses_into_typed_rules(tmp_path):
    policy = _policy(tmp_path, """
        version: 1
        defaults: {not_measured: warn}
        rules:
          - name: facts accuracy floor
            select: {model: "*", task: facts_mc}
            metric: accuracy
            min: 0.5
            min_n: 20
            not_measured: fail
          - name: no accuracy regression vs blessed
            select: {task: "*"}
            metric: accuracy
            baseline: {max_drop: 0.02, judge: ci}
          - name: relative, tested
            select: {task: "*"}
            metric: accuracy
            baseline: {max_drop_pct: 5, judge: test, alpha: 0.05}
          - name: energy budget
            energy: j_per_example
            max: 5.0
          - name: energy vs baseline
            select: {task: "*"}
            energy: gco2e_per_1000_examples
            baseline: {max_increase_pct: 10}
          - name: stereotype preference
            select: {probe: crows_pairs}
            metric: stereotype_preference_pct
            max_abs_deviation: {from: 50, max: 10}
        """)
    floor, drop, tested, budget, carbon, stereo = policy.rules
    assert floor.check == Bounds(min=0.5) and floor.min_n == 20 and floor.not_measured == "fail"
    assert floor.select.task == "facts_mc" and floor.select.scope == "task" and floor.quantity == Metric("accuracy")
    assert drop.check == BaselineDrop(max_drop=0.02, judge="ci") and drop.not_measured == "warn"   # the default
    assert tested.check == BaselineDrop(max_drop_pct=5.0, judge="test", alpha=0.05)
    assert budget.quantity == Energy("j_per_example") and budget.select.scope == "model" and budget.check == Bounds(max=5.0)
    assert carbon.check == BaselineChange(10.0, higher_is_better=False)
    assert stereo.check == Deviation(50.0, 10.0) and stereo.select.scope == "probe"
    assert policy.uses_baseline and policy.uses_comparison and len(policy.sha256) == 64


@pytest.mark.parametrize("text, needles", [
    ("version: 1\nrules:\n  - name: a\n    select: {task: x\n", ["malformed YAML", "gate.yaml:"]),
    ("version: 1\nrules:\n  - name: a\n    select: {task: '*'}\n    metric: accuracy\n    min: '0.5'\n",
     ["`min` must be a number", "a string"]),
    ("version: 1\nrules:\n  - name: a\n    select: {task: '*'}\n    metric: accuracy\n    min: true\n",
     ["`min` must be a number"]),
    ("version: 1\nrules:\n  - name: a\n    select: {task: '*'}\n    metric: accuracy\n    min: .nan\n",
     ["finite"]),
    ("version: 1\nrules:\n  - name: a\n    select: {task: '*'}\n    metric: accuracy\n    mni: 0.5\n",
     ["unknown key 'mni'", "did you mean min"]),
    ("version: 1\nrules:\n  - name: a\n    energy: j_per_exampel\n    max: 5\n",
     ["unknown energy figure 'j_per_exampel'", "did you mean j_per_example"]),
    ("version: 1\nrules:\n  - name: a\n    select: {tsak: facts_mc}\n    metric: accuracy\n    min: 0.5\n",
     ["unknown key 'tsak'", "did you mean task"]),
    ("version: 1\nrules:\n  - name: a\n    select: {task: '*'}\n    metric: accuracy\n    min: 0.5\n    max: 0.9\n"
     "    baseline: {max_drop: 0.1}\n", ["exactly one check"]),
    ("version: 1\nrules:\n  - name: a\n    select: {task: '*'}\n    metric: accuracy\n", ["exactly one check"]),
    ("version: 1\nrules:\n  - name: a\n    metric: accuracy\n    min: 0.5\n", ["must select tasks or probes"]),
    ("version: 1\nrules:\n  - name: a\n    select: {task: '*'}\n    metric: accuracy\n    min: 0.5\n"
     "    not_measured: warning\n", ["`not_measured` must be one of fail, warn, skip", "did you mean 'warn'"]),
    ("version: 1\nrules:\n  - name: a\n    select: {task: '*'}\n    metric: accuracy\n    min_n: 2.5\n    min: 0\n",
     ["`min_n` must be a whole number"]),
    ("version: 1\nrules:\n  - name: a\n    select: {task: '*'}\n    metric: accuracy\n"
     "    baseline: {max_drop: 0.02, judge: bayes}\n", ["`judge` must be one of ci, test"]),
    ("version: 1\nrules:\n  - name: a\n    select: {task: '*'}\n    metric: accuracy\n"
     "    baseline: {max_increase_pct: 5}\n", ["takes one of `max_drop` and `max_drop_pct`"]),
    ("version: 1\nrules:\n  - name: a\n    energy: j_per_example\n    baseline: {max_drop: 0.5}\n",
     ["takes `max_increase_pct` and optionally `alpha`"]),
    ("version: 1\nrules:\n  - name: a\n    energy: examples_per_j\n    baseline: {max_increase_pct: 5}\n",
     ["takes `max_drop_pct` and optionally `alpha`"]),
    ("version: 2\nrules: []\n", ["unsupported version 2"]),
    ("rules: []\n", ["no `version`"]),
    ("version: 1\nrules: []\n", ["`rules` must be a non-empty list"]),
    ("", ["the file is empty"]),
    ("- a\n- b\n", ["the policy must be a mapping"]),
    ("version: 1\nrules:\n  - name: a\n    select: {task: '*'}\n    metric: accuracy\n    min: 0.9\n    max: 0.1\n",
     ["above `max`"]),
    ("version: 1\nrules:\n  - {name: a, energy: gco2e, max: 1}\n  - {name: a, energy: gco2e, max: 2}\n",
     ["two rules are named 'a'"]),
])
def test_a_bad_policy_is_one_line_naming_the_problem(tmp_path, text, needles):
    message = _error(tmp_path, text)
    for needle in needles:
        assert needle in message, message


def test_names_are_checked_against_the_run_with_close_matches():
    known = vocabulary([results()])

    def problem(rule: dict) -> str:
        with pytest.raises(HarnessError) as info:
            check_names(parse_policy({"version": 1, "rules": [{"name": "r", **rule}]}), known)
        return str(info.value)
    assert "unknown task metric 'acuracy'" in problem({"select": {"task": "*"}, "metric": "acuracy", "min": 0.5})
    assert "did you mean accuracy" in problem({"select": {"task": "*"}, "metric": "acuracy", "min": 0.5})
    assert "did you mean stereotype_preference_pct" in problem(
        {"select": {"probe": "crows_pairs"}, "metric": "stereotype_preference", "max": 60})
    assert "unknown task 'fact_mc'" in problem({"select": {"task": "fact_mc"}, "metric": "accuracy", "min": 0.5})
    assert "did you mean facts_mc" in problem({"select": {"task": "fact_mc"}, "metric": "accuracy", "min": 0.5})
    # globs, the robustness family and names only the run reports are fine
    for rule in ({"select": {"task": "*"}, "metric": "rouge*", "min": 0.1},
                 {"select": {"probe": "robustness"}, "metric": "stories.worst_case_rouge1", "min": 0.1},
                 {"select": {"probe": "bbq"}, "metric": "bias_score_ambiguous", "max": 0.1},
                 {"select": {"model": "no-such-model", "task": "toylang"}, "metric": "bleu", "min": 10}):
        check_names(parse_policy({"version": 1, "rules": [{"name": "r", **rule}]}), known)


def test_the_gates_names_are_read_from_the_registries_not_kept_beside_them():
    """No hand-kept table: task metrics come from METRICS and the task kinds, probe metrics from each
    probe's ``metrics`` declaration, which its summarize keeps to."""
    from fnmatch import fnmatchcase

    from harness.plugins import METRICS, PROBES, TASK_KINDS
    from harness.probes.base import ProbeConfig
    names = task_metrics()
    assert set(METRICS.names()) <= names and {"accuracy_norm", "bleu", "word_perplexity"} <= names
    assert {m for _, kind in TASK_KINDS.items() for m in kind.default_metrics} <= names
    declared = probe_metrics()
    assert set(PROBES.names()) == set(declared) and all(declared.values())
    for name, cls in PROBES.items():
        reported = set(cls().summarize([], ProbeConfig(name=name, probe=name), 1234).get("metrics", {}))
        assert all(any(fnmatchcase(m, d) for d in declared[name]) for m in reported), (name, reported)
    known = vocabulary([])
    assert known.probe_metric_patterns == ("*.worst_case_*",) and "flag_rate_card" in known.probe_metrics


def test_a_plugin_probes_declared_metrics_are_known_before_any_run_reports_them():
    from harness.plugins import PROBES

    class Plugin:
        name, params, metrics = "toxicity_plugin", (), ("toxic_rate",)
    PROBES.add("toxicity_plugin", Plugin, origin="tests")
    try:
        policy = parse_policy({"version": 1, "rules": [{"name": "r", "select": {"probe": "toxicity_plugin"},
                                                          "metric": "toxic_rate", "max": 0.1}]})
        check_names(policy, vocabulary([]))
        with pytest.raises(HarnessError, match="did you mean toxic_rate"):
            check_names(parse_policy({"version": 1, "rules": [{"name": "r", "select": {"probe": "toxicity_plugin"},
                                                                 "metric": "toxic_rat", "max": 0.1}]}), vocabulary([]))
    finally:
        PROBES._items.pop("toxicity_plugin"), PROBES._origins.pop("toxicity_plugin")


def test_the_energy_figure_table_matches_energy_objects():
    from harness.meters.carbon import CarbonIntensity
    from harness.meters.energy import energy_object
    agg = {"duration_s": 2.0, "invocations": 1, "examples": 4, "generated_tokens": 10, "throttle_s": {},
           "short_window": False, "windows": 1,
           **{k: {"value": 1.0, "unit": "J", "source": "rapl"} for k in
              ("gpu_energy_j", "gpu_energy_integrated_j", "gpu_energy_net_j", "cpu_energy_j", "ram_energy_j")},
           "gpu_energy_discrepancy_pct": {"value": 1.0, "unit": "%", "source": "nvml_power_integrated"},
           "gpu_power_peak_w": {"value": 1.0, "unit": "W", "source": "rapl"}}
    out = energy_object(agg, CarbonIntensity(400.0, "given", 1.0), {"bleu": {"value": 3.0}}, "generate")
    figures = {k for k, v in out.items() if isinstance(v, dict) and "source" in v}
    assert figures == set(ENERGY_FIGURES)
    assert set(out["quality_per_kj"]) == {"bleu"}


def _readme_blocks() -> list[str]:
    from support import REPO
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Release gate"):]
    section = section[:section.index("\n## ", 1)]           # that section only
    return re.findall(r"```yaml\n(.*?)```", section, re.S)


def test_the_readme_and_example_policies_are_valid():
    from support import REPO
    policy_block, workflow_block = _readme_blocks()
    known = vocabulary([])
    for policy in (parse_policy(yaml.safe_load(policy_block), "README"),
                   load_policy(REPO / "examples" / "gate.yaml")):
        check_names(policy, known)
        assert policy.rules
    workflow = yaml.safe_load(workflow_block)
    steps = {step.get("name"): step for step in workflow["jobs"]["audit"]["steps"]}
    assert "harness run" in steps["audit"]["run"]
    assert steps["gate"]["run"].startswith("harness gate ") and "--junit gate-junit.xml" in steps["gate"]["run"]
    assert "\n" not in steps["gate"]["run"]


@pytest.mark.parametrize("reader", ["policy", "task"])
def test_yaml_nested_past_the_parser_stack_is_one_line(tmp_path, reader):
    """PyYAML recurses once per nesting level: 5000 `[` would be a RecursionError traceback."""
    from harness.spec import read_yaml
    path = tmp_path / "deep.yaml"
    path.write_text("[" * 5000 + "]" * 5000)
    with pytest.raises(HarnessError, match="nested too deeply"):
        load_policy(path) if reader == "policy" else read_yaml(path)


def test_a_task_yaml_that_is_not_utf8_is_one_line(tmp_path):
    from harness.spec import read_yaml
    path = tmp_path / "task.yaml"
    path.write_bytes(b"name: \xff\xfe\n")
    with pytest.raises(HarnessError, match="not UTF-8"):
        read_yaml(path)


def test_a_policy_path_that_never_ends_is_refused_not_read_forever(tmp_path):
    from harness.errors import HarnessError
    from harness.gate.policy import load_policy
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (2**20 + 10))
    for path in (Path("/dev/zero"), big):
        if path.exists():
            with pytest.raises(HarnessError, match="larger than 1 MiB"):
                load_policy(path)


DUPLICATED = {
    "a key given twice in one rule": ("""
        version: 1
        rules:
          - name: facts accuracy floor
            select: {task: facts_mc}
            metric: accuracy
            min: 0.99
            min: 0.0
        """, "key 'min' is given twice (first at line 7)", ":8:"),
    "a second rules list": ("""
        version: 1
        rules:
          - name: facts accuracy floor
            select: {task: facts_mc}
            metric: accuracy
            min: 0.99
        rules:
          - name: anything goes
            select: {task: facts_mc}
            metric: accuracy
            min: 0.0
        """, "key 'rules' is given twice (first at line 3)", ":8:"),
}


@pytest.mark.parametrize("case", DUPLICATED)
def test_a_key_given_twice_in_a_policy_is_refused_not_the_last_one_kept(tmp_path, capsys, case):
    """Both policies passed a run at accuracy 0.44 (YAML keeps the last value: min 0.0, and the
    second list alone); the policy is read by harness.yamlfile like every YAML file, which names both lines."""
    from harness.cli import main
    from gate_fixtures import metric, write_run
    text, problem, second_line = DUPLICATED[case]
    run = write_run(tmp_path / "reports" / "run-a", results(**{"models/tiny-gpt2/tasks/facts_mc/metrics/accuracy":
                                                                metric(0.44)}))
    policy = tmp_path / "gate.yaml"
    policy.write_text(textwrap.dedent(text))
    assert main(["gate", str(run), "--policy", str(policy)]) == 2
    err = capsys.readouterr().err
    assert problem in err and f"gate.yaml{second_line}" in err and len(err.strip().splitlines()) == 1


def test_a_policy_is_read_through_the_one_yaml_reader(tmp_path, monkeypatch):
    """No second YAML reader: load_policy goes through harness.yamlfile (size cap, duplicate keys, errors)."""
    import harness.yamlfile as yamlfile
    seen = []
    real = yamlfile.parse_yaml
    monkeypatch.setattr(yamlfile, "parse_yaml", lambda data, path, what: seen.append(what) or real(data, path, what))
    _policy(tmp_path, "version: 1\nrules:\n  - {name: r, select: {task: '*'}, metric: accuracy, min: 0.5}\n")
    assert seen == ["policy"]
