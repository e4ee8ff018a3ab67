"""Loading examples from local JSONL or CSV files, or from a `datasets` spec."""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from harness.errors import HarnessError


@dataclass(frozen=True)
class Example:
    id: str
    index: int
    fields: Mapping[str, Any]


@dataclass(frozen=True)
class DataSource:
    """Where a task's examples come from: exactly one of ``path`` or ``hf``."""
    path: Path | None = None
    hf: Mapping[str, Any] | None = None   # {"path": ..., "name": ..., "split": ...}
    id_field: str = "id"

    def describe(self) -> str:
        return str(self.path) if self.path else f"datasets:{dict(self.hf or {})}"


def load_examples(source: DataSource, owner: str) -> list[Example]:
    rows = _load_hf(source, owner) if source.hf else _load_file(source.path, owner)
    if not rows:
        raise HarnessError(f"{owner}: dataset {source.describe()} is empty",
                           "add examples to it or point the task at a non-empty file")
    examples, seen = [], set()
    for i, row in enumerate(rows):
        ex_id = str(row.get(source.id_field, i))
        if ex_id in seen:
            raise HarnessError(f"{owner}: example id {ex_id!r} appears twice in {source.describe()}",
                               f"make the '{source.id_field}' field unique")
        seen.add(ex_id)
        examples.append(Example(id=ex_id, index=i, fields=row))
    return examples


def _load_file(path: Path | None, owner: str) -> list[dict]:
    if path is None:
        raise HarnessError(f"{owner}: no data given", "set `data: {path: FILE.jsonl}` in the task YAML")
    if not path.is_file():
        raise HarnessError(f"{owner}: data file {path} not found",
                           "fix the path in the task YAML (relative paths start at the YAML file's folder)")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json"):
        return _read_jsonl(path, owner)
    if suffix in (".csv", ".tsv"):
        with path.open(newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh, delimiter="\t" if suffix == ".tsv" else ","))
    raise HarnessError(f"{owner}: cannot read {path} (unknown extension {suffix!r})", "use a .jsonl or .csv file")


def _read_jsonl(path: Path, owner: str) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise HarnessError(f"{owner}: {path}:{lineno} is not valid JSON ({exc.msg})",
                                   "fix that line; JSONL holds one JSON object per line") from None
            if not isinstance(row, dict):
                raise HarnessError(f"{owner}: {path}:{lineno} is not a JSON object", "write one object per line")
            rows.append(row)
    return rows


def _load_hf(source: DataSource, owner: str) -> list[dict]:
    spec = dict(source.hf or {})
    try:
        import datasets
    except ImportError:
        raise HarnessError(f"{owner}: a `datasets` source needs the datasets package", "pip install datasets") from None
    try:
        ds = datasets.load_dataset(spec.pop("path"), spec.pop("name", None), split=spec.pop("split", "test"), **spec)
    except Exception as exc:
        raise HarnessError(f"{owner}: could not load dataset {source.describe()}: {type(exc).__name__}: {exc}",
                           "check the name and split, or go online / point `data.path` at a local file") from None
    return [dict(row) for row in ds]
