"""`harness run`'s history consumer (AFTER_RUN): adds the finished run to OUT/history.sqlite.
A run whose index cannot be written is still a finished run: the problem is one warning line."""
from __future__ import annotations

import sys

from harness.errors import HarnessError

OPTIONS = {"no_history"}


def add_arguments(parser) -> None:
    parser.add_argument("--no-history", action="store_true",
                        help="do not add this run to the history index (OUT/history.sqlite)")


def after_run(args, results: dict, run_dir) -> None:
    if getattr(args, "no_history", False):
        return None
    from harness.history import record
    try:
        record(run_dir, results)
    except HarnessError as exc:
        print(f"harness: warning: run not added to the history index: {exc}", file=sys.stderr)
    except OSError as exc:
        print(f"harness: warning: run not added to the history index ({exc}); fix: "
              f"`harness history {run_dir.parent}` adds it later", file=sys.stderr)
    return None
