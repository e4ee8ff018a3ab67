"""`harness compare` writes compare.html beside its JSON, with the report's comparison views, and never
into a run folder or onto a file it did not write."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main

TESTS = Path(__file__).resolve().parent


@pytest.fixture
def two_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(TESTS))
    monkeypatch.chdir(tmp_path)
    rows = [{"id": f"q{i}", "text": f"item {i}: label {'a' if i % 2 else 'b'}", "label": "a" if i % 2 else "b"} for i in range(40)]
    task = tmp_path / "tasks" / "t"
    task.mkdir(parents=True)
    (task / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (task / "task.yaml").write_text('name: t\ndata: data.jsonl\nkind: classify\nprompt: "{text}"\nanswer: label\n'
                                    'labels: [a, b]\nmetrics: [accuracy, f1_macro]\n')
    runs = []
    for name, wrong in (("full", "1"), ("small", "2-3-4-5-6-7")):
        assert main(["run", "--model", f"{name}=py:fake_models:PlantedFlips,wrong={wrong}", "--tasks", "t", "--tasks-dir",
                     str(tmp_path / "tasks"), "--no-probes", "--no-progress", "--idle-seconds", "0",
                     "--carbon-intensity", "300", "--out", str(tmp_path / name)]) == 0
        runs.append(next(p for p in (tmp_path / name).iterdir() if p.is_dir()))
    capsys.readouterr()
    return runs


def test_compare_writes_a_page_beside_its_json(two_runs, tmp_path, capsys):
    out = tmp_path / "cmp" / "ab.json"
    assert main(["compare", *map(str, two_runs), "--out", str(out)]) == 0
    page = out.with_suffix(".html")
    assert f"wrote {page}" in capsys.readouterr().out
    html = page.read_text(encoding="utf-8")
    assert '<meta name="generator" content="harness compare">' in html and "<script" not in html
    for part in ('id="quality-table"', 'id="comparison"', "small against full", "6 broken", 'class="energy-bars"',
                 "relative to the baseline"):
        assert part in html, part
    assert main(["compare", *map(str, two_runs), "--out", str(out)]) == 0         # its own page is replaced


def test_the_page_is_never_written_into_a_run_folder(two_runs, capsys):
    assert main(["compare", *map(str, two_runs), "--out", str(two_runs[1] / "mine.json")]) == 2
    assert "would be written into the run folder" in capsys.readouterr().err
    assert not (two_runs[1] / "mine.html").exists() and not (two_runs[1] / "mine.json").exists()


def test_a_file_the_harness_did_not_write_is_left_as_it_is(two_runs, tmp_path, capsys):
    mine = tmp_path / "notes.html"
    mine.write_text("<p>my notes</p>")
    assert main(["compare", *map(str, two_runs), "--out", str(tmp_path / "notes.json")]) == 2
    assert "was not written by harness compare" in capsys.readouterr().err
    assert mine.read_text() == "<p>my notes</p>" and not (tmp_path / "notes.json").exists()
