"""`harness run --baseline-model NAME`: compare every other model of the run with NAME, item by item,
into results.json's "comparison" (an after-run consumer: harness.plugins.AFTER_RUN). The baseline is
part of what the run is: `harness run` takes --baseline-model and run.json records it
(RunSpec.baseline), so a resume compares against the same model."""
from __future__ import annotations

import sys

from harness.errors import HarnessError
from harness.registry import unknown_model_of_run

ORDER = 10                       # first: history and exports carry the comparison
RESUME_OPTIONS: frozenset[str] = frozenset()


def add_arguments(parser) -> None:
    """No flags of its own: --baseline-model is `harness run`'s (recorded in run.json)."""


def options(args) -> None:
    return None


def check(options, spec) -> None:
    """Before the run starts (no run folder yet): the baseline names one of the run's models."""
    if not spec.baseline:
        return
    model_names = [m.name for m in spec.models]
    if spec.baseline not in model_names:
        raise unknown_model_of_run(spec.baseline, model_names)
    if len(model_names) < 2:
        raise HarnessError(f"--baseline-model {spec.baseline} needs at least one other model to compare with",
                           "add another --model (e.g. --model other=SPEC), or drop --baseline-model")


def after_run(options, run):
    """The results with the comparison added (harness.results.Results), or None without a baseline."""
    from harness.results.reading import as_results
    results, run_dir, baseline = as_results(run.results), run.dir, run.spec.baseline
    if not baseline:
        return None
    if baseline not in results.models:
        print(f"harness: no comparison: the baseline {baseline!r} has no results (see run.failures)", file=sys.stderr)
        return None
    from harness.compare import compare_within
    from harness.store import SampleStore
    records = SampleStore(run_dir / "samples.jsonl").records()
    return results.with_comparison(compare_within(results, records, baseline))
