"""The tasks a run can use: YAML files in tasks/ and every --tasks-dir, plus registered Python tasks."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from harness.errors import HarnessError
from harness.plugins import TASKS
from harness.registry import unknown_name
from harness.resources import builtin_dir
from harness.spec import TaskConfig, load_task_file


def discover(tasks_dirs: Iterable[Path] = ()) -> dict[str, TaskConfig]:
    """Every known task by name. A user's --tasks-dir may not silently shadow another task."""
    found: dict[str, TaskConfig] = {}
    for directory in [builtin_dir("tasks"), *tasks_dirs]:
        if not directory.is_dir():
            raise HarnessError(f"tasks directory {directory} not found", "pass an existing folder to --tasks-dir")
        for path in sorted(directory.rglob("*.yaml")):
            _add(found, load_task_file(path))
    for name, obj in TASKS.items():
        task = obj() if callable(obj) and not isinstance(obj, TaskConfig) else obj
        if not isinstance(task, TaskConfig):
            raise HarnessError(f"task plugin {name!r} ({TASKS.origin(name)}) gave {type(task).__name__}, not a TaskConfig",
                               "make the entry point return harness.spec.TaskConfig")
        _add(found, task)
    return found


def _add(found: dict[str, TaskConfig], task: TaskConfig) -> None:
    if task.name in found:
        raise HarnessError(f"two tasks are named {task.name!r} ({found[task.name].source} and {task.source})",
                           "rename one of them")
    found[task.name] = task


def select(catalog: dict[str, TaskConfig], names: Iterable[str]) -> list[TaskConfig]:
    names = list(names)
    if not names:
        return [catalog[n] for n in sorted(catalog)]
    chosen = []
    for name in names:
        if name not in catalog:
            raise unknown_name("task", name, catalog)
        chosen.append(catalog[name])
    return chosen
