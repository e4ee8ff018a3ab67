"""Task kinds; each built-in is an entry point of harness.plugins.TASK_KINDS (pyproject.toml)."""
from harness.kinds.base import MetricSpec, Scored, TaskKind, build_context, metric_specs

__all__ = ["MetricSpec", "Scored", "TaskKind", "build_context", "metric_specs"]
