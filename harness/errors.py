"""The one exception type that means "the user can fix this": exit code 2, one line, no traceback."""
from __future__ import annotations


class HarnessError(Exception):
    """A problem in the user's input or environment, with the fix.

    The CLI prints ``harness: error: <problem>; fix: <fix>`` on one line and exits 2.
    """

    def __init__(self, problem: str, fix: str):
        super().__init__(problem, fix)
        self.problem = problem
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.problem}; fix: {self.fix}"


class ModelFault(HarnessError):
    """A model misbehaved while answering (raised, returned the wrong type, ran out of memory after
    the batch size could not shrink further, got an over-long input). The runner records it
    against the model and the task or probe, goes on with the rest of the audit, and the run ends
    with exit 3 ("finished with errors")."""

    def __init__(self, problem: str, fix: str, model: str = "", what: str = "", systemic: bool = False,
                 one_item: bool = False):
        super().__init__(problem, fix)
        self.model = model
        self.what = what          # e.g. "task 'toylang'" or "probe 'crows_pairs'"
        self.systemic = systemic  # not one item's fault (a server that stays down): retrying item by item is no use
        self.one_item = one_item  # surely one item's fault (an over-long input): says nothing of the others


class Terminated(KeyboardInterrupt):
    """SIGTERM (a CI runner's or Kubernetes' stop) during a run. Handled like Ctrl-C: what was
    computed is written, marked "incomplete: terminated", and the CLI exits 143."""
