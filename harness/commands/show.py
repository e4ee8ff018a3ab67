"""`harness show`: a finished run in the terminal: the gate's verdict when it was gated, one line per model
(recipe, headline metrics, energy with sources), every metric with its interval, what was not done."""
from __future__ import annotations

from pathlib import Path


HELP = "print a finished run: its gate verdict, each model's headline and energy, every metric"


def add_parser(sub, epilog: str) -> None:
    show = sub.add_parser("show", help=HELP)
    show.add_argument("run_dir", type=Path)


def execute(args, argv: list[str]) -> int:
    from harness.report import summary_table
    from harness.results.reading import read_results
    print(summary_table(read_results(args.run_dir), show=True))
    return 0
