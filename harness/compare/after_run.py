"""`harness run --baseline NAME`: compare every other model of the run with NAME, item by item, into
results.json's "comparison" (an AFTER_RUN consumer of harness/commands/run.py)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.errors import HarnessError
from harness.registry import unknown_model_of_run

OPTIONS = {"baseline"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--baseline", metavar="NAME",
                        help="with several --model: compare each other model with this one, item by item (McNemar, "
                             "paired bootstrap, cost ratios) into results.json's `comparison`")


def check_args(args, model_names: list[str]) -> None:
    """Before the run starts (no run folder yet): the baseline names one of the run's models."""
    if not getattr(args, "baseline", None):
        return
    if args.baseline not in model_names:
        raise unknown_model_of_run(args.baseline, model_names)
    if len(model_names) < 2:
        raise HarnessError(f"--baseline {args.baseline} needs at least one other model to compare with",
                           "add another --model (e.g. --model other=SPEC), or drop --baseline")


def _baseline_from_argv(argv: list[str]) -> str | None:
    """The --baseline the run was started with (a resume repeats it)."""
    for i, arg in enumerate(argv):
        if arg == "--baseline" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--baseline="):
            return arg.split("=", 1)[1]
    return None


def after_run(args, results, run_dir: Path):
    """The results with the comparison added (harness.results.Results), or None without a baseline."""
    from harness.results.reading import as_results
    results = as_results(results)
    baseline = getattr(args, "baseline", None) or _baseline_from_argv(results.run.argv)
    if not baseline:
        return None
    if baseline not in results.models:
        print(f"harness: no comparison: the baseline {baseline!r} has no results (see run.failures)", file=sys.stderr)
        return None
    from harness.compare import compare_within
    from harness.store import SampleStore
    records = SampleStore(run_dir / "samples.jsonl").records()
    return results.with_comparison(compare_within(results, records, baseline))
