"""Failure isolation: one failing piece of an audit (a model's load, one task, one probe, the summary
of one) is recorded and the rest of the run goes on; the run then ends "complete with errors" (exit 3).

A failure is recorded as data, in run.json and results.json ``run.failures``::

    {"model": "a", "kind": "task", "piece": "facts_mc", "error": "...", "fix": "..."}

``kind`` is one of ``KINDS``; ``piece`` names the task or probe (null for ``load``, which also holds
a failed warm-up: the model never got ready). ``describe`` puts a record in words for messages; no
reader parses those words back. Run folders written before this shape (``{"model", "what", ...}``,
``what`` the words) are converted by ``from_record`` when run.json is read.
"""
from __future__ import annotations

import ast
import re
import sys
from typing import Any, Mapping

from harness.errors import HarnessError
from harness.redact import clean

KINDS = ("load", "task", "probe", "summary")


def record(model: str, kind: str, piece: str | None, error: str, fix: str) -> dict[str, Any]:
    """A failure record; ``piece`` is None exactly for ``load``."""
    if kind not in KINDS:
        raise ValueError(f"failure kind {kind!r} is not one of {KINDS}")
    if (piece is None) != (kind == "load"):
        raise ValueError(f"a {kind} failure {'names no piece' if kind == 'load' else 'needs the piece that failed'}")
    # what a model raised may quote a secret or hold a lone surrogate: run.json and results.json must not
    return {"model": model, "kind": kind, "piece": piece, "error": clean(error), "fix": clean(fix)}


def key(failure: Mapping[str, Any]) -> tuple[str, str, str | None]:
    """What identifies a failed piece: a later success of the same piece clears it."""
    return failure["model"], failure["kind"], failure["piece"]


_OLD = re.compile(r"^(task|probe) (.+)$", re.DOTALL)


def from_record(raw: Any) -> dict[str, Any]:
    """A failure read from run.json, in this module's shape; one of the old shape (``what``: "load",
    "warm-up", "task 'x'", "probe 'x'") is converted. ValueError when it is neither."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"a failure is {type(raw).__name__}, not an object")
    if "kind" in raw:
        return record(str(raw["model"]), raw["kind"], raw.get("piece"), str(raw["error"]), str(raw["fix"]))
    what = str(raw["what"])
    if what in ("load", "warm-up"):
        kind, piece = "load", None
    else:
        match = _OLD.match(what)
        if match is None:
            raise ValueError(f"a failure names an unknown piece {what!r}")
        kind, quoted = match.groups()
        try:
            piece = ast.literal_eval(quoted) if quoted[:1] in ("'", '"') else quoted
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            piece = None
        if not isinstance(piece, str):
            raise ValueError(f"a failure names an unknown piece {what!r}")
    return record(str(raw["model"]), kind, piece, str(raw["error"]), str(raw["fix"]))


def piece(model: str, kind: str, name: str | None = None) -> str:
    """A failed piece in words: "loading model 'a'", "model 'a' on task 'mc'"."""
    if kind == "load":
        return f"loading model {model!r}"
    if kind == "summary":
        return f"model {model!r} on the summary of {name!r}"
    return f"model {model!r} on {kind} {name!r}"


def describe(failure: Mapping[str, Any]) -> str:
    """A failure record in words (for messages; never parsed back)."""
    return piece(failure["model"], failure["kind"], failure.get("piece"))


def what(failure: Mapping[str, Any]) -> str:
    """The failed piece in a few words ("load", "task 'mc'", "probe 'p'", "summary of 'x'"), for a record of
    either shape (results.json files written before failures were data hold these words as ``what``)."""
    if "kind" not in failure:
        return str(failure.get("what", "?"))
    kind, name = failure.get("kind"), failure.get("piece")
    return "load" if kind == "load" else f"summary of {name!r}" if kind == "summary" else f"{kind} {name!r}"


def failed_pieces(failures: Any) -> set[tuple[str, str, str]]:
    """(model, kind, piece) of every failed task or probe among ``failures`` (either shape; others left out)."""
    out = set()
    for raw in failures if isinstance(failures, list) else ():
        try:
            failure = from_record({"error": "", "fix": "", **raw})
        except (ValueError, KeyError, TypeError):
            continue
        if failure["kind"] in ("task", "probe"):
            out.add(key(failure))
    return out


def isolated(state, model: str, kind: str, name: str | None = None) -> "Isolated":
    """``with isolated(state, model, "task", "x"):`` a HarnessError inside (a ModelFault: the model
    misbehaved) is recorded in run.json (and so results.json) and the run goes on; success clears the
    failure an earlier invocation recorded. Anything else (a bug, a full disk: OSError) still stops
    the run. ``state`` is a harness.run_dir.RunState."""
    return Isolated(state, model, kind, name)


class Isolated:
    def __init__(self, state, model: str, kind: str, name: str | None = None):
        self.state, self.model, self.kind, self.name, self.failed = state, model, kind, name, False

    def __enter__(self) -> "Isolated":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            self.state.clear_failure(self.model, self.kind, self.name)
            return False
        if not issubclass(exc_type, HarnessError):
            return False
        self.failed = True
        failure = record(self.model, self.kind, self.name, exc.problem, exc.fix)
        self.state.record_failure(failure)
        print(f"harness: {piece(self.model, self.kind, self.name)} failed, going on: {failure['error']}", file=sys.stderr)
        return True
