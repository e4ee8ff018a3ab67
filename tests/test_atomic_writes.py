"""harness.store.write_text_atomic is the one atomic writer: every file the harness writes whole
(run files, gate outputs, blessed records, comparisons, history.html, the Prometheus textfile) is
fsynced before it replaces the old one, and no other module renames a temporary file of its own."""
from __future__ import annotations

import errno
import os
import re
import textwrap
from pathlib import Path

import pytest

from harness.cli import main
from harness.store import write_text_atomic

from gate_fixtures import results, write_run

HARNESS = Path(__file__).resolve().parent.parent / "harness"


@pytest.fixture
def fsynced(monkeypatch) -> list[str]:
    """The paths of the files (and folders) fsynced while the test runs."""
    seen: list[str] = []
    real = os.fsync

    def recording(fd):
        seen.append(os.readlink(f"/proc/self/fd/{fd}"))
        return real(fd)
    monkeypatch.setattr(os, "fsync", recording)
    return seen


def test_text_and_bytes_are_written_whole_and_fsynced(tmp_path, fsynced):
    write_text_atomic(tmp_path / "a.txt", "é\n")
    write_text_atomic(tmp_path / "b.bin", b"\x00\xff")
    assert (tmp_path / "a.txt").read_bytes() == "é\n".encode() and (tmp_path / "b.bin").read_bytes() == b"\x00\xff"
    assert [Path(p).name for p in fsynced] == [".a.txt.tmp", tmp_path.name, ".b.bin.tmp", tmp_path.name]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.bin"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "a.txt"
    target.write_text("old")

    def full(fd):                            # a disk that fills while the temporary file is written
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space left") as caught:
        write_text_atomic(target, "new")
    assert caught.value.filename == str(target)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_a_lone_surrogate_is_spelt_out_not_a_failed_write(tmp_path):
    """(harness.redact.writable: a model's exception text must not stop run.json or results.json.)"""
    write_text_atomic(tmp_path / "a.txt", "lone \udc80 surrogate")
    assert (tmp_path / "a.txt").read_text() == "lone \\udc80 surrogate"


def test_the_gates_junit_and_markdown_are_fsynced(tmp_path, fsynced):
    """The gate wrote its JUnit XML with its own tmp + os.replace, without fsync."""
    run = write_run(tmp_path / "reports" / "run-a", results())
    policy = tmp_path / "gate.yaml"
    policy.write_text(textwrap.dedent("""
        version: 1
        rules:
          - {name: floor, select: {task: facts_mc}, metric: accuracy, min: 0.5}
        """))
    assert main(["gate", str(run), "--policy", str(policy), "--junit", str(tmp_path / "out" / "junit.xml"),
                 "--markdown", str(tmp_path / "gate.md")]) == 0
    names = {Path(p).name for p in fsynced}
    assert {".junit.xml.tmp", ".gate.md.tmp", ".results.json.tmp"} <= names


def test_the_prometheus_textfile_is_fsynced(tmp_path, fsynced):
    from harness.exports.prometheus import write_textfile
    write_textfile(results(), tmp_path / "harness.prom")
    assert ".harness.prom.tmp" in {Path(p).name for p in fsynced}
    assert "harness_task_metric" in (tmp_path / "harness.prom").read_text()


def test_no_other_module_renames_a_temporary_file_over_a_target():
    """run_dir.py renames a whole run folder into place (a folder, not a file write)."""
    own = [str(p.relative_to(HARNESS)) for p in HARNESS.rglob("*.py")
           if p.name not in ("store.py", "run_dir.py")
           and re.search(r"os\.replace\(|os\.rename\(|\.rename\(|write_to_textfile\(", p.read_text(encoding="utf-8"))]
    assert own == []
