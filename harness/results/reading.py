"""Reading a finished run's results.json back (gate, bless, compare, show, export, history, the
report): strict JSON (no NaN or Infinity), its layout migrated when older (harness.results.migration)
and checked against the types once, at the edge, so that a truncated, hand-edited, foreign or newer
file is one line naming the bad place (HarnessError, exit 2), never a traceback deep in a reader."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harness.errors import HarnessError
from harness.results.migration import LayoutError, to_current
from harness.results.types import Results, plain_name

__all__ = ["read_results", "read_raw", "parse", "as_results", "plain_name", "FIX"]

FIX = "re-run or resume the run (`harness run --resume RUN_DIR`), or pass a folder written by `harness run`"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def results_file(path: Path) -> Path:
    path = Path(path)
    return path / "results.json" if path.is_dir() else path


def read_raw(path: Path) -> dict:
    """``path`` (a run folder or its results.json) as the JSON object it holds, or a one-line HarnessError."""
    path = Path(path)
    file = results_file(path)
    if not file.is_file():
        raise HarnessError(f"{path} holds no results.json", "pass a folder written by `harness run` or its results.json")
    if file.stat().st_size == 0:
        raise HarnessError(f"{file} is empty (0 bytes)", FIX)
    try:
        raw = json.loads(file.read_text(encoding="utf-8"), parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise HarnessError(f"{file} is not valid JSON ({str(exc)[:120]})", FIX) from None
    try:
        json.dumps(raw, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:          # a \ud800 escape: a lone surrogate no UTF-8 output can hold
        raise HarnessError(f"{file} is not valid JSON text (a lone surrogate escape at character {exc.start} of a string)",
                           FIX) from None
    if not isinstance(raw, dict):
        raise HarnessError(f"{file} is not a harness results.json: the file is {_kind(raw)}, not an object", FIX)
    return raw


def read_results(path: Path) -> Results:
    """``path`` (a run folder or its results.json) read, migrated and checked, or a one-line HarnessError."""
    return parse(read_raw(path), results_file(Path(path)))


def parse(raw: Any, file: Path | str = "results.json") -> Results:
    """A results.json object (of any layout this harness reads) as ``Results``, or a one-line HarnessError."""
    if not isinstance(raw, dict):
        raise HarnessError(f"{file} is not a harness results.json: the file is {_kind(raw)}, not an object", FIX)
    if "run" not in raw or "models" not in raw:
        raise HarnessError(f"{file} is not a harness results.json (no run or models)", FIX)
    try:
        current = to_current(raw)
    except LayoutError as exc:
        raise HarnessError(f"{file} cannot be read: {exc.problem}", exc.fix) from None
    try:
        return Results.model_validate(current)
    except ValidationError as exc:
        raise HarnessError(f"{file} is not a harness results.json: {_first_error(exc)}", FIX) from None


def as_results(results: Results | dict) -> Results:
    """A reader's input as ``Results``: the typed value as it is, a dict parsed (and migrated)."""
    return results if isinstance(results, Results) else parse(results)


def _kind(value: Any) -> str:
    return {type(None): "null", bool: "a boolean", str: "a string", list: "a list", dict: "an object",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


_UNION_BRANCHES = ("int", "float")        # a Number is int | float: pydantic names the branch it tried


def _first_error(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    parts = [str(part) for part in error["loc"]]
    number = any(part in _UNION_BRANCHES for part in parts)
    where = ".".join(p for p in parts if p not in _UNION_BRANCHES and not p.startswith(("function-", "tagged-")))
    message = "Input should be a number" if number else error["msg"].removeprefix("Value error, ")
    shown = _kind(error.get("input")) if error["type"] not in ("value_error", "assertion_error") else ""
    return f"{where or 'the file'}: {message}" + (f" (it is {shown})" if shown and error["type"] != "missing" else "")
