"""`harness show`: the summary table of a finished run."""
from __future__ import annotations

from pathlib import Path

from harness.errors import HarnessError

HELP = "print the summary table of a finished run"


def add_parser(sub, epilog: str) -> None:
    show = sub.add_parser("show", help=HELP)
    show.add_argument("run_dir", type=Path)


def execute(args, argv: list[str]) -> int:
    from harness.report import summary_table
    from harness.results.reading import read_results
    print(summary_table(read_results(args.run_dir)))
    return 0
