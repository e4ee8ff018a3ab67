"""The run's append-only sample store (samples.jsonl): one JSON line per finished example,
flushed at once, so a killed run loses at most the example in flight. Resume reads it back."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class SampleStore:
    def __init__(self, path: Path):
        self.path = path
        self._fh = None

    def records(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        out = []
        with self.path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.endswith("\n"):      # a line without its newline was torn by a kill: drop it
                    out.append(json.loads(line))
        return out

    def done_keys(self) -> set[tuple[str, str, str]]:
        return {(r["model"], r["task"], r["id"]) for r in self.records()}

    def __enter__(self) -> "SampleStore":
        self._drop_torn_tail()
        self._fh = self.path.open("a", encoding="utf-8")
        return self

    def __exit__(self, *exc) -> None:
        self.sync()
        self._fh.close()
        self._fh = None

    def append(self, record: dict[str, Any]) -> None:
        self._fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._fh.flush()

    def sync(self) -> None:
        if self._fh:
            self._fh.flush()
            os.fsync(self._fh.fileno())

    def _drop_torn_tail(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            with self.path.open("r+b") as fh:
                fh.truncate(data.rfind(b"\n") + 1)


def write_json_atomic(path: Path, value: Any) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over the target."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(value, fh, indent=2, ensure_ascii=False, allow_nan=False)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
