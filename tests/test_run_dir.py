"""A new run folder never lands on an existing one (harness/run_dir.py): a run id whose folder exists
and is not empty (a copied run, a clock set back), or exists empty, or has a partial folder left by a
killed start, makes the run draw another id instead of failing with OSError (exit 1) or writing into it."""
from __future__ import annotations

import pytest

from harness import run_dir
from harness.errors import HarnessError
from harness.run_dir import RunState
from harness.spec import ModelSpec, RunSpec

SPEC = RunSpec(models=(ModelSpec("m", "tiny-gpt2"),), tasks=())


def ids(monkeypatch, *values):
    drawn = iter(values)
    monkeypatch.setattr(run_dir, "new_run_id", lambda: next(drawn))


def test_a_colliding_run_id_is_drawn_again(tmp_path, monkeypatch):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "results.json").write_text("{}")
    (tmp_path / "empty").mkdir()
    (tmp_path / ".killed.partial").mkdir()
    ids(monkeypatch, "full", "empty", "killed", "free")
    state = RunState.create(tmp_path, SPEC, argv=[])
    assert state.id == "free" and (tmp_path / "free" / "run.json").is_file()
    assert (tmp_path / "full" / "results.json").read_text() == "{}" and not any((tmp_path / "empty").iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == [".killed.partial", "empty", "free", "full"]


def test_a_folder_that_appears_during_the_rename_is_not_written_into(tmp_path, monkeypatch):
    ids(monkeypatch, "raced", "next")
    real = RunState.save

    def save_then_race(self, directory=None):
        real(self, directory)
        if self.id == "raced":
            (tmp_path / "raced").mkdir()
            (tmp_path / "raced" / "theirs").write_text("x")
    monkeypatch.setattr(RunState, "save", save_then_race)
    assert RunState.create(tmp_path, SPEC, argv=[]).id == "next"
    assert [p.name for p in (tmp_path / "raced").iterdir()] == ["theirs"]
    assert not list(tmp_path.glob(".*.partial"))


def test_when_every_id_is_taken_the_error_says_so(tmp_path, monkeypatch):
    (tmp_path / "same").mkdir()
    monkeypatch.setattr(run_dir, "new_run_id", lambda: "same")
    with pytest.raises(HarnessError, match="no free run id"):
        RunState.create(tmp_path, SPEC, argv=[])
