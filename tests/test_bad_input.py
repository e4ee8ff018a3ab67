"""Bad input gets exit 2 and one line naming the problem and the fix; no traceback."""
from __future__ import annotations

import pytest

from conftest import assert_one_line_error, run_cli, write_task

MC_ROWS = [{"id": "a", "question": "2+2?", "choices": ["3", "4"], "answer": 1}]


def test_malformed_yaml(tmp_path):
    write_task(tmp_path / "t", "broken", MC_ROWS, yaml_text="name: broken\nkind: [multiple_choice\ndata: data.jsonl\n")
    proc = run_cli("run", "--tasks-dir", str(tmp_path), "--model", "tiny-gpt2", "--out", str(tmp_path / "out"))
    assert_one_line_error(proc, "malformed YAML", "task.yaml:")
    assert not (tmp_path / "out").exists()     # nothing half-made


def test_unknown_task_suggests_close_names(tmp_path):
    proc = run_cli("run", "--tasks", "facts_mcq", "--out", str(tmp_path))
    assert_one_line_error(proc, "unknown task 'facts_mcq'", "did you mean facts_mc")


def test_unknown_model_adapter_suggests_close_names(tmp_path):
    proc = run_cli("run", "--model", "tiny-gtp2", "--out", str(tmp_path))
    assert_one_line_error(proc, "unknown model 'tiny-gtp2'", "tiny-gpt2")


def test_missing_data_file(tmp_path):
    write_task(tmp_path / "t", "nodata", None, kind="multiple_choice")
    proc = run_cli("run", "--tasks-dir", str(tmp_path), "--tasks", "nodata", "--out", str(tmp_path / "out"))
    assert_one_line_error(proc, "data file", "data.jsonl not found")


def test_empty_dataset(tmp_path):
    write_task(tmp_path / "t", "empty", [], kind="multiple_choice")
    proc = run_cli("run", "--tasks-dir", str(tmp_path), "--tasks", "empty", "--out", str(tmp_path / "out"))
    assert_one_line_error(proc, "is empty")


@pytest.mark.parametrize("fields,needle", [
    ({"kind": "multiple_choice", "promt": "{question}"}, "unknown key 'promt'"),
    ({"kind": "multiple_chioce"}, "unknown task kind 'multiple_chioce'"),
    ({"kind": "multiple_choice", "metrics": ["acuracy"]}, "unknown metric 'acuracy'"),
    ({"kind": "multiple_choice", "prompt": "{question.__class__}"}, "template"),
    ({"kind": "multiple_choice", "prompt": "{questoin}"}, "template"),
    ({"kind": "multiple_choice", "answer": "gold"}, "no field 'gold'"),
])
def test_task_definition_mistakes(tmp_path, fields, needle):
    write_task(tmp_path / "t", "bad", MC_ROWS, **{"prompt": "{question}", **fields})
    proc = run_cli("run", "--tasks-dir", str(tmp_path), "--tasks", "bad", "--out", str(tmp_path / "out"))
    assert_one_line_error(proc, needle)


def test_bad_jsonl_line_is_named(tmp_path):
    folder = write_task(tmp_path / "t", "badjson", MC_ROWS, kind="multiple_choice")
    (folder / "data.jsonl").write_text('{"id": "a", "question": "q", "choices": ["x", "y"], "answer": 0}\n{oops\n')
    proc = run_cli("run", "--tasks-dir", str(tmp_path), "--tasks", "badjson", "--out", str(tmp_path / "out"))
    assert_one_line_error(proc, "data.jsonl:2 is not valid JSON")


def test_bad_flags(tmp_path):
    assert_one_line_error(run_cli("run", "--limit", "-1"), "--limit", "is not a whole number at least 1")
    assert_one_line_error(run_cli("run", "--bogus"), "unknown option '--bogus' of `harness run`")
    assert_one_line_error(run_cli("show", str(tmp_path)), "no results.json")
    assert_one_line_error(run_cli("run", "--resume", str(tmp_path)), "not a run folder")
    assert_one_line_error(run_cli("run", "--model", "hf-causal:/no/such/folder", "--tasks", "facts_mc",
                                  "--out", str(tmp_path)), "not found")


def test_unknown_probe_suggests_close_names(tmp_path):
    proc = run_cli("run", "--probes", "crows_pair", "--out", str(tmp_path))
    assert_one_line_error(proc, "unknown probe 'crows_pair'", "did you mean crows_pairs")
    assert_one_line_error(run_cli("run", "--probe-limit", "-1"), "--probe-limit: -1 is not a whole number at least 1")
