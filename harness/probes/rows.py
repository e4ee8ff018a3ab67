"""A probe's data files, read and checked before the run starts: a file the probe needs that its
YAML does not name or that is missing, a line that is not a JSON object, or a row without a field
the probe reads (or with the wrong type) is one error naming the file and line, never a traceback
in the middle of an audit."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from harness.data import not_a_file, read_jsonl, read_text
from harness.errors import HarnessError
from harness.probes.base import ProbeConfig

_TYPE_NAMES = {str: "a string", int: "a whole number", list: "a list", dict: "a mapping"}


def data_file(config: ProbeConfig, key: str) -> Path:
    """The file the probe's YAML names under ``data: {key: FILE}``, which must exist."""
    if key not in config.data:
        raise HarnessError(f"probe file {config.source}: `data` names no {key!r} file, which probe {config.probe!r} reads",
                           f"add `{key}: FILE` under `data:`")
    path = config.data[key]
    if not path.is_file():
        raise HarnessError(f"probe file {config.source}: data file {path} ({key}) {not_a_file(path)}",
                           "fix the path under `data:` (relative paths start at the YAML file's folder)")
    return path


def jsonl_rows(config: ProbeConfig, key: str, fields: Mapping[str, type]) -> list[dict]:
    """The rows of a JSONL data file, each holding every field in ``fields`` with that type."""
    path = data_file(config, key)
    owner = f"probe {config.name!r}"
    rows = read_jsonl(path, owner)
    if not rows:
        raise HarnessError(f"{owner}: data file {path} is empty", "add items to it or point `data:` at the right file")
    for where, row in rows:
        for name, kind in fields.items():
            value = row.get(name)
            if type(value) is not kind:
                wanted = _TYPE_NAMES.get(kind, kind.__name__)
                problem = (f"has no field {name!r}" if name not in row else
                           f"field {name!r} is {'null' if value is None else _TYPE_NAMES.get(type(value), type(value).__name__)}, "
                           f"not {wanted}")
                raise HarnessError(f"{owner}: {where} {problem}",
                                   f"give every line of {path.name} the fields {', '.join(fields)}")
    return [row for _, row in rows]


def text_lines(config: ProbeConfig, key: str) -> list[str]:
    """The lines of a plain-text data file (UTF-8)."""
    path = data_file(config, key)
    return read_text(path, f"probe {config.name!r}").splitlines()


def json_document(config: ProbeConfig, key: str) -> Any:
    path = data_file(config, key)
    try:
        return json.loads(read_text(path, f"probe {config.name!r}"))
    except (json.JSONDecodeError, RecursionError) as exc:
        raise HarnessError(f"probe {config.name!r}: {path} is not valid JSON ({getattr(exc, 'msg', 'nested too deeply')})",
                           "fix the file") from None
