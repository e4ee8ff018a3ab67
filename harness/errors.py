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
