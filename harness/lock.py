"""One harness process per run folder: an exclusive, non-blocking flock on RUN_DIR/.lock, held while
the process works on the folder. Two processes appending to one samples.jsonl would compute and
store examples twice. The kernel drops the lock when its holder ends, however it ends (kill -9
included), so a crashed run never blocks its resume: the `.lock` file it leaves behind is stale, and
the next process takes it over. The holder removes the file when it is done, so a finished run
folder holds no `.lock`.

The file is removed while the lock is still held. A process that opened the old file just before
then and locks it afterwards would hold a lock on a file no longer in the folder; so a lock counts
only when the locked file is still the one at RUN_DIR/.lock (same inode), else it is taken again."""
from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from harness.errors import HarnessError

NAME = ".lock"
ATTEMPTS = 20


def _still_there(fd: int, path: Path) -> bool:
    try:
        mine, there = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino)


def _acquire(path: Path) -> int:
    for _ in range(ATTEMPTS):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise HarnessError(f"{path.parent} is in use by another harness run (PID {holder})",
                               "wait for that run to finish, or stop it; then resume this folder") from None
        except BaseException:
            os.close(fd)
            raise
        if _still_there(fd, path):
            return fd
        os.close(fd)                # its holder removed it as we locked it: lock the file there now
    raise HarnessError(f"cannot take the lock {path}: it is removed and made again as fast as it is taken",
                       "stop the other processes working on this folder, then try again")


@contextmanager
def run_lock(directory: Path) -> Iterator[None]:
    path = Path(directory) / NAME
    fd = _acquire(path)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        try:
            if _still_there(fd, path):
                path.unlink()
        except OSError:             # a read-only or vanished folder: the stale file is harmless, the next run takes it over
            pass
        os.close(fd)
