"""harness.finish.exit_code: a run that scored nothing (every output NaN: 0 items scored) finished with
errors, exit 3, like a failed piece; so does a task that scored none of its items."""
from __future__ import annotations

import copy

from gate_fixtures import results
from harness.finish import exit_code


def _nothing(data: dict, tasks_only: bool = False) -> dict:
    data = copy.deepcopy(data)
    for model in data["models"].values():
        for task in model["tasks"].values():
            task["n"] = 0
            for m in task["metrics"].values():
                m.update(value=None, stderr=None, ci95=[None, None], n=0, reason="no item was scored")
        if not tasks_only:
            for probe in model["probes"].values():
                probe["n"] = 0
    return data


def test_a_complete_run_that_scored_nothing_exits_3(tmp_path, capsys):
    """Every output NaN: the run itself exited 0 "complete" with 0 items scored."""
    assert exit_code(results(), tmp_path) == 0
    assert exit_code(_nothing(results()), tmp_path) == 3
    err = capsys.readouterr().err.strip()
    assert err.startswith("harness: finished with errors: tiny-gpt2/facts_mc") and "scored no item" in err
    assert len(err.splitlines()) == 1 and "fix:" in err


def test_one_task_that_scored_none_of_its_items_exits_3_naming_it(tmp_path, capsys):
    data = results()
    data["models"]["minilm"]["tasks"]["topic"]["n"] = 0
    assert exit_code(data, tmp_path) == 3
    assert "minilm/topic scored no item" in capsys.readouterr().err
    probes_scored = _nothing(results(), tasks_only=True)          # the probes still scored: each task is named
    assert exit_code(probes_scored, tmp_path) == 3
    err = capsys.readouterr().err
    assert "tiny-gpt2/facts_mc, minilm/topic scored no item" in err


def test_harness_run_whose_every_output_is_nan_exits_3_and_is_a_failed_point(tmp_path, monkeypatch, capsys):
    from pathlib import Path

    from support import write_task
    from harness.cli import main
    from harness.history import HistoryIndex, index_path
    tests = Path(__file__).resolve().parent
    monkeypatch.syspath_prepend(str(tests))
    monkeypatch.chdir(tests)
    rows = [{"id": f"q{i}", "text": f"poison item {i}", "label": "a"} for i in range(6)]
    write_task(tmp_path / "tasks" / "t", "t", rows, kind="classify", prompt="{text}", answer="label", labels=["a", "b"])
    code = main(["run", "--model", "m=py:fake_models:Misbehaves,how=nan", "--tasks", "t", "--tasks-dir",
                 str(tmp_path / "tasks"), "--no-probes", "--no-meters", "--no-progress", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 3 and "harness: finished with errors: m/t scored no item" in err
    rows = [r for r in HistoryIndex(index_path(tmp_path / "r")).figures() if r["scope"] == "task"]
    assert rows and all(r["failed"] == 1 and r["value"] is None for r in rows)
