"""Loading examples from local JSONL, JSON (an array of objects), CSV or TSV files, or from a
`datasets` spec. Files are read as UTF-8 (a byte order mark is dropped); anything else is refused
naming the file and the byte offset. Every example remembers where it came from (FILE:LINE), so a
bad field can be named exactly."""
from __future__ import annotations

import csv
import io
import json
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from harness.errors import HarnessError


@dataclass(frozen=True)
class Example:
    id: str
    index: int
    fields: Mapping[str, Any]
    where: str = ""                      # FILE:LINE (or the dataset row) it came from

    def describe(self) -> str:
        return f"example {self.id!r}" + (f" ({self.where})" if self.where else "")


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
    for i, (where, row) in enumerate(rows):
        raw_id = row.get(source.id_field, i)
        if type(raw_id) not in (str, int):
            raise HarnessError(f"{owner}: {where}: the id field {source.id_field!r} is {_kind(raw_id)}",
                               "give every example a text or whole-number id, or leave the field out")
        ex_id = str(raw_id)
        if ex_id in seen:
            raise HarnessError(f"{owner}: example id {ex_id!r} appears twice in {source.describe()} (again at {where})",
                               f"make the '{source.id_field}' field unique")
        seen.add(ex_id)
        _check_text(row, where, owner)
        examples.append(Example(id=ex_id, index=i, fields=row, where=where))
    return examples


def _check_text(row: dict, where: str, owner: str) -> None:
    """A JSON escape of a lone surrogate ("\ud800") reads as a str no UTF-8 file can hold: the run
    would stop when the example's record is written. Refused here, naming the line."""
    try:
        json.dumps(row, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise HarnessError(f"{owner}: {where} holds a lone surrogate escape (\\u{ord(exc.object[exc.start]):04x}), "
                           "which is not a character", "replace the escape with the character it stands for "
                           "(a pair \\ud83d\\ude00 is fine), or remove it") from None


def what_it_is(path: Path) -> str:
    """A path's kind in words, for messages: "not found", "a file", "a folder", "a device, not a file", ..."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return "not found"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISREG(mode):
        return "a file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device, not a file"
    if stat.S_ISFIFO(mode):
        return "a named pipe, not a file"
    if stat.S_ISSOCK(mode):
        return "a socket, not a file"
    return "not a regular file"


def not_a_file(path: Path) -> str:
    """"not found", or "is a folder, not a file" ...: what to say of a data path that is no regular file."""
    found = what_it_is(path)
    return "not found" if found == "not found" else f"is {found}" + (", not a file" if found == "a folder" else "")


def _kind(value: Any) -> str:
    return "null" if value is None else f"{value!r} (a {type(value).__name__})"


def _load_file(path: Path | None, owner: str) -> list[tuple[str, dict]]:
    if path is None:
        raise HarnessError(f"{owner}: no data given", "set `data: {path: FILE.jsonl}` in the task YAML")
    if not path.is_file():
        raise HarnessError(f"{owner}: data file {path} {not_a_file(path)}",
                           "point `data:` at a .jsonl, .json, .csv or .tsv file (relative paths start at the YAML "
                           "file's folder)")
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".json", ".csv", ".tsv"):
        raise HarnessError(f"{owner}: cannot read {path} (unknown extension {suffix!r})", "use a .jsonl, .json or .csv file")
    text = read_text(path, owner)
    if suffix in (".csv", ".tsv"):
        return _read_csv(text, path, owner, "\t" if suffix == ".tsv" else ",")
    if suffix == ".json" and text.lstrip().startswith("["):
        return _read_json_array(text, path, owner)
    return _read_jsonl(text, path, owner)


def read_jsonl(path: Path, owner: str) -> list[tuple[str, dict]]:
    """(FILE:LINE, row) for every object of a JSONL file; bad lines are named."""
    return _read_jsonl(read_text(path, owner), path, owner)


def read_text(path: Path, owner: str) -> str:
    """The file as text: UTF-8, a byte order mark dropped. Other encodings and binary data are refused."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        utf16 = " (it starts with a UTF-16 byte order mark)" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise HarnessError(f"{owner}: {path} is not UTF-8 text: byte 0x{data[exc.start]:02x} at offset {exc.start} "
                           f"cannot be decoded{utf16}",
                           "save the file as UTF-8 (e.g. `iconv -f LATIN1 -t UTF-8`, or -f UTF-16), or point the "
                           "task at the right file") from None


