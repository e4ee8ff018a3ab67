"""`harness show`: the summary table of a finished run."""
from __future__ import annotations

import json
from pathlib import Path

from harness.errors import HarnessError

HELP = "print the summary table of a finished run"


def add_parser(sub, epilog: str) -> None:
    show = sub.add_parser("show", help=HELP)
    show.add_argument("run_dir", type=Path)


def read_results(run_dir: Path) -> dict:
    """A run folder's results.json, or a one-line error naming what is wrong with it."""
    path = run_dir / "results.json" if run_dir.is_dir() else run_dir
    if not path.is_file():
        raise HarnessError(f"{run_dir} holds no results.json", "pass a folder written by `harness run`")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise HarnessError(f"{path} is not valid JSON ({exc})", "re-run or resume the run") from None


def execute(args, argv: list[str]) -> int:
    from harness.report import summary_table
    print(summary_table(read_results(args.run_dir)))
    return 0
