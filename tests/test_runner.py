"""The run loop: batching, out-of-memory back-off, failures that keep finished work."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from support import assert_finished_with_errors, run_cli, write_task
from harness.audit import run_audit
from harness.batching import Pending, batches, group_requests, split_large
from harness.requests import LoglikelihoodRequest, request_text
from harness.run_dir import RunState
from harness.spec import ModelSpec, RunSpec, RuntimeOptions

TESTS = Path(__file__).resolve().parent
MC_ROWS = [{"id": f"q{i}", "question": f"question {i} " + "word " * i, "choices": ["aaa", "b", "cc"], "answer": 1}
           for i in range(40)]


@pytest.fixture
def mc_task_dir(tmp_path):
    write_task(tmp_path / "tasks" / "mc", "mc", MC_ROWS, kind="multiple_choice", prompt="{question}")
    return tmp_path / "tasks"


def test_collator_keeps_shared_contexts_together_longest_first():
    items = [Pending((ex, c), LoglikelihoodRequest("ctx " * ex, f" choice{c}")) for ex in (1, 5, 3) for c in range(3)]
    groups = group_requests(items, lambda r: len(request_text(r).split()))
    assert [g[0].key[0] for g in groups] == [5, 3, 1]
    assert all(len({i.request.context for i in g}) == 1 and len(g) == 3 for g in groups)
    sizes = [len(b) for b in batches(groups, 4)]
    assert sizes == [3, 3, 3]          # a group of 3 never shares a batch of 4 with part of another
    assert [len(b) for b in batches(groups, 7)] == [6, 3]
    assert [len(g) for g in split_large(groups, 2)] == [2, 1, 2, 1, 2, 1]   # oversized groups are chunked


def _run(spec: RunSpec, out: Path) -> tuple[RunState, dict]:
    state = RunState.create(out, spec, argv=[])
    return state, run_audit(state, progress=False).to_json()


def test_out_of_memory_halves_the_batch_until_it_fits(mc_task_dir, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))
    spec = RunSpec(models=(ModelSpec("fake", "py", "fake_models:ShortestChoice", {"oom_above": "7"}),),
                   tasks=("mc",), tasks_dirs=(mc_task_dir,), runtime=RuntimeOptions(max_batch_size=64), probes=())
    state, results = _run(spec, tmp_path / "out")
    task = results["models"]["fake"]["tasks"]["mc"]
    assert task["n"] == 40 and task["complete"]
    assert task["metrics"]["accuracy"]["value"] == 1.0          # "b" is shortest and gold
    # groups of 3 choices: batches of 63, 30 and 15 requests fail; the size halves from the failing
    # batch's length (63 -> 31 -> 15 -> 7) and batches of 6 then fit
    assert results["models"]["fake"]["batch_size"] == 7
    assert results["run"]["status"] == "complete"


def test_fixed_batch_size_out_of_memory_is_a_recorded_failure(mc_task_dir, tmp_path):
    proc = run_cli("run", "--model", "py:fake_models:ShortestChoice,oom_above=2", "--tasks", "mc", "--tasks-dir",
                   str(mc_task_dir), "--batch-size", "8", "--out", str(tmp_path / "out"), "--no-probes", cwd=TESTS)
    assert_finished_with_errors(proc, "out of memory", "--batch-size")


def test_a_model_that_raises_keeps_what_was_computed(mc_task_dir, tmp_path):
    proc = run_cli("run", "--model", "py:fake_models:ShortestChoice,fail_after=3", "--tasks", "mc", "--tasks-dir",
                   str(mc_task_dir), "--batch-size", "6", "--out", str(tmp_path / "out"), "--no-probes", cwd=TESTS)
    assert_finished_with_errors(proc, "raised ValueError", "simulated model failure")
    run_dir = next(p for p in (tmp_path / "out").iterdir() if p.is_dir())
    samples = (run_dir / "samples.jsonl").read_text().splitlines()
    assert len(samples) == 6                                      # 3 batches of 2 examples each
    results = json.loads((run_dir / "results.json").read_text())
    assert results["run"]["status"] == "complete with errors"
    assert results["models"]["py:fake_models:ShortestChoice"]["tasks"]["mc"]["n"] == 6


def test_an_over_long_input_names_the_task(mc_task_dir, tmp_path):
    proc = run_cli("run", "--model", "py:fake_models:ShortestChoice,max_length=20", "--tasks", "mc", "--tasks-dir",
                   str(mc_task_dir), "--out", str(tmp_path / "out"), "--no-probes", cwd=TESTS)
    assert_finished_with_errors(proc, "task 'mc'", "tokens but model")


def test_every_model_sees_identical_inputs(mc_task_dir, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))
    write_task(mc_task_dir / "fs", "fewshot_mc", MC_ROWS, kind="multiple_choice", prompt="{question}",
               fewshot={"data": "data.jsonl", "num": 2})
    spec = RunSpec(models=(ModelSpec("a", "py", "fake_models:ShortestChoice"),
                           ModelSpec("b", "py", "fake_models:ShortestChoice", {"oom_above": "5"})),
                   tasks=("fewshot_mc",), tasks_dirs=(mc_task_dir,), probes=())
    state, _ = _run(spec, tmp_path / "out")
    records = [json.loads(line) for line in state.samples_path.read_text().splitlines()]
    inputs = {m: {r["id"]: r["input"] for r in records if r["model"] == m} for m in ("a", "b")}
    assert inputs["a"] == inputs["b"] and len(inputs["a"]) == 40
    q7 = inputs["a"]["q7"]
    assert q7.count("\n\n") == 2 and not q7.startswith("question 7 ")      # two shots, never itself first
    assert q7.endswith("question 7 " + "word " * 7)


def test_unknown_kind_of_request_is_skipped_with_a_reason(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))
    spec = RunSpec(models=(ModelSpec("minilm", "minilm"),), tasks=("facts_mc",), limit=2, probes=())
    _, results = _run(spec, tmp_path / "out")
    assert "cannot answer log-likelihood" in results["models"]["minilm"]["skipped"]["facts_mc"]
    assert results["models"]["minilm"]["tasks"] == {}


def test_the_documented_custom_model_example_runs(tmp_path):
    from support import REPO
    # the topic training split: every sentence names a subject from the example's keyword lists
    write_task(tmp_path / "tasks" / "t", "topic_train", None, kind="classify", prompt="{text}", answer="label",
               data=str(REPO / "tasks" / "topic" / "train.jsonl"))
    proc = run_cli("run", "--model", "py:examples.custom_model:KeywordClassifier", "--tasks", "topic_train",
                   "--tasks-dir", str(tmp_path / "tasks"), "--out", str(tmp_path / "out"), "--no-probes", cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(next((tmp_path / "out").glob("*/results.json")).read_text())
    task = results["models"]["py:examples.custom_model:KeywordClassifier"]["tasks"]["topic_train"]
    assert task["n"] == 400 and task["metrics"]["accuracy"]["value"] == 1.0
