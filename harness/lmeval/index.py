"""lm-eval's TaskManager: which names it knows, what a name brings in, and which YAML files that reads.

Indexing every YAML lm-eval ships takes seconds, so the manager is built once per process and
state of the include folders. When every requested name, and every member its groups and tags name, is found
in the ``--lm-eval-include`` folders alone, lm-eval's built-in tasks are not indexed at all (a name
an include folder defines overrides a built-in one in lm-eval too). An unknown name is exit 2 with
the close matches from the whole index.

``files_read`` lists the YAML files that loading the names will read with their ``!function``
resolved (each entry's file and its ``include:`` chain, through group members and tags), which
is what ``harness.lmeval.trust`` checks before any of them is loaded.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from harness.errors import HarnessError
from harness.lmeval import PREFIX
from harness.suggest import did_you_mean

_MANAGERS: dict[tuple, Any] = {}


@dataclass(frozen=True)
class Index:
    manager: Any                      # lm_eval.tasks.TaskManager
    entries: dict                     # name -> lm_eval.tasks._index.Entry


def _signature(include: tuple[str, ...]) -> tuple:
    """What the include folders hold now: a YAML added, removed or edited makes another index."""
    return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size)
                 for folder in include for p in sorted(Path(folder).rglob("*.yaml")))


def _manager(include: tuple[str, ...], defaults: bool):
    key = (include, defaults, _signature(include))
    if key not in _MANAGERS:
        from lm_eval.tasks import TaskManager
        _MANAGERS[key] = TaskManager(include_path=list(include) or None, include_defaults=defaults)
    return _MANAGERS[key]


def check_folders(folders: Sequence[Path]) -> tuple[str, ...]:
    out = []
    for folder in folders:
        if not folder.is_dir():
            problem = "is a file, not a folder" if folder.exists() else "not found"
            raise HarnessError(f"--lm-eval-include {folder} {problem}", "pass a folder of lm-eval task YAML files")
        if not any(folder.rglob("*.yaml")):
            raise HarnessError(f"--lm-eval-include {folder} holds no lm-eval task file (*.yaml)",
                               "pass the folder that holds your lm-eval YAMLs (subfolders are searched), as "
                               "lm-eval's --include_path")
        out.append(str(folder.resolve()))
    return tuple(out)


def members(entry, entries: dict) -> Iterable[str]:
    """The names an entry brings in besides itself: a tag's tasks, a group's `task:` list."""
    from lm_eval.tasks._index import Kind
    if entry.kind == Kind.TAG:
        yield from sorted(entry.tags)
    elif entry.kind == Kind.GROUP:
        listed = (entry.cfg or {}).get("task")
        for item in listed if isinstance(listed, list) else []:
            if isinstance(item, str):
                yield item
            elif isinstance(item, dict):
                name = item.get("task") if "task" in item else item.get("group")
                if isinstance(name, str) and (name in entries or "group" not in item):
                    yield name


def _closed(entries: dict, names: Sequence[str]) -> bool:
    """Every name and every member it brings in (recursively) is in ``entries``."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name not in entries:
            return False
        todo += list(members(entries[name], entries))
    return True


def resolve(names: Sequence[str], include: tuple[str, ...]) -> Index:
    """The index to load ``names`` from; an unknown name is exit 2 with lm-eval's closest names."""
    if include:
        local = _manager(include, defaults=False)
        if _closed(local.task_index, names):
            return Index(local, local.task_index)
    full = _manager(include, defaults=True)
    for name in names:
        if name not in full.task_index:
            where = " or in the --lm-eval-include folders" if include else ""
            raise HarnessError(f"unknown lm-eval task, tag or group {name!r}",
                               did_you_mean(name, full.all_tasks, f"lm-eval knows {len(full.all_tasks):,} names{where} "
                                            "(`python -m lm_eval ls tasks` lists them); add your own YAMLs with "
                                            "--lm-eval-include DIR", n=5, shown=lambda c: PREFIX + c))
    return Index(full, full.task_index)


def _chain(path: Path, seen: set[Path]) -> Iterable[Path]:
    """A YAML file and the files its ``include:`` keys pull in, recursively."""
    path = path.expanduser().resolve()
    if path in seen or not path.is_file():
        return
    seen.add(path)
    yield path
    from lm_eval.tasks._yaml_loader import load_yaml
    try:
        cfg = load_yaml(path, resolve_func=False, recursive=False)
    except Exception:         # lm-eval's own load reports what is wrong with the file
        return
    included = cfg.get("include")
    for inc in included if isinstance(included, list) else [included] if included else []:
        target = Path(inc) if Path(str(inc)).is_absolute() else path.parent / str(inc)
        yield from _chain(target, seen)


def files_read(index: Index, names: Sequence[str]) -> list[Path]:
    """The YAML files loading ``names`` reads, each once."""
    files: list[Path] = []
    seen_files: set[Path] = set()
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop(0)
        if name in seen or name not in index.entries:
            continue
        seen.add(name)
        entry = index.entries[name]
        if entry.yaml_path is not None:
            files += list(_chain(Path(entry.yaml_path), seen_files))
        todo += list(members(entry, index.entries))
    return files
