"""`harness tune`'s checks before any work (harness.tune.checks): --out a file, an unknown model or
task, a task --objective j_per_correct cannot score. One line, exit 2, and no out folder created."""
from __future__ import annotations

import pytest

from harness.cli import main


def _tune(tmp_path, capsys, *args, out=None):
    out = out or tmp_path / "t"
    code = main(["tune", "--model", "tiny-gpt2", "--limit", "8", "--trials", "1", "--repeats", "1",
                 "--out", str(out), *args])
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.startswith("harness: error:")]
    assert code == 2 and len(lines) == 1 and "fix:" in lines[0], captured.err
    assert "Traceback" not in captured.err and "measuring the full model" not in captured.out
    return lines[0]


def test_out_pointing_at_a_file_is_refused(tmp_path, capsys):
    target = tmp_path / "afile"
    target.write_text("mine")
    line = _tune(tmp_path, capsys, "--tasks", "facts_mc", out=target)
    assert "is a file, not a folder" in line and target.read_text() == "mine"


@pytest.mark.parametrize("args, needle", [
    (["--tasks", "no_such_task"], "unknown task 'no_such_task'"),
    (["--tasks", "facts_mc", "--model", "no_such_model"], "unknown model 'no_such_model'"),
    (["--tasks", "facts_mc", "--model", "tiny-gpt2,dtype=fp9"], "dtype='fp9'"),
    (["--tasks", "facts_mc", "--model", "tiny-gpt2,no_such_option=1"], "no_such_option"),
    (["--tasks", "facts_mc,stories", "--objective", "j_per_correct"], "task 'stories' (generate) has no 0/1 metric"),
])
def test_unknown_names_and_unscorable_tasks_fail_before_any_work(tmp_path, capsys, args, needle):
    line = _tune(tmp_path, capsys, *args)
    assert needle in line, line
    assert not (tmp_path / "t").exists()            # no study, no run folder: nothing was started


def test_out_holding_files_no_tune_wrote_is_refused_and_left_alone(tmp_path, capsys):
    out = tmp_path / "reports"
    out.mkdir()
    (out / "tune.html").write_text("my own page")
    line = _tune(tmp_path, capsys, "--tasks", "facts_mc", out=out)
    assert "holds tune.html but no tune.sqlite" in line
    assert (out / "tune.html").read_text() == "my own page" and sorted(p.name for p in out.iterdir()) == ["tune.html"]


def test_a_task_named_twice_counts_once(tmp_path, monkeypatch):
    """--tasks facts_mc,facts_mc counted every example twice in j_per_correct (examples 16 at --limit 8)."""
    import harness.tune
    seen = []
    monkeypatch.setattr(harness.tune, "tune", lambda settings: seen.append(settings) or {"best": None})
    assert main(["tune", "--model", "tiny-gpt2", "--tasks", "facts_mc, facts_mc,topic", "--out", str(tmp_path)]) == 0
    assert seen[0].tasks == ("facts_mc", "topic")
