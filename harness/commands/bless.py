"""`harness bless`: record a finished run as a fixed baseline NAME for `harness gate --baseline NAME` and
`harness history --baseline NAME` (one record, ``.blessed/NAME.json``: harness.gate.baseline)."""
from __future__ import annotations

from pathlib import Path

HELP = "record a complete run as a fixed baseline NAME (for `harness gate --baseline NAME`)"


def add_parser(sub, epilog: str) -> None:
    bless = sub.add_parser("bless", help=HELP, description="Record RUN_DIR as the blessed baseline NAME in "
                           "RUN_DIR's parent folder (.blessed/NAME.json: the run folder, its run id and the sha256 of "
                           "its results and samples). Refuses a run that is not complete.")
    bless.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    bless.add_argument("--as", dest="name", required=True, metavar="NAME", help="the baseline's name, e.g. v1.2")
    bless.add_argument("--force", action="store_true", help="move an existing NAME to this run")


def execute(args, argv: list[str]) -> int:
    from harness.gate.baseline import bless

    path = bless(args.run_dir, args.name, force=args.force)   # the one store: `harness history` reads it too
    print(f"blessed {args.run_dir} as {args.name!r}: {path}")
    return 0
