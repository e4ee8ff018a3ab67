"""Every extension point of the harness, in one place (as pytest's hookspec.py is for pytest).

A component joins an extension point by decorating it with the registry's ``register``, or,
from another installed package, through an entry point in the registry's group::

    [project.entry-points."harness.tasks"]
    sentiment = "my_pkg.tasks:sentiment"      # a TaskConfig, or a callable returning one

| registry     | group             | what is registered                                             |
|--------------|-------------------|----------------------------------------------------------------|
| MODELS       | harness.models    | ``ModelFactory``: (ModelSpec, RuntimeOptions) -> ModelAdapter   |
| TASKS        | harness.tasks     | ``TaskConfig`` (or a zero-argument callable returning one)     |
| TASK_KINDS   | harness.task_kinds| ``TaskKind``: turns examples into requests and scores responses |
| METRICS      | harness.metrics   | an ``AdditiveMetric`` subclass (a local evaluate.Metric)        |
| PROBES       | harness.probes    | ``Probe`` (harness.probes.base): robustness and bias probes     |
| METERS       | harness.meters    | energy and telemetry meters (issue: metering)                  |
| REPORT_SECTIONS | harness.report_sections | ``SectionPlugin``: (read-only results) -> ``Section`` or None |

The protocols themselves live beside the code that calls them:
``harness.models.base.ModelAdapter``, ``harness.kinds.base.TaskKind``,
``harness.metrics.base.AdditiveMetric``, ``harness.report.sections.SectionPlugin``.

A report section returns plain data, never HTML: ``Section(title, paragraphs=(...), table=Table(headers,
rows))`` with str/int/float cells, which report.html renders escaped after its built-in sections, in
registration order, each time the page is written (end of run, ``harness gate``, ``--baseline``). A
section that raises or returns anything else shows "section NAME failed: Type: message" in its place;
the run and its exit code are unaffected; sizes are capped (``harness.report.sections.LIMITS``).
`harness list sections` lists them. YAML task files (found in tasks/ and every
``--tasks-dir``) are data only: they are read with yaml.safe_load and never run code.
"""
from __future__ import annotations

from typing import Any

from harness.registry import Registry

MODELS: Registry[Any] = Registry("model", "harness.models")
TASKS: Registry[Any] = Registry("task", "harness.tasks")
TASK_KINDS: Registry[Any] = Registry("task kind", "harness.task_kinds")
METRICS: Registry[Any] = Registry("metric", "harness.metrics")
PROBES: Registry[Any] = Registry("probe", "harness.probes")
METERS: Registry[Any] = Registry("meter", "harness.meters")
REPORT_SECTIONS: Registry[Any] = Registry("report section", "harness.report_sections")

_loaded = False


def load_builtins() -> None:
    """Import the built-in components so that their decorators register them."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    import harness.kinds  # noqa: F401
    import harness.meters  # noqa: F401
    import harness.metrics  # noqa: F401
    import harness.models  # noqa: F401
    import harness.probes  # noqa: F401
    import harness.report.builtin_sections  # noqa: F401
