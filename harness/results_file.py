"""Reading a finished run's results.json back (gate, bless, compare, show, export, history): strict
JSON (no NaN or Infinity) and the shape `harness run` writes, checked once at the edge so that a
truncated, hand-edited or foreign file is one line naming the bad place, never a traceback deep in
a consumer."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from harness.errors import HarnessError

FIX = "re-run or resume the run (`harness run --resume RUN_DIR`), or pass a folder written by `harness run`"


def _kind(value: Any) -> str:
    return {type(None): "null", bool: "a boolean", str: "a string", list: "a list", dict: "an object",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def plain_name(text: str) -> bool:
    """A name that is one folder name: not empty, not . or .., no separator or NUL."""
    return bool(text) and text not in (".", "..") and not any(c in text for c in "/\\\0")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def read_results(path: Path) -> dict:
    """``path`` (a run folder or its results.json) read and checked, or a one-line HarnessError."""
    path = Path(path)
    file = path / "results.json" if path.is_dir() else path
    if not file.is_file():
        raise HarnessError(f"{path} holds no results.json", "pass a folder written by `harness run` or its results.json")
    if file.stat().st_size == 0:
        raise HarnessError(f"{file} is empty (0 bytes)", FIX)
    try:
        results = json.loads(file.read_text(encoding="utf-8"), parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise HarnessError(f"{file} is not valid JSON ({str(exc)[:120]})", FIX) from None
    try:
        json.dumps(results, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:          # a \ud800 escape: a lone surrogate no UTF-8 output can hold
        raise HarnessError(f"{file} is not valid JSON text (a lone surrogate escape at character {exc.start} of a string)",
                           FIX) from None
    check_shape(results, file)
    return results


def check_shape(results: Any, file: Path | str = "results.json") -> None:
    """The parts consumers read: run (status, id, failures) and models (tasks, probes, skipped, energy, metrics)."""
    def bad(where: str, value: Any, want: str) -> HarnessError:
        return HarnessError(f"{file} is not a harness results.json: {where} is {_kind(value)}, not {want}", FIX)

    def obj(value: Any, where: str, optional: bool = True) -> dict:
        if value is None and optional:
            return {}
        if not isinstance(value, dict):
            raise bad(where, value, "an object")
        return value

    if not isinstance(results, dict):
        raise bad("the file", results, "an object")
    if "run" not in results or "models" not in results:
        raise HarnessError(f"{file} is not a harness results.json (no run or models)", FIX)
    run = obj(results["run"], "run", optional=False)
    for key in ("id", "status"):
        if key in run and not isinstance(run[key], str):
            raise bad(f"run.{key}", run[key], "a string")
    if not plain_name(run.get("id", "x")):            # consumers name folders after it (TensorBoard, history)
        raise HarnessError(f"{file} is not a harness results.json: run.id {run['id']!r} is not a plain name", FIX)
    failures = run.get("failures")
    if failures is not None and not (isinstance(failures, list) and all(isinstance(f, dict) for f in failures)):
        raise bad("run.failures", failures, "a list of objects")
    obj(results.get("energy"), "energy")
    for model, info in obj(results["models"], "models", optional=False).items():
        info = obj(info, f"models.{model}", optional=False)
        obj(info.get("skipped"), f"models.{model}.skipped")
        obj(info.get("energy"), f"models.{model}.energy")
        for group in ("tasks", "probes"):
            for piece, entry in obj(info.get(group), f"models.{model}.{group}").items():
                where = f"models.{model}.{group}.{piece}"
                entry = obj(entry, where, optional=False)
                n = entry.get("n")
                if n is not None and (isinstance(n, bool) or not isinstance(n, int)):
                    raise bad(f"{where}.n", n, "a whole number")
                obj(entry.get("energy"), f"{where}.energy")
                for name, metric in obj(entry.get("metrics"), f"{where}.metrics").items():
                    metric = obj(metric, f"{where}.metrics.{name}", optional=False)
                    value = metric.get("value")
                    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                              or not math.isfinite(value)):
                        raise bad(f"{where}.metrics.{name}.value", value, "a number or null")
