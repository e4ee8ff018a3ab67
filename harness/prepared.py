"""A task made ready to run: its examples loaded, its few-shot contexts rendered, its metrics
resolved. Everything here is checked before any model is loaded, so bad input fails in seconds."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from harness.data import Example, load_examples
from harness.errors import HarnessError
from harness.kinds.base import MetricSpec, TaskKind, build_context, check_fit, metric_specs
from harness.plugins import TASK_KINDS
from harness.prompts import draw_fewshot, fixed_fewshot
from harness.spec import TaskConfig


@dataclass(frozen=True)
class PreparedTask:
    config: TaskConfig
    kind: TaskKind
    examples: tuple[Example, ...]
    contexts: Mapping[str, str]          # example id -> the rendered prompt, few-shot shots included
    metrics: tuple[MetricSpec, ...]
    fewshot_pool: tuple[Example, ...] = ()
    seed: int = 0

    @property
    def name(self) -> str:
        return self.config.name

    def context_for(self, example: Example) -> str:
        """The prompt for ``example`` (or a perturbed copy of it) with the same few-shot shots."""
        return render_context(self.config, self.kind, example, self.fewshot_pool, self.seed)


def render_context(task: TaskConfig, kind: TaskKind, example: Example, pool, seed: int) -> str:
    owner = f"task {task.name!r}, {example.describe()}"
    if task.fewshot_fixed:
        shots = fixed_fewshot(pool, task.num_fewshot, seed, exclude_id=example.id, owner=owner)
    else:
        shots = draw_fewshot(pool, task.num_fewshot, seed + example.index, exclude_id=example.id, owner=owner)
    return build_context(task, kind, example, shots)


def prepare_task(task: TaskConfig, limit: int | None, seed: int) -> PreparedTask:
    kind = TASK_KINDS.get(task.kind)()
    owner = f"task {task.name!r}"
    specs = metric_specs(kind, task)
    if not specs:
        raise HarnessError(f"{owner} has no metrics", "list some under `metrics:` in its YAML")
    for spec in specs:
        spec.resolve()                       # unknown names and bad options (a tokenizer not installed) fail now
    check_fit(kind, task, specs)             # metrics and options that would build numbers from the wrong thing
    examples = load_examples(task.data, owner)
    check_examples = getattr(kind, "check_examples", None)
    if callable(check_examples):             # a kind's checks over its whole data (classify: labels)
        check_examples(task, examples)
    if limit is not None:
        examples = examples[:limit]
    pool = examples
    if task.num_fewshot and task.fewshot_data is not None:
        pool = load_examples(task.fewshot_data, f"{owner} few-shot")
    contexts = {}
    for ex in examples:
        contexts[ex.id] = render_context(task, kind, ex, pool, seed)
        kind.requests(task, ex, contexts[ex.id])     # surfaces bad fields now, not mid-run
        kind.target(task, ex)
    return PreparedTask(config=task, kind=kind, examples=tuple(examples), contexts=contexts, metrics=tuple(specs),
                        fewshot_pool=tuple(pool), seed=seed)
