"""harness.output_guard: no command writes an output inside a run folder or onto a file the harness
did not write (symbolic links and `..` included); the outputs it wrote itself may be written again."""
from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

import results_builder as rb
from gate_fixtures import results, write_run
from harness.cli import main
from harness.errors import HarnessError
from harness.output_guard import check_output, written_by_harness
from run_folders import make_run

POLICY = "version: 1\nrules:\n  - {name: f, select: {task: facts_mc}, metric: accuracy, min: 0.1}\n"


def _run(tmp_path: Path) -> Path:
    run = write_run(tmp_path / "reports" / "run-a", results())          # with an empty samples.jsonl
    (tmp_path / "gate.yaml").write_text(POLICY)
    return run


def _refused(capsys, argv: list[str], *needles: str) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("harness: error:") and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


@pytest.mark.parametrize("flag", ["--markdown", "--junit"])
def test_gate_refuses_to_write_over_a_runs_own_files(tmp_path, capsys, flag):
    run = _run(tmp_path)
    for name in ("samples.jsonl", "results.json", "report.html", "new.md"):
        target = run / name
        before = target.read_bytes() if target.exists() else None
        _refused(capsys, ["gate", str(run), "--policy", str(tmp_path / "gate.yaml"), flag, str(target)],
                 "inside run folder")
        assert (target.read_bytes() if target.exists() else None) == before


def test_gate_refuses_a_file_it_did_not_write_and_rewrites_its_own(tmp_path, capsys):
    run = _run(tmp_path)
    policy = tmp_path / "gate.yaml"
    args = ["gate", str(run), "--policy", str(policy)]
    _refused(capsys, [*args, "--junit", str(policy)], "was not written by harness")
    assert policy.read_text() == POLICY
    notes = tmp_path / "notes.md"
    notes.write_text("# my notes\n")
    _refused(capsys, [*args, "--markdown", str(notes)], "was not written by harness")
    out_md, out_xml = tmp_path / "out" / "gate.md", tmp_path / "out" / "gate.xml"
    for _ in range(2):                                   # the second time over its own outputs
        assert main([*args, "--markdown", str(out_md), "--junit", str(out_xml)]) == 0
        capsys.readouterr()
    assert written_by_harness(out_md, "markdown") and written_by_harness(out_xml, "junit")
    assert not written_by_harness(out_md, "junit") and not written_by_harness(out_xml, "markdown")


def test_links_and_dot_dot_are_seen_for_what_they_are(tmp_path, capsys):
    run = _run(tmp_path)
    args = ["gate", str(run), "--policy", str(tmp_path / "gate.yaml")]
    link = tmp_path / "summary.md"
    link.symlink_to(run / "samples.jsonl")
    _refused(capsys, [*args, "--markdown", str(link)], "symbolic link")
    folder_link = tmp_path / "into-run"
    folder_link.symlink_to(run)
    _refused(capsys, [*args, "--markdown", str(folder_link / "x.md")], "inside run folder")
    sneaky = tmp_path / "reports" / "elsewhere" / ".." / "run-a" / "x.md"
    _refused(capsys, [*args, "--junit", str(sneaky)], "inside run folder")
    deep = run / "ranks" / "rank0" / "x.xml"
    _refused(capsys, [*args, "--junit", str(deep)], "inside run folder")
    assert (run / "samples.jsonl").read_bytes() == b"" and not (run / "x.md").exists()


def test_history_html_cannot_replace_a_runs_results(tmp_path, capsys):
    reports = tmp_path / "reports"
    run = make_run(reports, "r1", "2026-12-01T10:00:00+00:00")
    before = (run / "results.json").read_bytes()
    _refused(capsys, ["history", str(reports), "--html", str(run / "results.json")], "inside run folder")
    assert (run / "results.json").read_bytes() == before
    mine = tmp_path / "page.html"
    mine.write_text("<html><title>my page</title></html>")
    _refused(capsys, ["history", str(reports), "--html", str(mine)], "was not written by harness")
    assert main(["history", str(reports), "--html", str(tmp_path / "h.html")]) == 0
    assert main(["history", str(reports), "--html", str(tmp_path / "h.html")]) == 0      # its own page, again
    capsys.readouterr()


def _compare_runs(tmp_path: Path) -> tuple[Path, Path]:
    recs = lambda m: "".join(json.dumps({"model": m, "task": "t", "id": f"q{i}", "index": i, "input": f"x{i}",  # noqa
                                         "prediction": "a", "reference": "a", "scores": {}, "views": {},
                                         "details": {}}) + "\n" for i in range(4))
    out = []
    for run_id in ("run-a", "run-b"):
        data = rb.results(run_id, {"m": rb.model(tasks={"t": rb.task({"accuracy": rb.metric(1.0, n=4)}, kind="classify",
                                                                     n=4)})})
        out.append(rb.write(tmp_path / run_id, data, samples=recs("m")))
    return out[0], out[1]


def test_compare_default_json_never_overwrites_a_tracked_file(tmp_path, capsys, monkeypatch):
    a, b = _compare_runs(tmp_path)
    clone = tmp_path / "clone"
    clone.mkdir()
    (clone / "compare.json").write_text('{"tracked": true}\n')
    monkeypatch.chdir(clone)
    _refused(capsys, ["compare", str(a), str(b)], "compare.json exists and was not written by harness")
    assert (clone / "compare.json").read_text() == '{"tracked": true}\n'
    (clone / "compare.json").unlink()
    assert main(["compare", str(a), str(b)]) == 0 and main(["compare", str(a), str(b)]) == 0     # its own, twice
    capsys.readouterr()
    monkeypatch.chdir(a)                                  # the default inside a run folder
    _refused(capsys, ["compare", str(a), str(b)], "inside run folder")


def test_export_refuses_outputs_inside_a_run_folder_or_over_other_files(tmp_path, capsys):
    reports = tmp_path / "reports"
    run = make_run(reports, "r1", "2026-12-01T10:00:00+00:00")
    _refused(capsys, ["export", str(run), "--prometheus-textfile", str(run / "metrics.prom")], "inside run folder")
    _refused(capsys, ["export", str(run), "--tensorboard", str(run / "tb")], "inside run folder")
    other = tmp_path / "node.prom"
    other.write_text("node_load1 0.5\n")
    _refused(capsys, ["export", str(run), "--prometheus-textfile", str(other)], "was not written by harness")
    mine = tmp_path / "harness.prom"
    assert main(["export", str(run), "--prometheus-textfile", str(mine)]) == 0
    assert written_by_harness(mine, "prometheus")
    assert main(["export", str(run), "--prometheus-textfile", str(mine)]) == 0
    capsys.readouterr()


def test_the_guard_on_its_own(tmp_path):
    empty = tmp_path / "empty.json"
    empty.touch()
    assert check_output(empty, "--json") == empty.resolve()                          # mktemp leaves an empty file
    with pytest.raises(HarnessError, match="is a folder"):
        check_output(tmp_path, "--json")
    (tmp_path / "blessed.json").write_text(json.dumps({"name": "release", "run": "r1"}))
    with pytest.raises(HarnessError, match="not written by harness"):
        check_output(tmp_path / "blessed.json", "--json")
    assert check_output(tmp_path / "new" / "deeper" / "c.json", "--json").name == "c.json"
    os.mkfifo(tmp_path / "pipe") if hasattr(os, "mkfifo") else None
    if (tmp_path / "pipe").exists():
        with pytest.raises(HarnessError):
            check_output(tmp_path / "pipe", "--markdown", "markdown")
