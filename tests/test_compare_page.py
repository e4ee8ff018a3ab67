"""`harness compare` writes compare.html beside its JSON, with the report's comparison views, and never
into a run folder or onto a file it did not write."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main

TESTS = Path(__file__).resolve().parent


@pytest.fixture
def two_runs(tmp_path, monkeypatch, capsys):
    from planted_runs import planted_runs
    monkeypatch.syspath_prepend(str(TESTS))
    monkeypatch.chdir(tmp_path)
    runs = planted_runs(tmp_path)
    capsys.readouterr()
    return runs


def test_compare_writes_a_page_beside_its_json(two_runs, tmp_path, capsys):
    out = tmp_path / "cmp" / "ab.json"
    assert main(["compare", *map(str, two_runs), "--json", str(out)]) == 0
    page = out.with_suffix(".html")
    assert f"wrote {page}" in capsys.readouterr().out
    html = page.read_text(encoding="utf-8")
    assert '<meta name="generator" content="harness compare">' in html and "<script" not in html
    for part in ('id="quality-table"', 'id="comparison"', "small against full", "6 broken", 'class="energy-bars"',
                 "relative to the baseline"):
        assert part in html, part
    import re
    for n in re.findall(r'<li value="(\d+)"', html):            # every numbered note is pointed to from the page
        assert f'<sup class="note">[{n}]</sup>' in html, n
    assert main(["compare", *map(str, two_runs), "--json", str(out)]) == 0         # its own page is replaced


def test_the_page_is_never_written_into_a_run_folder(two_runs, capsys):
    assert main(["compare", *map(str, two_runs), "--json", str(two_runs[1] / "mine.json")]) == 2
    assert "run folder" in capsys.readouterr().err                    # the output guard refuses it first
    assert not (two_runs[1] / "mine.html").exists() and not (two_runs[1] / "mine.json").exists()


def test_a_file_the_harness_did_not_write_is_left_as_it_is(two_runs, tmp_path, capsys):
    mine = tmp_path / "notes.html"
    mine.write_text("<p>my notes</p>")
    assert main(["compare", *map(str, two_runs), "--json", str(tmp_path / "notes.json")]) == 2
    assert "was not written by harness compare" in capsys.readouterr().err
    assert mine.read_text() == "<p>my notes</p>" and not (tmp_path / "notes.json").exists()
