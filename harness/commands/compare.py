"""`harness compare RUN_A RUN_B [...]`: paired comparison of finished runs, RUN_A the baseline."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.commands.options import renamed

HELP = "compare finished runs item by item (RUN_A is the baseline) into compare.json and compare.html"


def add_parser(sub, epilog: str) -> None:
    compare = sub.add_parser(
        "compare", help=HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Compare the models of RUN_B (and further runs) with RUN_A's, item by item: McNemar's test "
                    "for 0/1 outcomes, a paired bootstrap for corpus metrics, Holm over each compared model's p-values, "
                    "flipped items and cost ratios (the model's own memory first). Items pair by (task, id, "
                    "sha256(input), sha256(reference)); runs whose items differ are refused unless --intersection, "
                    "and a task configured differently in the two runs (max_tokens, stop, tokenize...) is not compared.",
        epilog="examples:\n  harness compare reports/RUN_FULL reports/RUN_FP16\n"
               "  harness compare reports/RUN_A reports/RUN_B --intersection --json /tmp/ab.json")
    compare.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="run folders; the first is the baseline")
    compare.add_argument("--intersection", action="store_true",
                         help="compare on the items the runs share instead of refusing runs whose items differ")
    compare.add_argument("--json", type=Path, default=Path("compare.json"), metavar="FILE",
                         help="where to write the comparison (default: ./compare.json, in the current directory; never inside "
                              "a run folder or over a file harness did not write); the page compare.html goes beside it "
                              "(FILE.html)")
    renamed(compare, "--out", "--json FILE", "--out names the folder of run folders in `harness run`")


BESIDE_RUNS = ("history.sqlite", "history.sqlite-wal", "history.sqlite-shm", "history.sqlite-journal", "history.html")


def run_folders(paths: list[Path]) -> list[Path]:
    """The run folders among ``paths``. A shell glob over an --out folder (`harness compare runs/fp32/*
    runs/int8/*`, as the README shows) also names what `harness run` keeps beside its run folders (the
    history index); those files are left out, saying so. Anything else is left to the comparison to refuse."""
    kept = []
    for path in paths:
        if path.name in BESIDE_RUNS and path.is_file():
            print(f"harness compare: left out {path} (the history index beside the run folders, not a run)",
                  file=sys.stderr)
            continue
        kept.append(path)
    return kept


def execute(args, argv: list[str]) -> int:
    from harness import __version__
    from harness.compare import compare_runs
    from harness.compare.terminal import comparison_table
    from harness.errors import HarnessError
    from harness.output_guard import check_output
    from harness.run_dir import now
    from harness.store import disk_full, write_json_atomic

    args.runs = run_folders(args.runs)
    if len(args.runs) < 2:
        raise HarnessError("harness compare needs a baseline run and at least one other run",
                           "pass two or more run folders: harness compare RUN_A RUN_B")
    out = args.json if args.json.suffix else args.json / "compare.json"
    check_output(out, "--json", "json")       # never inside a run folder, never onto a file harness did not write
    from harness.report.compare_page import check_target, html_path
    page = html_path(out)
    check_target(page, args.runs)
    comparison = compare_runs(args.runs[0], args.runs[1:], intersection=args.intersection)
    print(comparison_table(comparison))
    if args.intersection:
        n = sum(comparison.pairing.n_paired.values())
        left = sum(comparison.pairing.dropped.values())
        print(f"compared on the intersection: {n} paired items, {left} left out")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(out, {"harness_version": __version__, "created": now(), "argv": sys.argv[1:],
                                "comparison": comparison.to_json()})
    except OSError as exc:
        raise disk_full(exc, out) or HarnessError(f"cannot write {out}: {exc.strerror}", "pass a writable --json FILE") from None
    print(f"wrote {out}")
    write_page(page, comparison)
    print(f"wrote {page}")
    return 0


def write_page(page: Path, comparison) -> None:
    """compare.html from the comparison and each compared run's results."""
    from harness.errors import HarnessError
    from harness.report.compare_page import render_compare
    from harness.results.reading import read_results
    from harness.run_dir import now
    from harness.store import disk_full, write_text_atomic
    results = {key: read_results(Path(ref.dir)) for key, ref in comparison.runs.items() if ref.dir}
    try:
        write_text_atomic(page, render_compare(comparison, results, created=now()))
    except OSError as exc:
        raise disk_full(exc, page) or HarnessError(f"cannot write {page}: {exc.strerror}", "pass a writable --json FILE") from None
