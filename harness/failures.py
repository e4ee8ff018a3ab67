"""Failure isolation: one failing piece of an audit (a model's load, one task, one probe) is
recorded and the rest of the run goes on; the run then ends "complete with errors" (exit 3)."""
from __future__ import annotations

import sys

from harness.errors import HarnessError
from harness.run_dir import RunState


def isolated(state: RunState, model: str, what: str) -> "Isolated":
    """``with isolated(state, model, "task 'x'"):`` a HarnessError inside (a ModelFault: the model
    misbehaved) is recorded in run.json (and so results.json) and the run goes on; success clears the
    failure an earlier invocation recorded. Anything else (a bug, a full disk: OSError) still stops
    the run."""
    return Isolated(state, model, what)


class Isolated:
    def __init__(self, state: RunState, model: str, what: str):
        self.state, self.model, self.what, self.failed = state, model, what, False

    def __enter__(self) -> "Isolated":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            self.state.clear_failure(self.model, self.what)
            return False
        if not issubclass(exc_type, HarnessError):
            return False
        self.failed = True
        self.state.record_failure(self.model, self.what, exc.problem, exc.fix)
        print(f"harness: {piece(self.model, self.what)} failed, going on: {exc.problem}", file=sys.stderr)
        return True


def piece(model: str, what: str) -> str:
    """A failed piece in words: "model 'a' on task 'mc'", "loading model 'a'"."""
    return f"loading model {model!r}" if what == "load" else f"model {model!r} on {what}"

