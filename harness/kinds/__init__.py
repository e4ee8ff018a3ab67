"""Task kinds; each registers itself in harness.plugins.TASK_KINDS."""
from harness.kinds import classify, generate, multiple_choice, perplexity  # noqa: F401
from harness.kinds.base import MetricSpec, Scored, TaskKind, build_context, metric_specs

__all__ = ["MetricSpec", "Scored", "TaskKind", "build_context", "metric_specs"]
