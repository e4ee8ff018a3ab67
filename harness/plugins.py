"""Every extension point of the harness, in one place (as pytest's hookspec.py is for pytest).

A component joins an extension point through an entry point in the registry's group, declared in
the pyproject.toml of the package that provides it. harness's own built-ins join exactly so, from
harness's pyproject.toml (the pluggy/pytest pattern), which is why harness must be installed
(`pip install -e .`) before it runs: this module imports none of them::

    [project.entry-points."harness.tasks"]
    sentiment = "my_pkg.tasks:sentiment"      # a TaskConfig, or a callable returning one

| registry        | group                   | what is registered                                             |
|-----------------|-------------------------|----------------------------------------------------------------|
| MODELS          | harness.models          | ``ModelFactory``: (ModelSpec, RuntimeOptions) -> ModelAdapter   |
| TASKS           | harness.tasks           | ``TaskConfig`` (or a zero-argument callable returning one)     |
| TASK_KINDS      | harness.task_kinds      | ``TaskKind``: turns examples into requests and scores responses |
| METRICS         | harness.metrics         | an ``AdditiveMetric`` subclass (a local evaluate.Metric)        |
| PROBES          | harness.probes          | ``Probe`` (harness.probes.base): robustness and bias probes     |
| METERS          | harness.meters          | a meter factory: (MeterOptions) -> ``Meter`` (harness.meters.base) |
| REPORT_SECTIONS | harness.report_sections | ``SectionPlugin``: (read-only results) -> ``Section`` or None   |
| AFTER_RUN       | harness.after_run       | ``AfterRun``: a consumer of a finished `harness run`            |

The protocols themselves live beside the code that calls them:
``harness.models.base.ModelAdapter``, ``harness.kinds.base.TaskKind``,
``harness.metrics.base.AdditiveMetric``, ``harness.report.sections.SectionPlugin``,
``harness.finish.AfterRun``.

Components are imported the first time they are looked up; `harness list` reads each one's
description from its docstring in its source file, so listing imports none of them. Code running
in the process (a test) may add one with ``@REGISTRY.register("name")``.

A report section returns plain data, never HTML: ``Section(title, paragraphs=(...), table=Table(headers,
rows))`` with str/int/float cells, which report.html renders escaped after its built-in sections, in
registration order, each time the page is written (end of run, ``harness gate``, ``--baseline``). A
section that raises or returns anything else shows "section NAME failed: Type: message" in its place;
the run and its exit code are unaffected; sizes are capped (``harness.report.sections.LIMITS``).
`harness list sections` lists them. YAML task files (found in tasks/ and every
``--tasks-dir``) are data only: they are read with yaml.safe_load and never run code.

An after-run consumer (a module or an object; harness's own: ``harness.compare.after_run``, the
item-by-item comparison with --baseline; ``harness.history.after_run``, the history index;
``harness.exports.after_run``, Prometheus and TensorBoard) takes part in `harness run` with:

* ``ORDER: int`` - consumers run in ascending order (optional, default 100; the built-ins are 10, 20
  and 30: the comparison first, so that history and exports carry it);
* ``RESUME_OPTIONS: frozenset[str]`` - the argparse dests of its flags that ``--resume`` accepts;
* ``add_arguments(parser)`` - its flags on `harness run`;
* ``options(args) -> Options`` - its own frozen, typed options from the parsed flags, made once at
  the command-line edge (``harness.spec.RunOptions.consumers`` carries them by name);
* ``check(options, spec) -> None`` - optional, before the run starts (``spec``: the RunSpec to run):
  bad input raises HarnessError while no run folder exists;
* ``after_run(options, run) -> results | None`` - ``run`` is a ``harness.finish.FinishedRun`` (its
  folder, its RunSpec and its results, already written, typed: ``harness.results.Results``); returns
  the updated results (``Results``, e.g. ``run.results.with_comparison(...)``, or results.json's
  dict; written again with report.html, once, after every consumer ran) or None when it changed nothing.
"""
from __future__ import annotations

from typing import Any

from harness.registry import Registry

MODELS: Registry[Any] = Registry("model", "harness.models", builtin=True)
TASKS: Registry[Any] = Registry("task", "harness.tasks")
TASK_KINDS: Registry[Any] = Registry("task kind", "harness.task_kinds", builtin=True)
METRICS: Registry[Any] = Registry("metric", "harness.metrics", builtin=True)
PROBES: Registry[Any] = Registry("probe", "harness.probes", builtin=True)
METERS: Registry[Any] = Registry("meter", "harness.meters", builtin=True)
REPORT_SECTIONS: Registry[Any] = Registry("report section", "harness.report_sections", builtin=True)
AFTER_RUN: Registry[Any] = Registry("after-run consumer", "harness.after_run", builtin=True)
