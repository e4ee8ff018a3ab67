"""The names a gate policy may use: the tasks, probes and metrics the registries declare (built-in
and installed plugins), and whatever the gated run and its baseline report.

Nothing here is a second copy of a table: task metrics are the METRICS registry's names plus what
each task kind reports (its ``default_metrics`` and ``metric_views``); probe metrics are what each
probe class declares in its ``metrics`` (fnmatch patterns allowed, e.g. robustness's
``*.worst_case_*``), beside the ``summarize`` that reports them (tests check each summarize stays
within its declaration). None of these modules imports torch, so a gate still starts fast."""
from __future__ import annotations

from typing import Iterable

from harness.gate.policy import Vocabulary, is_glob

# names shown as examples of the robustness family in close-match hints (`*.worst_case_*` itself matches them)
EXAMPLE_PATTERN_NAMES = ("facts_mc.worst_case_accuracy", "toylang.worst_case_bleu", "topic.worst_case_accuracy")


def task_metrics() -> set[str]:
    """Every metric a task can report: the registered metrics and each task kind's names and views."""
    from harness.plugins import METRICS, TASK_KINDS
    names = set(METRICS.in_order(tolerant=True))
    for kind_name in TASK_KINDS.in_order(tolerant=True):
        kind = TASK_KINDS.get(kind_name)
        names.update(getattr(kind, "default_metrics", ()), getattr(kind, "metric_views", {}))
    return names


def probe_metrics() -> dict[str, tuple[str, ...]]:
    """Each registered probe's declared metric names and patterns (a plugin that declares none: ())."""
    from harness.plugins import PROBES
    return {name: tuple(getattr(PROBES.get(name), "metrics", ())) for name in PROBES.in_order(tolerant=True)}


def _builtin_tasks() -> set[str]:
    from harness import catalog
    return set(catalog.discover(()))          # the built-in task files and registered task plugins


def vocabulary(results: Iterable) -> Vocabulary:
    """Known names: built-in, installed plugins, and those in the given results (the gated run and
    its baseline, so a --tasks-dir task or a plugin probe that ran is known)."""
    tasks = _builtin_tasks()
    declared = probe_metrics()
    probes = set(declared)
    task_metric_names = task_metrics()
    probe_names = {m for names in declared.values() for m in names}
    patterns = tuple(sorted(m for m in probe_names if is_glob(m)))
    probe_metric_names = {m for m in probe_names if not is_glob(m)} | set(EXAMPLE_PATTERN_NAMES)
    from harness.results.reading import as_results
    for result in map(as_results, results):
        for model in result.models.values():
            for task, entry in model.tasks.items():
                tasks.add(task)
                task_metric_names.update(entry.metrics)
            for probe, entry in model.probes.items():
                probes.add(probe)
                probe_metric_names.update(entry.metrics)
            for reason_key in model.skipped:     # skipped tasks/probes are still known names
                name = str(reason_key).removeprefix("probe:")
                (probes if str(reason_key).startswith("probe:") else tasks).add(name)
    return Vocabulary(tasks=frozenset(tasks), probes=frozenset(probes), task_metrics=frozenset(task_metric_names),
                      probe_metrics=frozenset(probe_metric_names), probe_metric_patterns=patterns)
