"""The end of `harness run`, one for single-process and torchrun runs: the after-run consumers
(harness.plugins.AFTER_RUN), the terminal summary, and the exit code.

A consumer follows ``AfterRun`` (a module or an object; harness.plugins documents the extension
point). Consumers run in ascending ``ORDER`` once results.json and report.html are written; what they
add to the results is written again, once, after the last of them.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from harness.plugins import AFTER_RUN
from harness.spec import RunOptions, RunSpec

DEFAULT_ORDER = 100


@dataclass(frozen=True)
class FinishedRun:
    """What a consumer is handed: the run folder, what the run was (run.json's RunSpec) and its results
    as written to results.json (typed: harness.results.Results)."""
    dir: Path
    spec: RunSpec
    results: Any


class AfterRun(Protocol):
    """A consumer of a finished `harness run` (entry-point group harness.after_run)."""
    ORDER: int                              # ascending; optional (DEFAULT_ORDER)
    RESUME_OPTIONS: frozenset[str]          # the dests of its flags that --resume accepts

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Its flags on `harness run`."""

    def options(self, args: argparse.Namespace) -> Any:
        """Its own frozen, typed options from the parsed flags (made once, at the command-line edge)."""

    def check(self, options: Any, spec: RunSpec) -> None:
        """Optional: refuse bad input (HarnessError) before the run starts, while no run folder exists."""

    def after_run(self, options: Any, run: FinishedRun) -> Any | None:
        """The updated results, or None when it changed nothing."""


def consumers() -> list[tuple[str, AfterRun]]:
    """Every registered consumer by name, in the order they run."""
    named = [(name, AFTER_RUN.get(name)) for name in AFTER_RUN.in_order()]
    return sorted(named, key=lambda item: getattr(item[1], "ORDER", DEFAULT_ORDER))


def consumer_options(args: argparse.Namespace) -> dict[str, Any]:
    """Each consumer's typed options, from `harness run`'s parsed flags."""
    return {name: consumer.options(args) for name, consumer in consumers()}


def resume_options() -> set[str]:
    """The consumers' flags (dests) that --resume accepts."""
    return set().union(*(getattr(consumer, "RESUME_OPTIONS", ()) for _, consumer in consumers()))


def check(options: RunOptions, spec: RunSpec) -> None:
    """Every consumer's check, before the run starts."""
    for name, consumer in consumers():
        hook = getattr(consumer, "check", None)
        if hook is not None:
            hook(options.consumers.get(name), spec)


def after_run(options: RunOptions, run: FinishedRun) -> Any:
    """Hands the finished run to each consumer; writes results.json and report.html again, once, if
    any of them added to the results. Returns the results as they end."""
    results, changed = run.results, False
    for name, consumer in consumers():
        updated = consumer.after_run(options.consumers.get(name), FinishedRun(run.dir, run.spec, results))
        if updated is not None:
            from harness.results.reading import as_results
            results, changed = as_results(updated), True       # a consumer's dict is checked like a file
    if changed:
        from harness.audit import republish
        republish(run.dir, results)
    return results


def finish(options: RunOptions, run: FinishedRun, note: str = "") -> int:
    """The command's end: consumers, the summary (with every metric under --verbose), where the files
    are, and the exit code."""
    from harness.report import summary_table
    results = after_run(options, run)
    print(summary_table(results, verbose=run.spec.meters.verbose))
    print(f"wrote {run.dir}/results.json, samples.jsonl, report.html{note}")
    return exit_code(results, run.dir)


def scored_nothing(results: Any) -> list[str]:
    """What was asked and scored nothing: every task or probe of a run that scored no item at all
    (every output NaN, say), else each task that scored none of the items it had. ``results``: typed."""
    if not results.scored_anything():
        pieces = [f"{m}/{t}" for m, info in results.models.items() for t in [*info.tasks, *info.probes]]
        return pieces or ["the run"]
    return [f"{m}/{t}" for m, info in results.models.items() for t, task in info.tasks.items()
            if task.n == 0 and (task.n_expected or 0) > 0]


def exit_code(results: Any, run_dir: Path) -> int:
    """0 when everything asked was evaluated; 3 ("finished with errors") with one line saying why:
    a failed piece, nothing evaluated, or something that scored none of its items (a run whose every
    output was NaN is not "complete": it measured nothing). ``results``: the typed results
    (harness.results.Results)."""
    from harness.results.reading import as_results
    results = as_results(results)
    run = results.run
    if run.status == "complete":
        empty = scored_nothing(results)
        if not empty:
            return 0
        print(f"harness: finished with errors: {', '.join(empty[:5])}{' and more' if len(empty) > 5 else ''} scored "
              "no item (every output invalid: see each task's `invalid` reasons in results.json); fix: check the "
              "model's outputs (a NaN or empty answer on every item) and re-run", file=sys.stderr)
        return 3
    failures = run.failures
    if failures:
        first, n = failures[0], len(failures)
        more = f"; and {n - 1} more" if n > 1 else ""
        print(f"harness: finished with errors: {n} piece{'s' * (n > 1)} failed ({first.describe()}: "
              f"{first.error}{more}); fix: {first.fix}; see results.json run.failures, and "
              f"`harness run --resume {run_dir}` retries what failed", file=sys.stderr)
    else:
        print(f"harness: finished with errors: {run.status}; fix: choose tasks and probes the models can answer "
              f"(each skip's reason is under models.*.skipped in results.json)", file=sys.stderr)
    return 3
