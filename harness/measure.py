"""Measure one configuration with the measurement protocol (harness.protocol), from Python: what
`harness tune` calls for every trial, and what any script can call.

    from pathlib import Path
    from harness.measure import measure

    m = measure("bf16=tiny-gpt2,dtype=bfloat16", tasks=("facts_mc",), limit=32, repeats=5, out=Path("runs/tune"))
    m.j_per_example                  # Figure: the mean over 5 repeats of the model's tasks (and probes),
                                     #   with .ci95 / .interval, .cv, .repeats, .per_repeat and .source
    m.tasks["facts_mc"].energy       # Energy of one task: j_per_example, s_per_example, ... each with its interval
    m.quality["facts_mc"]["accuracy"]    # MetricValue: value, ci95 (bootstrap), n
    m.run_dir                        # the run folder: samples.jsonl for a paired comparison (harness.compare)

It is a whole `harness run` of one model (a run folder under ``out``, samples.jsonl, windows.jsonl,
results.json, report.html) without the after-run consumers (history, exports, comparison): the
same checks before it starts (a bad spec is a HarnessError with its fix), the same meters, the same
resume (``measure(..., resume=run_dir)`` finishes a measurement that was killed). Energy of a model
is the mean over the measured repeats of its tasks' and probes' windows, loading and the warm-up
pass excluded (harness.meters.repeats).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from harness.results.energy import Energy
from harness.results.types import ModelResult, Results, TaskResult
from harness.results.values import Failure, Figure, MetricValue
from harness.spec import MeasureOptions, MeterOptions, ModelSpec, RunOptions, RunSpec, RuntimeOptions


@dataclass(frozen=True)
class Measured:
    """One configuration, measured: its run folder, its typed results, and the figures a search reads."""
    run_dir: Path
    results: Results
    model: str                                     # the model's name in the results
    failures: tuple[Failure, ...] = field(default=())

    @property
    def result(self) -> ModelResult:
        return self.results.models[self.model]

    @property
    def energy(self) -> Energy:
        return self.result.energy or Energy()

    @property
    def j_per_example(self) -> Figure:
        """The model's J/example: the mean over the measured repeats with its interval (one pass: no interval)."""
        return self.energy.figure_or_missing("j_per_example", "J/example")

    @property
    def tasks(self) -> dict[str, TaskResult]:
        return dict(self.result.tasks)

    @property
    def quality(self) -> dict[str, dict[str, MetricValue]]:
        """Every task's metrics (value, bootstrap CI, n), computed once from the stored pass."""
        return {name: dict(task.metrics) for name, task in self.result.tasks.items()}


def measure(model: str | ModelSpec, tasks: Iterable[str], *, out: Path, limit: int | None = None, repeats: int = 5,
            min_measure_s: float = 0.0, seed: int = 1234, runtime: RuntimeOptions = RuntimeOptions(),
            meters: MeterOptions = MeterOptions(), probes: Iterable[str] = (), tasks_dirs: Iterable[Path] = (),
            resume: Path | None = None, progress: bool = False) -> Measured:
    """Runs ``model`` on ``tasks`` (and ``probes``, none by default) with ``repeats`` measured repeats
    after a warm-up pass, into a new run folder under ``out`` (or finishes ``resume``), and returns
    what was measured. Raises HarnessError for bad input, before anything runs."""
    from harness import finish
    from harness.audit import run_audit
    from harness.commands.options import Parser
    from harness.commands.run import add_arguments, start
    from harness.lock import run_lock
    parser = Parser(prog="harness measure")
    add_arguments(parser)
    consumers = finish.consumer_options(parser.parse_args([]))       # their defaults: none of them runs here
    spec = model if isinstance(model, ModelSpec) else ModelSpec.parse(model)
    run_spec = RunSpec(models=(spec,), tasks=tuple(tasks), tasks_dirs=tuple(tasks_dirs), limit=limit, seed=seed,
                       runtime=runtime, meters=meters, probes=tuple(probes),
                       measure=MeasureOptions(repeats=repeats, min_measure_s=min_measure_s))
    argv = ("measure", spec.name, f"--repeats={repeats}")
    options = RunOptions(argv=argv, resume=resume, consumers=consumers) if resume is not None else \
        RunOptions(argv=argv, spec=run_spec, out=Path(out), consumers=consumers)
    state, prepared, prepared_probes = start(options)
    with run_lock(state.dir):
        results = run_audit(state, progress=progress, tasks=prepared, probes=prepared_probes)
    return Measured(state.dir, results, state.spec.models[0].name, tuple(results.run.failures))
