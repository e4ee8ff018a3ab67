"""`harness run --baseline-model NAME`: compare every other model of the run with NAME, item by item, into
results.json's "comparison" (an AFTER_RUN consumer of harness/commands/run.py)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.errors import HarnessError
from harness.registry import unknown_model_of_run

OPTIONS = {"baseline"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from harness.commands.options import renamed
    parser.add_argument("--baseline-model", dest="baseline", metavar="NAME",
                        help="with several --model: compare each other model with this one, item by item (McNemar, "
                             "paired bootstrap, cost ratios) into results.json's `comparison`")
    renamed(parser, "--baseline", "--baseline-model NAME", "--baseline names a run in `harness gate` and `harness history`")


def check_args(args, model_names: list[str]) -> None:
    """Before the run starts (no run folder yet): the baseline names one of the run's models."""
    if not getattr(args, "baseline", None):
        return
    if args.baseline not in model_names:
        raise unknown_model_of_run(args.baseline, model_names)
    if len(model_names) < 2:
        raise HarnessError(f"--baseline-model {args.baseline} needs at least one other model to compare with",
                           "add another --model (e.g. --model other=SPEC), or drop --baseline-model")


def _baseline_from_argv(argv: list[str]) -> str | None:
    """The --baseline-model the run was started with (a resume repeats it; runs started before the
    rename stored it as --baseline)."""
    for i, arg in enumerate(argv):
        if arg in ("--baseline-model", "--baseline") and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(("--baseline-model=", "--baseline=")):
            return arg.split("=", 1)[1]
    return None


def after_run(args, results: dict, run_dir: Path) -> dict | None:
    baseline = getattr(args, "baseline", None) or _baseline_from_argv(results["run"].get("argv") or [])
    if not baseline:
        return None
    if baseline not in results["models"]:
        print(f"harness: no comparison: the baseline {baseline!r} has no results (see run.failures)", file=sys.stderr)
        return None
    from harness.compare import compare_within
    from harness.store import SampleStore
    records = SampleStore(run_dir / "samples.jsonl").records()
    return {**results, "comparison": compare_within(results, records, baseline)}
