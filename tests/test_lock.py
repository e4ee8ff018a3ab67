"""harness.lock: one process per run folder; a finished run leaves no .lock, and a stale .lock (its
holder was killed) is taken over."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from harness.errors import HarnessError
from harness.lock import run_lock


def test_the_lock_file_is_removed_when_its_holder_is_done(tmp_path):
    with run_lock(tmp_path):
        assert (tmp_path / ".lock").read_text().strip() == str(os.getpid())
    assert not (tmp_path / ".lock").exists()


def test_the_lock_file_is_removed_when_the_work_raises(tmp_path):
    with pytest.raises(RuntimeError):
        with run_lock(tmp_path):
            raise RuntimeError("boom")
    assert not (tmp_path / ".lock").exists()


def test_a_stale_lock_of_a_killed_process_is_taken_over_and_then_removed(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from pathlib import Path; "
                               "from harness.lock import run_lock\n"
                               f"with run_lock(Path({str(tmp_path)!r})):\n print('held', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(HarnessError, match=f"PID {holder.pid}"):
        with run_lock(tmp_path):
            pass
    holder.kill()
    holder.wait()
    assert (tmp_path / ".lock").exists()                   # kill -9 leaves the file behind
    with run_lock(tmp_path):
        assert (tmp_path / ".lock").read_text().strip() == str(os.getpid())
    assert not (tmp_path / ".lock").exists()


def test_a_lock_on_a_file_removed_meanwhile_does_not_count(tmp_path, monkeypatch):
    """A process that opened .lock just before its holder removed it locks a file no longer in the
    folder: it must lock the file that is there instead."""
    import harness.lock as lock
    real_open, calls = os.open, []

    def open_then_replaced(path, flags, mode=0o777):
        fd = real_open(path, flags, mode)
        calls.append(path)
        if len(calls) == 1:                  # the holder removes it and a new one appears
            os.unlink(path)
            real_open(path, os.O_RDWR | os.O_CREAT, 0o644)
        return fd
    monkeypatch.setattr(lock.os, "open", open_then_replaced)
    with run_lock(tmp_path):
        pass
    assert len(calls) == 2
