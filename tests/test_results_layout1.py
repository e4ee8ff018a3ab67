"""Every reader of results.json given a run folder of layout 1 (tests/fixtures/layout1-run: the
default audit as the previous harness wrote it, trimmed to four tasks and four probes): each reads
it migrated (the one not-measured spelling, typed failures), or refuses it in one line; none
misreads it."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from support import REPO
from harness.results.types import SCHEMA_VERSION
from run_folders import in_process

FIXTURE = REPO / "tests" / "fixtures" / "layout1-run"
RUN_ID = "20261206-011210-64a6"
BBQ_REASON = "no items (none applied, or all were too long for the model)"
GATE = """version: 1
rules:
  - {name: floor, select: {model: tiny-gpt2, task: facts_mc}, metric: accuracy, min: 0.5}
  - {name: bbq, select: {probe: bbq}, metric: accuracy_disambiguated, min: 0.1}
  - {name: energy, select: {model: tiny-gpt2}, energy: j_per_example, max: 100}
  - {name: regression, select: {task: facts_mc}, metric: accuracy, baseline: {max_drop: 0.02}}
"""


def layout_1_run(reports: Path, run_id: str = RUN_ID, failures: list | None = None) -> Path:
    """A copy of the fixture in ``reports``, as run ``run_id`` (and with layout-1 ``failures``)."""
    folder = reports / run_id
    shutil.copytree(FIXTURE, folder)
    raw = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    assert raw["schema_version"] == 1
    raw["run"]["id"] = run_id
    if failures is not None:
        raw["run"].update(failures=failures, status="complete with errors")
    (folder / "results.json").write_text(json.dumps(raw), encoding="utf-8")
    return folder


def test_show_reads_layout_1_with_its_reasons(tmp_path, capsys):
    run = layout_1_run(tmp_path, failures=[{"model": "minilm", "what": "probe 'weat'", "error": "boom", "fix": "x"}])
    proc = in_process(capsys, "show", str(run))
    assert proc.returncode == 0, proc.stderr
    assert f"not measured for tiny-gpt2: probe:bbq accuracy_disambiguated: {BBQ_REASON}" in proc.stdout
    assert "FAILED for minilm: probe 'weat': boom" in proc.stdout
    assert f"run {RUN_ID}: complete with errors" in proc.stdout


def test_gate_and_bless_read_layout_1_and_its_digest_still_matches(tmp_path, capsys):
    reports = tmp_path / "reports"
    baseline = layout_1_run(reports, "20261206-011210-base")
    gated = layout_1_run(reports, RUN_ID)
    policy = tmp_path / "gate.yaml"
    policy.write_text(GATE)
    assert in_process(capsys, "bless", str(baseline), "--as", "release").returncode == 0
    before = (baseline / "results.json").read_bytes()
    proc = in_process(capsys, "gate", str(gated), "--policy", str(policy), "--baseline", "release")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert (baseline / "results.json").read_bytes() == before          # the blessed layout-1 run is left as it was
    written = json.loads((gated / "results.json").read_text())
    assert written["schema_version"] == SCHEMA_VERSION                        # the gated run is written back in layout 2
    rules = {r["name"]: r for r in written["gate"]["rules"]}
    assert rules["floor"]["verdict"] == "pass" and rules["floor"]["value"] == 0.59375
    assert rules["bbq"]["verdict"] == "fail" and BBQ_REASON in rules["bbq"]["reason"]
    assert rules["energy"]["verdict"] == "pass"
    regression = rules["regression"]                 # identical items, but 32 of them cannot resolve a drop of 0.02
    assert regression["verdict"] == "warn" and "delta +0" in regression["reason"]
    assert "cannot detect its own max_drop 0.02" in regression["reason"] and regression["power"]["n"] == 32


def test_gate_reads_a_layout_1_failure_of_a_task_whose_name_holds_a_quote(tmp_path, capsys):
    """Layout 1 wrote `task "it's"` (repr's double quotes), which the gate's old pattern missed."""
    run = layout_1_run(tmp_path / "reports", failures=[{"model": "tiny-gpt2", "what": 'task "it\'s"',
                                                        "error": "boom", "fix": "x"}])
    policy = tmp_path / "gate.yaml"
    policy.write_text("version: 1\nallow_errors: true\nrules:\n  - {name: q, select: {task: \"it*\"}, metric: accuracy, "
                      "min: 0.1}\n")
    assert in_process(capsys, "gate", str(run), "--policy", str(policy)).returncode == 1
    reason = json.loads((run / "results.json").read_text())["gate"]["rules"][1]["reason"]
    assert "task \"it's\" failed for model 'tiny-gpt2'" in reason, reason


def test_compare_reads_layout_1_runs(tmp_path, capsys):
    a = layout_1_run(tmp_path, "20261206-011210-aaaa")
    b = layout_1_run(tmp_path, "20261206-011210-bbbb")
    proc = in_process(capsys, "compare", str(a), str(b), "--json", str(tmp_path / "c.json"))
    assert proc.returncode == 0, proc.stderr
    comparison = json.loads((tmp_path / "c.json").read_text())["comparison"]
    other = comparison["models"]["tiny-gpt2@20261206-011210-bbbb"]          # models pair by name
    stat = other["tasks"]["facts_mc"]["accuracy"]
    assert stat["n"] == 32 and stat["delta"] == 0.0
    bbq = other["probes"]["bbq"]
    assert all("not_measured" not in s for s in bbq.values())


def test_run_baseline_compares_a_layout_1_results_on_resume(tmp_path):
    """`harness run --baseline` reads the run's results through the types (the consumer is handed
    them as written, e.g. by a resume of an older run folder)."""
    from harness.compare.after_run import after_run
    from harness.finish import FinishedRun
    from harness.spec import ModelSpec, RunSpec
    run = layout_1_run(tmp_path)
    raw = json.loads((run / "results.json").read_text())
    spec = RunSpec(models=(ModelSpec.parse("tiny-gpt2"), ModelSpec.parse("minilm")), tasks=(), baseline="tiny-gpt2")
    updated = after_run(None, FinishedRun(run, spec, raw))
    assert updated.comparison.baseline == "tiny-gpt2" and list(updated.comparison.models) == ["minilm"]
    assert updated.to_json()["schema_version"] == SCHEMA_VERSION


def test_history_reads_layout_1(tmp_path, capsys):
    layout_1_run(tmp_path)
    proc = in_process(capsys, "history", str(tmp_path), "--metric", "accuracy_disambiguated", "--metric", "accuracy",
                      "--html", str(tmp_path / "h.html"))
    assert proc.returncode == 0 and "left out" not in proc.stderr, proc.stderr
    import sqlite3
    with sqlite3.connect(tmp_path / "history.sqlite") as db:
        rows = dict(db.execute("SELECT metric, reason FROM figures WHERE metric IN ('accuracy', 'accuracy_disambiguated')"))
    assert rows["accuracy_disambiguated"] == f"not measured: {BBQ_REASON}" and rows["accuracy"] == ""


def test_exports_read_layout_1(tmp_path, capsys):
    pytest.importorskip("prometheus_client")
    run = layout_1_run(tmp_path)
    prom = tmp_path / "m.prom"
    proc = in_process(capsys, "export", str(run), "--prometheus-textfile", str(prom))
    assert proc.returncode == 0, proc.stderr
    text = prom.read_text()
    assert 'harness_task_metric{metric="accuracy",model="tiny-gpt2",task="facts_mc"} 0.59375' in text
    assert f'figure="harness_probe_metric:accuracy_disambiguated",model="tiny-gpt2",reason="{BBQ_REASON}"' in text
    from harness.exports.tensorboard import scalars
    values, missing = scalars(json.loads((run / "results.json").read_text()))
    assert values["tiny-gpt2/task/facts_mc/accuracy"] == 0.59375
    assert f"tiny-gpt2/probe/bbq/accuracy_disambiguated: {BBQ_REASON}" in missing


def test_the_report_reads_layout_1(tmp_path):
    from harness.report import render_html
    from harness.store import SampleStore
    run = layout_1_run(tmp_path)
    html = render_html(json.loads((run / "results.json").read_text()), SampleStore(run / "samples.jsonl").records())
    assert f"not measured: {BBQ_REASON}" in html and "GPU meter: NVML Shared Library Not Found" in html


def test_a_layout_1_file_that_cannot_be_migrated_is_refused_in_one_line_by_every_reader(tmp_path, capsys):
    run = layout_1_run(tmp_path / "reports", failures=[{"model": "m", "what": "lunch", "error": "e", "fix": "f"}])
    policy = tmp_path / "gate.yaml"
    policy.write_text(GATE)
    for argv in (["show", str(run)], ["gate", str(run), "--policy", str(policy)],
                 ["export", str(run), "--prometheus-textfile", str(tmp_path / "m.prom")], ["bless", str(run), "--as", "x"]):
        proc = in_process(capsys, *argv)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, (argv, proc.stderr)
        assert "names no load, task or probe" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
