"""`harness run`'s history consumer (an after-run consumer: harness.plugins.AFTER_RUN): adds the
finished run to OUT/history.sqlite. A run whose index cannot be written is still a finished run:
the problem is one warning line."""
from __future__ import annotations

import sys
from dataclasses import dataclass

from harness.errors import HarnessError

ORDER = 20
RESUME_OPTIONS = frozenset({"no_history"})


@dataclass(frozen=True)
class HistoryOptions:
    record: bool = True           # not --no-history


def add_arguments(parser) -> None:
    parser.add_argument("--no-history", action="store_true",
                        help="do not add this run to the history index (OUT/history.sqlite)")


def options(args) -> HistoryOptions:
    return HistoryOptions(record=not args.no_history)


def after_run(options: HistoryOptions, run) -> None:
    results, run_dir = run.results, run.dir
    if not options.record:
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