class _NotPlainJSON(ValueError):
    """NaN/Infinity (Python's json reads them; JSON has no such values) or a key given twice in one
    object (json keeps the last silently)."""


def _no_constant(name: str) -> Any:
    raise _NotPlainJSON(f"{name} is not a JSON value")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    row = {}
    for key, value in pairs:
        if key in row:
            raise _NotPlainJSON(f"key {key[:80]!r} is given twice in one object")
        row[key] = value
    return row


def _loads(text: str) -> Any:
    return json.loads(text, parse_constant=_no_constant, object_pairs_hook=_unique_keys)


def _read_jsonl(text: str, path: Path, owner: str) -> list[tuple[str, dict]]:
    rows = []
    for lineno, line in enumerate(text.split("\n"), 1):    # not splitlines: U+2028 may sit inside a JSON string
        if not line.strip():
            continue
        try:
            row = _loads(line)
        except json.JSONDecodeError as exc:
            raise HarnessError(f"{owner}: {path}:{lineno} is not valid JSON ({exc.msg})",
                               "fix that line; JSONL holds one JSON object per line") from None
        except _NotPlainJSON as exc:
            raise HarnessError(f"{owner}: {path}:{lineno}: {exc}",
                               "fix that line (write a missing number as null, and each key once)") from None
        except RecursionError:
            raise HarnessError(f"{owner}: {path}:{lineno} is nested too deeply to parse",
                               "fix that line; JSONL holds one flat JSON object per line") from None
        if not isinstance(row, dict):
            raise HarnessError(f"{owner}: {path}:{lineno} is not a JSON object", "write one object per line")
        rows.append((f"{path}:{lineno}", row))
    return rows


def _read_json_array(text: str, path: Path, owner: str) -> list[tuple[str, dict]]:
    try:
        rows = _loads(text)
    except json.JSONDecodeError as exc:
        raise HarnessError(f"{owner}: {path}:{exc.lineno} is not valid JSON ({exc.msg})",
                           "fix the file: a .json file holds one array of objects, or one object per line") from None
    except _NotPlainJSON as exc:
        raise HarnessError(f"{owner}: {path}: {exc}",
                           "fix the file (write a missing number as null, and each key once)") from None
    except RecursionError:
        raise HarnessError(f"{owner}: {path} is nested too deeply to parse",
                           "a .json file holds one array of flat objects") from None
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise HarnessError(f"{owner}: {path} item {i} is not a JSON object", "make every item of the array an object")
    return [(f"{path} item {i}", row) for i, row in enumerate(rows)]


def _read_csv(text: str, path: Path, owner: str, delimiter: str) -> list[tuple[str, dict]]:
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = []
    try:
        header = reader.fieldnames or []
        twice = sorted({name for name in header if header.count(name) > 1})
        if twice:
            raise HarnessError(f"{owner}: {path}:1: column {twice[0][:80]!r} is named twice in the header",
                               "give every column its own name (a second column of the same name would be lost)")
        for row in reader:
            where = f"{path}:{reader.line_num}"
            if None in row or None in row.values():
                raise HarnessError(f"{owner}: {where} has {'more' if None in row else 'fewer'} cells than the header "
                                   f"({len(reader.fieldnames)})", "give every row one cell per column (quote cells "
                                   "that hold the delimiter)")
            rows.append((where, row))
    except csv.Error as exc:
        raise HarnessError(f"{owner}: {path}:{reader.line_num} cannot be read as CSV ({exc})", "fix that line") from None
    return rows


def _load_hf(source: DataSource, owner: str) -> list[tuple[str, dict]]:
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
    return [(f"{source.describe()} row {i}", dict(row)) for i, row in enumerate(ds)]
