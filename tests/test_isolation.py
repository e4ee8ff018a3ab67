"""One failing piece (a model's load, a task, a probe) is recorded and the rest of the audit goes on;
the run ends "complete with errors" with exit 3 and one line saying what failed."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from support import assert_finished_with_errors, run_cli, write_task
from harness.failures import isolated
from harness.errors import HarnessError, ModelFault
from harness.run_dir import RunState
from harness.spec import ModelSpec, RunSpec

TESTS = Path(__file__).resolve().parent
MC_ROWS = [{"id": f"q{i}", "question": f"question {i}", "choices": ["aaa", "b", "cc"], "answer": 1} for i in range(40)]


@pytest.fixture
def mc_task_dir(tmp_path):
    write_task(tmp_path / "tasks" / "mc", "mc", MC_ROWS, kind="multiple_choice", prompt="{question}")
    return tmp_path / "tasks"


def _results(out: Path) -> tuple[Path, dict]:
    run_dir = next(p for p in out.iterdir() if p.is_dir())
    return run_dir, json.loads((run_dir / "results.json").read_text())


def test_a_task_failure_is_recorded_and_the_next_model_still_runs(mc_task_dir, tmp_path):
    proc = run_cli("run", "--model", "a=py:fake_models:ShortestChoice,fail_after=3", "--model",
                   "b=py:fake_models:ShortestChoice", "--tasks", "mc", "--tasks-dir", str(mc_task_dir),
                   "--batch-size", "6", "--out", str(tmp_path / "out"), "--no-probes", "--no-meters", cwd=TESTS)
    assert_finished_with_errors(proc, "model 'a'", "task 'mc'", "simulated model failure")
    run_dir, results = _results(tmp_path / "out")
    assert results["run"]["status"] == "complete with errors" and results["run"]["finished"]
    assert results["run"]["failures"] == [{"model": "a", "kind": "task", "piece": "mc",
                                           "error": "model 'a' raised ValueError on task 'mc': simulated model failure",
                                           "fix": "fix the model, or leave the task out with --tasks (probes with --probes)"}]
    assert results["models"]["a"]["tasks"]["mc"]["n"] == 6            # what was computed before it failed is kept
    assert results["models"]["b"]["tasks"]["mc"]["n"] == 40 and results["models"]["b"]["tasks"]["mc"]["complete"]
    assert "simulated model failure" in (run_dir / "report.html").read_text()
    assert "FAILED for a: task 'mc'" in proc.stdout


def test_a_probe_failure_keeps_the_tasks_and_the_other_model(mc_task_dir, tmp_path):
    # 120 requests in batches of 64 -> the task takes 2 calls; the robustness probe's first call fails
    proc = run_cli("run", "--model", "a=py:fake_models:ShortestChoice,fail_after=2", "--model",
                   "b=py:fake_models:ShortestChoice", "--tasks", "mc", "--tasks-dir", str(mc_task_dir),
                   "--batch-size", "64", "--probes", "robustness", "--probe-limit", "5", "--out", str(tmp_path / "out"),
                   "--no-meters", cwd=TESTS)
    assert_finished_with_errors(proc, "model 'a'", "probe 'robustness'")
    _, results = _results(tmp_path / "out")
    a, b = results["models"]["a"], results["models"]["b"]
    assert a["tasks"]["mc"]["complete"] and "robustness" not in a["probes_done"]
    assert b["probes"]["robustness"]["n"] > 0 and b["probes_done"] == ["robustness"]
    assert [(f["kind"], f["piece"]) for f in results["run"]["failures"]] == [("probe", "robustness")]


def test_a_model_that_fails_to_load_is_recorded_and_the_next_runs(mc_task_dir, tmp_path):
    proc = run_cli("run", "--model", "broken=py:fake_models:FailsToLoad", "--model", "ok=py:fake_models:ShortestChoice",
                   "--tasks", "mc", "--tasks-dir", str(mc_task_dir), "--out", str(tmp_path / "out"), "--no-probes",
                   "--no-meters", cwd=TESTS)
    assert_finished_with_errors(proc, "model 'broken'", "load", "simulated corrupt weights")
    _, results = _results(tmp_path / "out")
    assert "broken" not in results["models"] and results["models"]["ok"]["tasks"]["mc"]["n"] == 40


def test_a_run_that_evaluates_nothing_does_not_pass(tmp_path):
    # minilm answers classification only: facts_mc (log-likelihood) is skipped, and no probe is asked for
    proc = run_cli("run", "--model", "minilm", "--tasks", "facts_mc", "--limit", "2", "--no-probes", "--no-meters",
                   "--out", str(tmp_path / "out"))
    assert_finished_with_errors(proc, "nothing evaluated", "skipped")
    _, results = _results(tmp_path / "out")
    assert results["run"]["status"].startswith("nothing evaluated")


def test_probes_done_never_lists_a_skipped_probe(mc_task_dir, tmp_path):
    # counterfactual needs classify or generate tasks; the model ran only a multiple-choice task
    proc = run_cli("run", "--model", "py:fake_models:ShortestChoice", "--tasks", "mc", "--tasks-dir", str(mc_task_dir),
                   "--probes", "counterfactual", "--out", str(tmp_path / "out"), "--no-meters", cwd=TESTS)
    assert proc.returncode == 0, proc.stderr
    _, results = _results(tmp_path / "out")
    model = results["models"]["py:fake_models:ShortestChoice"]
    assert "probe:counterfactual" in model["skipped"]
    assert "counterfactual" not in model["probes_done"]


def test_a_later_success_clears_an_earlier_failure(tmp_path):
    state = RunState.create(tmp_path, RunSpec(models=(ModelSpec("m", "tiny-gpt2"),), tasks=()), argv=[])
    with isolated(state, "m", "task", "x") as attempt:
        raise ModelFault("it broke", "fix it", "m", "task 'x'")
    assert attempt.failed and RunState.load(state.dir).failures[0]["error"] == "it broke"
    with isolated(state, "m", "task", "x"):
        pass
    assert RunState.load(state.dir).failures == []
    with isolated(state, "m", "probe", "p") as attempt:    # any HarnessError inside a piece is that piece's failure
        raise HarnessError("bad probe item", "fix the probe file")
    assert attempt.failed and RunState.load(state.dir).failures[0]["kind"] == "probe"
    with pytest.raises(ValueError):                 # anything but a model's fault still stops the run
        with isolated(state, "m", "task", "y"):
            raise ValueError("a bug")


def test_a_resume_retries_the_failed_piece_and_forgets_the_failure(mc_task_dir, tmp_path):
    flag = tmp_path / "flag"
    flag.write_text("fail")
    out = tmp_path / "out"
    proc = run_cli("run", "--model", f"a=py:fake_models:FailsWhileFlagged,flag={flag},fail_after=1", "--model",
                   "b=py:fake_models:ShortestChoice", "--tasks", "mc", "--tasks-dir", str(mc_task_dir),
                   "--batch-size", "6", "--out", str(out), "--no-probes", "--no-meters", cwd=TESTS)
    assert_finished_with_errors(proc, "model 'a' on task 'mc'", "simulated passing fault", "--resume")
    run_dir, results = _results(out)
    assert [(f["kind"], f["piece"]) for f in results["run"]["failures"]] == [("task", "mc")]
    assert results["models"]["a"]["tasks"]["mc"]["n"] == 2           # one batch of 6 requests = 2 examples
    flag.unlink()
    proc = run_cli("run", "--resume", str(run_dir), "--no-progress", cwd=TESTS)
    assert proc.returncode == 0, proc.stderr
    _, results = _results(out)
    assert results["run"]["status"] == "complete" and results["run"]["failures"] == []
    assert results["models"]["a"]["tasks"]["mc"]["complete"] and results["models"]["a"]["tasks"]["mc"]["n"] == 40
    assert len((run_dir / "samples.jsonl").read_text().splitlines()) == 80     # the 2 kept, 38 computed, b's 40
    assert "simulated passing fault" not in (run_dir / "report.html").read_text()


def test_a_run_folder_with_failures_of_the_old_shape_still_resumes(mc_task_dir, tmp_path):
    """run.json written before failures were data held {model, what: "task 'mc'", ...} (and no
    spec.baseline): the loader converts it, and the resume retries and clears the failed piece."""
    flag = tmp_path / "flag"
    flag.write_text("fail")
    out = tmp_path / "out"
    proc = run_cli("run", "--model", f"a=py:fake_models:FailsWhileFlagged,flag={flag},fail_after=1", "--model",
                   "b=py:fake_models:ShortestChoice", "--tasks", "mc", "--tasks-dir", str(mc_task_dir),
                   "--batch-size", "6", "--out", str(out), "--no-probes", "--no-meters", cwd=TESTS)
    assert proc.returncode == 3, proc.stderr
    run_dir, _ = _results(out)
    raw = json.loads((run_dir / "run.json").read_text())
    (failure,) = raw["failures"]
    raw["failures"] = [{"model": "a", "what": "task 'mc'", "error": failure["error"], "fix": failure["fix"]},
                       {"model": "a", "what": "task 'mc'", "error": "twice", "fix": "x"}]        # each piece once
    del raw["spec"]["baseline"]
    (run_dir / "run.json").write_text(json.dumps(raw))
    state = RunState.load(run_dir)
    assert state.failures == [{"model": "a", "kind": "task", "piece": "mc", "error": "twice", "fix": "x"}]
    assert state.spec.baseline is None
    flag.unlink()
    proc = run_cli("run", "--resume", str(run_dir), "--no-progress", cwd=TESTS)
    assert proc.returncode == 0, proc.stderr
    _, results = _results(out)
    assert results["run"]["status"] == "complete" and results["run"]["failures"] == []
    assert json.loads((run_dir / "run.json").read_text())["failures"] == []


def test_a_run_json_whose_failures_are_unreadable_is_damaged_not_a_traceback(tmp_path):
    state = RunState.create(tmp_path, RunSpec(models=(ModelSpec("m", "tiny-gpt2"),), tasks=()), argv=[])
    raw = json.loads((state.dir / "run.json").read_text())
    for bad in ([{"model": "m", "what": "task 'x", "error": "e", "fix": "f"}], [{"model": "m"}], {"a": 1}):
        (state.dir / "run.json").write_text(json.dumps({**raw, "failures": bad}))
        with pytest.raises(HarnessError, match="is damaged"):
            RunState.load(state.dir)


# --- a summary that raises (the statistics computed at the end) is that piece's failure -------------

@pytest.fixture
def exploding_probe(tmp_path, monkeypatch):
    """A probe registered here whose items are CrowS-Pairs' and whose summary raises (as the exact
    binomial test once overflowed above 1,030 pairs)."""
    from harness.plugins import PROBES
    from harness.probes.pairs import CrowsPairs

    class ExplodingPairs(CrowsPairs):
        def summarize(self, records, config, seed):
            raise OverflowError("int too large to convert to float")
    PROBES.get("crows_pairs")                       # the registry's lazy built-ins are loaded before the plant
    monkeypatch.setitem(PROBES._items, "exploding_pairs", ExplodingPairs)
    monkeypatch.setitem(PROBES._origins, "exploding_pairs", "tests/test_isolation.py")
    folder = tmp_path / "tasks" / "exploding"
    folder.mkdir(parents=True)
    (folder / "pairs.jsonl").write_bytes((TESTS.parent / "tasks" / "crows_pairs" / "pairs.jsonl").read_bytes())
    (folder / "probe.yaml").write_text("name: exploding\nprobe: exploding_pairs\ndata: {pairs: pairs.jsonl}\n")
    return tmp_path / "tasks"


def test_a_probe_summary_that_raises_is_recorded_and_results_and_report_are_written(exploding_probe, tmp_path,
                                                                                     capsys):
    from run_folders import in_process
    out = tmp_path / "out"
    args = ("--model", "tiny-gpt2", "--tasks", "facts_mc", "--limit", "2", "--tasks-dir", str(exploding_probe),
            "--probes", "exploding", "--probe-limit", "1", "--no-meters", "--no-progress", "--no-history")
    proc = in_process(capsys, "run", *args, "--out", str(out))
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert "the summary of 'probe:exploding'" in proc.stderr and "OverflowError" in proc.stderr
    run_dir, results = _results(out)
    assert results["run"]["status"] == "complete with errors"
    (failure,) = results["run"]["failures"]
    assert (failure["model"], failure["kind"], failure["piece"]) == ("tiny-gpt2", "summary", "probe:exploding")
    assert failure["error"] == "OverflowError: int too large to convert to float"
    tiny = results["models"]["tiny-gpt2"]
    assert tiny["tasks"]["facts_mc"]["n"] == 2 and "exploding" not in tiny["probes"]    # the rest is kept
    assert "OverflowError" in (run_dir / "report.html").read_text()
    assert len([r for r in (run_dir / "samples.jsonl").read_text().splitlines() if '"probe:exploding"' in r]) > 0
    resumed = in_process(capsys, "run", "--resume", str(run_dir), "--no-progress")     # recomputed: the same failure
    assert resumed.returncode == 3 and "Traceback" not in resumed.stderr, resumed.stderr
    assert [f["kind"] for f in _results(out)[1]["run"]["failures"]] == ["summary"]


def test_a_gate_reads_a_failed_summary_as_that_probe_failing(tmp_path, capsys):
    import results_builder as rb
    from gate_fixtures import results
    from harness.cli import main
    data = results(**{"run/status": "complete with errors",
                      "run/failures": [rb.failure("tiny-gpt2", "summary", "probe:crows_pairs").to_json()]})
    del data["models"]["tiny-gpt2"]["probes"]["crows_pairs"]
    run = rb.write(tmp_path / "reports" / "run-a", data)
    (tmp_path / "gate.yaml").write_text("version: 1\nallow_errors: true\nrules:\n  - {name: s, select: {probe: "
                                        "crows_pairs}, metric: stereotype_preference_pct, max: 100}\n")
    assert main(["gate", str(run), "--policy", str(tmp_path / "gate.yaml")]) == 1
    record = json.loads((run / "results.json").read_text())["gate"]
    assert "probe 'crows_pairs' failed for model 'tiny-gpt2'" in record["rules"][1]["reason"]
