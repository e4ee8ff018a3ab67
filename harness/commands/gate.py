"""`harness gate`: judge a finished run against a policy (and a baseline); exit 0 pass, 1 fail, 2 bad input."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from harness.errors import HarnessError

HELP = "judge a finished run against a release policy (exit 0 pass, 1 fail, 2 bad policy or input)"


def add_parser(sub, epilog: str) -> None:
    gate = sub.add_parser("gate", help=HELP, description="Evaluate a policy's rules on a finished run (and, for "
                          "baseline rules, on its paired comparison with a baseline), print one line per rule, write "
                          "the verdict into the run's results.json and report.html, and exit 0 (pass), 1 (a rule "
                          "failed, or nothing was evaluated) or 2 (bad policy or input).")
    gate.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="the run folder to judge")
    gate.add_argument("--policy", type=Path, required=True, metavar="GATE_YAML", help="the policy file")
    gate.add_argument("--baseline", metavar="RUN_DIR|results.json|NAME",
                      help="what baseline rules compare with: a run folder, its results.json, or a name blessed with "
                           "`harness bless` in RUN_DIR's parent folder")
    gate.add_argument("--junit", type=Path, metavar="FILE", help="write JUnit XML (one test case per rule and target)")
    gate.add_argument("--markdown", type=Path, metavar="FILE",
                      help="write a Markdown summary (also appended to $GITHUB_STEP_SUMMARY when that is set)")


def paired_comparison(baseline_dir: Path, run_dir: Path):
    """The one call into harness.compare: the gated run paired item by item with its baseline
    (a ``harness.results.comparison.Comparison``; the gated run's models are the "other" side)."""
    from harness.compare import compare_runs
    try:
        return compare_runs(baseline_dir, [run_dir])
    except HarnessError as exc:
        if "--intersection" not in exc.fix:               # `harness compare`'s way out; the gate has no such flag
            raise
        raise HarnessError(exc.problem, "gate against a baseline run made with the same tasks, --limit, --probe-limit "
                                        "and seed (a paired comparison needs the same items)") from None


def _write(path: Path, data: bytes | str) -> None:
    from harness.store import write_text_atomic
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, data)
    except OSError as exc:
        raise HarnessError(f"cannot write {path}: {exc.strerror}", "pass a writable path") from None


def execute(args, argv: list[str]) -> int:
    from harness.gate.baseline import read_results
    from harness.gate.policy import load_policy
    from harness.lock import run_lock

    from harness.output_guard import check_output

    run_dir = args.run_dir.parent if args.run_dir.is_file() else args.run_dir
    policy = load_policy(args.policy)
    for flag, path, kind in (("--junit", args.junit, "junit"), ("--markdown", args.markdown, "markdown")):
        if path is not None:                          # refused before anything is judged or written
            check_output(path, flag, kind)
    read_results(run_dir)                             # a missing or broken run is named before the lock is taken
    with run_lock(run_dir):                           # no run or resume writes the folder meanwhile
        return _gate(args, policy, run_dir)


def _gate(args, policy, run_dir: Path) -> int:
    from harness.compare.inputs import fingerprints
    from harness.gate.baseline import read_results, resolve
    from harness.gate.names import vocabulary
    from harness.gate.outputs import headline, junit, markdown, table
    from harness.gate.policy import check_names
    from harness.gate.rules import evaluate, gate_record
    from harness.run_dir import now

    results = read_results(run_dir)
    baseline = resolve(args.baseline, run_dir) if args.baseline is not None else None
    check_names(policy, vocabulary([results] + ([baseline.results] if baseline else [])))
    comparison = paired_comparison(baseline.dir, run_dir) if baseline and policy.uses_comparison else None
    prints = (fingerprints(run_dir), fingerprints(baseline.dir) if baseline else {})
    families: dict = {}
    outcomes = evaluate(policy, results, baseline.results if baseline else None, comparison, prints, families)
    gate = gate_record(policy, outcomes, baseline.label if baseline else None, now(), families)
    print(table(gate))
    if args.junit:
        _write(args.junit, junit(gate))
    summary = markdown(gate)
    if args.markdown:
        _write(args.markdown, summary)
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        try:
            with open(step_summary, "a", encoding="utf-8") as fh:
                fh.write(summary + "\n")
        except OSError as exc:
            print(f"harness: could not append to $GITHUB_STEP_SUMMARY ({exc.strerror})", file=sys.stderr)
    from harness.audit import republish
    from harness.history import record
    republish(run_dir, results.with_gate(gate))
    try:
        record(run_dir)              # the history entry holds the verdict
    except (HarnessError, OSError) as exc:   # a side record: the verdict, not the index, is the exit code
        print(f"harness: warning: the gate verdict is not in the history index: {exc}", file=sys.stderr)
    if gate.verdict == "fail":
        first = next(r for r in gate.rules if r.verdict == "fail")
        print(f"harness: {headline(gate)}; first: {first.name} [{first.target}]: {first.reason}", file=sys.stderr)
        return 1
    return 0
