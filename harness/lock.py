"""One harness process per run folder: an exclusive, non-blocking flock on RUN_DIR/.lock, held while
the process works on the folder. Two processes appending to one samples.jsonl would compute and
store examples twice. The kernel drops the lock when its holder ends, however it ends (kill -9
included), so a crashed run never blocks its resume."""
from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from harness.errors import HarnessError


@contextmanager
def run_lock(directory: Path) -> Iterator[None]:
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise HarnessError(f"{directory} is in use by another harness run (PID {holder})",
                               "wait for that run to finish, or stop it; then resume this folder") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)
