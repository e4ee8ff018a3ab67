"""Append-only run files and atomic writes.

samples.jsonl holds one JSON line per finished example, flushed at once, so a killed run loses at
most the example in flight; resume reads it back. Every append-only file of a run (samples.jsonl,
windows.jsonl, telemetry.csv) is repaired the same way before it is appended to or read: a last
line without its newline was torn by a kill or a full disk and is dropped (`drop_torn_tail`).
A damaged line anywhere else is not guessed at: reading stops with the file and line named.
Records are keyed by (model, task, id); a key stored twice counts once, the first record winning.

A full disk (ENOSPC, EDQUOT) stays an OSError, named with the file it hit, until the CLI reports it
as one line (`disk_full`): it must stop the whole run, not be caught as one task's failure.
"""
from __future__ import annotations

import errno
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from harness.errors import HarnessError
from harness.redact import encodable, writable


def drop_torn_tail(path: Path) -> bool:
    """Truncate ``path`` after its last newline. True if something was dropped."""
    if not path.exists():
        return False
    size = path.stat().st_size
    if size == 0:
        return False
    with path.open("r+b") as fh:
        # Scan back from the end in blocks for the last newline (files can be large).
        block, end = 1 << 16, size
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return False
        while end > 0:
            start = max(0, end - block)
            fh.seek(start)
            chunk = fh.read(end - start)
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                fh.truncate(start + cut + 1)
                return True
            end = start
        fh.truncate(0)
        return True


RECOMPUTED = "delete that line (what it held is recomputed by `harness run --resume`), or start a new run"


def iter_jsonl(path: Path, check: Callable[[dict[str, Any]], str | None] | None = None,
               fix: str = RECOMPUTED) -> Iterator[dict[str, Any]]:
    """The complete lines of an append-only JSONL file. A torn last line (no newline) is skipped;
    a line that is not a JSON object anywhere else, or one that ``check`` finds a problem in, raises
    HarnessError naming the file and line."""
    if not path.exists():
        return
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.endswith(b"\n"):
                return                      # torn by a kill or a full disk: dropped on the next append
            if not raw.strip():
                continue
            try:
                value = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
            except (ValueError, UnicodeDecodeError, RecursionError) as exc:
                raise HarnessError(f"{path}:{lineno} is damaged ({type(exc).__name__}: {str(exc)[:80]})", fix) from None
            if not isinstance(value, dict):
                raise HarnessError(f"{path}:{lineno} is not a JSON object", fix)
            problem = check(value) if check else None
            if problem:
                raise HarnessError(f"{path}:{lineno} is not a harness record ({problem})", fix)
            yield value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def dumps_strict(value: Any) -> str:
    """One JSON line; NaN and infinities are refused (they are not JSON)."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


@contextmanager
def naming(path: Path) -> Iterator[None]:
    """An OSError raised by a write to an open file does not say which file: name ``path``."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None:
            exc.filename = str(path)
        raise


def disk_full(exc: OSError, where: Path | None = None) -> HarnessError | None:
    """The one-line error for a full disk or quota, or None when ``exc`` is something else."""
    if exc.errno not in DISK_FULL:
        return None
    return HarnessError(f"disk full writing {exc.filename or where or 'the run folder'} ({exc.strerror})",
                        "free space on that disk, then finish the run with `harness run --resume RUN_DIR` "
                        "(what was stored is kept)")


_RECORD_TEXT = ("model", "task", "id")
_RECORD_OBJECTS = ("scores", "views", "details")


def sample_problem(record: dict[str, Any]) -> str | None:
    """What makes ``record`` unusable as a samples.jsonl record (the fields every reader relies
    on), or None. A hand-edited or foreign line is refused here, not met as a traceback later."""
    for key in _RECORD_TEXT:
        if not isinstance(record.get(key), str):
            return f"{key} is {'missing' if key not in record else type(record[key]).__name__}, not a string"
    index = record.get("index")
    if isinstance(index, bool) or not isinstance(index, int):
        return f"index is {'missing' if 'index' not in record else type(index).__name__}, not a whole number"
    for key in _RECORD_OBJECTS:
        if key in record and not isinstance(record[key], dict):
            return f"{key} is {type(record[key]).__name__}, not an object"
    for name, value in (record.get("scores") or {}).items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            return f"scores.{name} is {type(value).__name__}, not a number"
    return None


UNUSABLE = (errno.EISDIR, errno.ENOTDIR, errno.EACCES, errno.EPERM, errno.EROFS)


def unusable_path(exc: OSError) -> HarnessError | None:
    """The one-line error for a run file the harness cannot open as a file (a folder stands in its
    place, a read-only disk, no permission), or None: a path the user controls, not a bug."""
    if exc.errno not in UNUSABLE or not exc.filename:
        return None
    return HarnessError(f"cannot use {exc.filename} ({exc.strerror})",
                        "make it a file this user can write (move aside what stands in its way), then run again "
                        "or finish the run with `harness run --resume RUN_DIR` (what was stored is kept)")


def record_key(record: dict[str, Any]) -> tuple[Any, Any, Any]:
    return record.get("model"), record.get("task"), record.get("id")


class SampleStore:
    def __init__(self, path: Path):
        self.path = path
        self._fh = None

    def records(self) -> list[dict[str, Any]]:
        """Each (model, task, id) once, the first stored record winning."""
        seen: set[tuple[Any, Any, Any]] = set()
        out = []
        for record in iter_jsonl(self.path, sample_problem):
            key = record_key(record)
            if key not in seen:
                seen.add(key)
                out.append(record)
        return out

    def done_keys(self) -> set[tuple[str, str, str]]:
        return {record_key(r) for r in self.records()}

    def __enter__(self) -> "SampleStore":
        drop_torn_tail(self.path)
        self._fh = self.path.open("a", encoding="utf-8")
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.sync()
        finally:
            fh, self._fh = self._fh, None
            with naming(self.path):
                fh.close()

    def append(self, record: dict[str, Any]) -> None:
        line = dumps_strict(record) + "\n"
        try:
            line.encode("utf-8")
        except UnicodeEncodeError as exc:    # a lone surrogate (a probe's data, a plugin's text): no UTF-8 file holds it
            raise HarnessError(f"the record of {record.get('task')!r} item {record.get('id')!r} holds a lone surrogate "
                               f"(\\u{ord(exc.object[exc.start]):04x}), which no UTF-8 file can hold",
                               "remove the escape from the data it came from, or fix the model or plugin that "
                               "produced it") from None
        with naming(self.path):
            self._fh.write(line)
            self._fh.flush()

    def sync(self) -> None:
        if self._fh:
            with naming(self.path):
                self._fh.flush()
                os.fsync(self._fh.fileno())


def write_json_atomic(path: Path, value: Any) -> None:
    text = json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:          # a lone surrogate (a plugin's or a model's text): spelt out, never a crash
        text = json.dumps(encodable(value), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    write_text_atomic(path, text)


def write_text_atomic(path: Path, data: str | bytes) -> None:
    """The one atomic writer of the harness (run files, reports, gate outputs, blessed records): write
    ``data`` (text as UTF-8, or bytes) to a temporary file in the same folder, fsync it, rename it over
    the target, then fsync the folder so the rename itself survives a power cut. On any failure (a full
    disk, say) the temporary file is removed and the target is left as it was."""
    tmp = path.with_name(f".{path.name}.tmp")
    if isinstance(data, str):
        data = writable(data)           # a lone surrogate is spelt out (\\udcff): no UTF-8 file can hold it
    try:
        with naming(path), tmp.open("wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:                  # a platform or file system that cannot open folders: the rename is done
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
