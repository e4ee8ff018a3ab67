"""`harness compare` over shell globs (harness/commands/compare.py): `harness compare runs/fp32/* runs/int8/*`,
as the README writes it, also names the history index each --out folder holds; it is left out with a
note instead of failing the comparison."""
from __future__ import annotations

from pathlib import Path

from harness.commands.compare import run_folders


def test_the_history_index_a_glob_names_is_left_out_saying_so(tmp_path, capsys):
    runs = tmp_path / "runs" / "fp32"
    (runs / "20260101-000000-aaaa").mkdir(parents=True)
    for name in ("history.sqlite", "history.sqlite-wal", "history.html"):
        (runs / name).write_text("")
    given = sorted(runs.iterdir())
    assert run_folders(given) == [runs / "20260101-000000-aaaa"]
    assert capsys.readouterr().err.count("left out") == 3


def test_anything_else_is_left_for_the_comparison_to_judge(tmp_path):
    (tmp_path / "history.sqlite").mkdir()                      # a folder of that name is not the index
    paths = [tmp_path / "history.sqlite", tmp_path / "notes.txt", Path("missing")]
    assert run_folders(paths) == paths
