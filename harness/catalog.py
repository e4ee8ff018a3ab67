"""The tasks a run can use: YAML files in tasks/ and every --tasks-dir, plus registered Python tasks."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from harness.errors import HarnessError
from harness.plugins import TASKS
from harness.registry import unknown_name
from harness.resources import builtin_dir
from harness.spec import TaskConfig, probe_from_mapping, read_yaml, task_from_mapping


def _yaml_files(tasks_dirs: Iterable[Path]) -> Iterable[tuple[Path, object]]:
    builtin = builtin_dir("tasks")
    for directory in [builtin, *tasks_dirs]:
        if not directory.is_dir():
            problem = "is a file, not a folder" if directory.exists() else "not found"
            raise HarnessError(f"tasks directory {directory} {problem}", "pass an existing folder to --tasks-dir")
        paths = sorted(directory.rglob("*.yaml"))
        if not paths and directory != builtin:
            raise HarnessError(f"tasks directory {directory} holds no task or probe file (*.yaml)",
                               "pass the folder that holds your task YAML files (subfolders are searched)")
        for path in paths:
            yield path, read_yaml(path)


def _is_probe(raw: object) -> bool:
    return isinstance(raw, dict) and "probe" in raw


def discover(tasks_dirs: Iterable[Path] = ()) -> dict[str, TaskConfig]:
    """Every known task by name. A user's --tasks-dir may not silently shadow another task."""
    found: dict[str, TaskConfig] = {}
    for path, raw in _yaml_files(tasks_dirs):
        if not _is_probe(raw):
            _add(found, task_from_mapping(raw, path.parent, str(path)))
    for name, obj in TASKS.items():
        task = obj() if callable(obj) and not isinstance(obj, TaskConfig) else obj
        if not isinstance(task, TaskConfig):
            raise HarnessError(f"task plugin {name!r} ({TASKS.origin(name)}) gave {type(task).__name__}, not a TaskConfig",
                               "make the entry point return harness.spec.TaskConfig")
        _add(found, task)
    return found


def discover_probes(tasks_dirs: Iterable[Path] = ()) -> dict:
    """Every probe configuration (YAML files with a top-level `probe:` key) by name."""
    found: dict = {}
    for path, raw in _yaml_files(tasks_dirs):
        if _is_probe(raw):
            config = probe_from_mapping(raw, path.parent, str(path))
            if config.name in found:
                raise HarnessError(f"two probes are named {config.name!r}", "rename one of them")
            found[config.name] = config
    return found


def select_probes(found: dict, names: Iterable[str] | None) -> list:
    from harness.plugins import PROBES
    chosen = [found[n] for n in sorted(found)] if names is None else []
    for name in names or ():
        if name not in found:
            raise unknown_name("probe", name, found)
        chosen.append(found[name])
    for config in chosen:
        check_params(config, PROBES.get(config.probe))
    return chosen


def check_params(config, probe_class) -> None:
    """Every key under `params:` must be one the probe declares (its ``params``)."""
    declared = tuple(getattr(probe_class, "params", ()))
    for key in config.params:
        if key not in declared:
            from harness.suggest import did_you_mean
            hint = did_you_mean(key, declared, f"probe {config.probe!r} takes {', '.join(declared) or 'none'}", n=1,
                                shown=repr)
            raise HarnessError(f"probe file {config.source}: unknown parameter {key!r} for probe {config.probe!r}", hint)
    probe = probe_class()
    for hook in ("check_params", "check_data"):      # bad values and bad data files fail before the run
        check = getattr(probe, hook, None)
        if callable(check):
            check(config)


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
