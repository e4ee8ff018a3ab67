"""One store of blessed names (.blessed/NAME.json, harness.gate.baseline): `harness gate --baseline NAME`
and `harness history --baseline NAME` read the same record, so they cannot disagree; the history
index holds no names, and an older index's names are carried over once."""
from __future__ import annotations

import json
import sqlite3

from run_folders import in_process, make_run

from harness.history import HistoryIndex, index_path, record

T = ["2026-11-01T10:00:00+00:00", "2026-11-08T10:00:00+00:00", "2026-11-15T10:00:00+00:00"]


def _three_runs(reports) -> None:
    for i, accuracy in enumerate(((0.50, 0.40, 0.60), (0.52, 0.42, 0.62), (0.80, 0.72, 0.88))):
        make_run(reports, f"r{i + 1}", T[i], accuracy=accuracy)


def _baseline_of(capsys, reports, name: str) -> str:
    proc = in_process(capsys, "history", str(reports), "--metric", "accuracy", "--baseline", name)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split("baseline: run ", 1)[1].split(" ", 1)[0]


def test_gate_and_history_follow_the_same_blessing_even_when_the_index_is_locked(tmp_path, capsys, monkeypatch):
    """`harness bless --force` used to write .blessed, then the index, and only warn when the index
    write failed: the gate then used the new run and history the old one."""
    _three_runs(tmp_path)
    assert in_process(capsys, "bless", str(tmp_path / "r1"), "--as", "release").returncode == 0
    assert _baseline_of(capsys, tmp_path, "release") == "r1"
    import harness.history.index as index_module
    monkeypatch.setattr(index_module, "BUSY_TIMEOUT_S", 0.2)
    holder = sqlite3.connect(index_path(tmp_path), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")                       # another process holds the index's write lock
    try:
        proc = in_process(capsys, "bless", str(tmp_path / "r2"), "--as", "release", "--force")
        assert proc.returncode == 0
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert json.loads((tmp_path / ".blessed" / "release.json").read_text())["run_id"] == "r2"      # the gate's
    assert _baseline_of(capsys, tmp_path, "release") == "r2"                                        # and history's
    assert "warning" not in proc.stderr


def test_bless_needs_no_index_and_writes_none(tmp_path, capsys):
    make_run(tmp_path, "r1", T[0])
    (tmp_path / "history.sqlite").write_text("not a database")          # damaged: bless does not touch it
    proc = in_process(capsys, "bless", str(tmp_path / "r1"), "--as", "v1")
    assert proc.returncode == 0 and proc.stderr == "" and (tmp_path / ".blessed" / "v1.json").is_file()
    (tmp_path / "history.sqlite").unlink()
    make_run(tmp_path, "r2", T[1])
    assert in_process(capsys, "bless", str(tmp_path / "r2"), "--as", "v2").returncode == 0
    assert not (tmp_path / "history.sqlite").exists()                   # a missing index stays missing
    assert _baseline_of(capsys, tmp_path, "v1") == "r1"
    assert HistoryIndex(index_path(tmp_path)).legacy_baselines() == {}


def _legacy_index(tmp_path, names: dict[str, str]) -> None:
    """An index as an older harness left it: names in its baselines table."""
    for run in ("r1", "r2", "r3"):
        record(tmp_path / run)
    with sqlite3.connect(index_path(tmp_path)) as db:
        db.executemany("INSERT INTO baselines VALUES (?, ?, ?)", [(n, r, T[0]) for n, r in names.items()])


def test_an_older_indexs_names_are_carried_over_once_and_blessed_records_win(tmp_path, capsys):
    _three_runs(tmp_path)
    assert in_process(capsys, "bless", str(tmp_path / "r3"), "--as", "release").returncode == 0
    _legacy_index(tmp_path, {"release": "r1", "v0": "r2", "gone": "r9"})
    proc = in_process(capsys, "history", str(tmp_path), "--metric", "accuracy", "--baseline", "v0")
    assert proc.returncode == 0, proc.stderr
    assert "baseline: run r2" in proc.stdout
    assert "'v0' (run r2) carried over from the history index" in proc.stderr
    assert "'release': the history index named run r1, .blessed/release.json names run r3" in proc.stderr
    assert "'gone' (run r9) in the history index was not carried over" in proc.stderr and "--baseline r9" in proc.stderr
    assert json.loads((tmp_path / ".blessed" / "v0.json").read_text())["run_id"] == "r2"
    assert HistoryIndex(index_path(tmp_path)).legacy_baselines() == {}
    assert _baseline_of(capsys, tmp_path, "release") == "r3"
    proc = in_process(capsys, "history", str(tmp_path), "--metric", "accuracy")
    assert "carried over" not in proc.stderr                            # once


def test_baseline_is_a_run_reference_in_gate_and_history_alike(tmp_path, capsys):
    """--baseline takes a run folder, a results.json, a run id or a blessed name in both commands."""
    _three_runs(tmp_path)
    assert _baseline_of(capsys, tmp_path, str(tmp_path / "r2")) == "r2"
    assert _baseline_of(capsys, tmp_path, str(tmp_path / "r2" / "results.json")) == "r2"
    policy = tmp_path.parent / f"{tmp_path.name}-gate.yaml"
    policy.write_text("version: 1\nrules:\n  - {name: floor, select: {task: '*'}, metric: accuracy, min: 0.1}\n")
    for reference in ("r1", str(tmp_path / "r1"), str(tmp_path / "r1" / "results.json")):
        proc = in_process(capsys, "gate", str(tmp_path / "r3"), "--policy", str(policy), "--baseline", reference)
        assert proc.returncode == 0, proc.stderr
        assert json.loads((tmp_path / "r3" / "results.json").read_text())["gate"]["baseline"] == "r1"
