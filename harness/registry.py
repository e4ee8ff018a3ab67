"""A generic registry: decorator registration, entry-point plugins, and did-you-mean errors.

Each extension point owns one ``Registry`` (see ``harness.plugins`` for the list). A component
registers itself with ``@REGISTRY.register("name")``; a third-party package registers the same
way from an entry point in the registry's group, e.g. in its pyproject.toml::

    [project.entry-points."harness.tasks"]
    my_task = "my_package.tasks:my_task"

Entry points are loaded lazily, the first time a name is looked up or listed. Built-in components
whose modules import heavy libraries (torch, transformers) are registered with ``add_lazy``: the
name, its module and a one-line description are known at once, and the module is imported the
first time the component is looked up, so `harness list` and `--help` import none of them.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Callable, Generic, Iterable, Iterator, TypeVar

from harness.errors import HarnessError
from harness.suggest import did_you_mean

T = TypeVar("T")


LISTED = ("task", "model", "metric", "probe", "meter")     # what `harness list` can show


def unknown_model_of_run(name: str, models: Iterable[str]) -> HarnessError:
    """--baseline-model NAME that is not one of the run's --model names: the run's names are the known
    ones (`harness list models` lists adapters, not these)."""
    models = list(models)
    return HarnessError(f"--baseline-model {name!r} is not a model of this run",
                        did_you_mean(name, models, f"the run's models: {', '.join(models) or 'none'}"))


def unknown_name(kind: str, name: str, known: Iterable[str]) -> HarnessError:
    """The error for a name that is not known, with the closest known names."""
    known = sorted(known)
    otherwise = (f"`harness list {kind}s` shows the known ones" if kind in LISTED else
                 f"known {kind}s: {', '.join(known) or 'none'}")
    return HarnessError(f"unknown {kind} {name!r}", did_you_mean(name, known, otherwise))


@dataclass(frozen=True)
class Lazy:
    """A component not imported yet: ``target`` is "module:attribute"; ``doc`` its one-line description."""
    target: str
    doc: str

    @property
    def module(self) -> str:
        return self.target.partition(":")[0]

    def resolve(self):
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)


class Registry(Generic[T]):
    def __init__(self, kind: str, group: str):
        self.kind = kind
        self.group = group
        self._items: dict[str, T] = {}
        self._origins: dict[str, str] = {}
        self._entry_points_loaded = False
        self.broken: dict[str, str] = {}      # entry points that failed to load with tolerant=True: name -> why

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            self.add(name, obj, origin=getattr(obj, "__module__", "?"))
            return obj
        return decorator

    def add_lazy(self, name: str, target: str, doc: str) -> None:
        """Registers ``target`` ("module:attribute") under ``name`` without importing it yet."""
        self.add(name, Lazy(target, doc), origin=target.partition(":")[0])

    def add(self, name: str, obj: T, origin: str = "?") -> None:
        held = self._items.get(name)
        if isinstance(held, Lazy) and held.module == origin:     # the lazy entry's module, registering itself
            held = None
        if held is not None and held is not obj:
            raise HarnessError(f"two {self.kind}s are named {name!r} ({self._origins[name]} and {origin})",
                               "rename one of them")
        self._items[name] = obj
        self._origins[name] = origin

    def load_entry_points(self, tolerant: bool = False) -> None:
        """Loads the plugins of this registry's entry-point group, once. A plugin that fails to load
        raises HarnessError, or with ``tolerant`` is recorded in ``broken`` and the others still load
        (for extension points whose failures the caller reports itself, as report sections do)."""
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        for ep in entry_points(group=self.group):
            if ep.name in self._items:
                continue
            try:
                obj = ep.load()
            except Exception as exc:  # a broken plugin must not hide the others
                if tolerant:
                    self.broken[ep.name] = f"{type(exc).__name__}: {exc}"
                    self._origins[ep.name] = f"entry point {ep.value}"
                    continue
                raise HarnessError(f"plugin {ep.name!r} ({ep.value}) in entry-point group {self.group} failed to load: "
                                   f"{type(exc).__name__}: {exc}", "fix or uninstall the package that provides it") from exc
            self.add(ep.name, obj, origin=f"entry point {ep.value}")

    def in_order(self, tolerant: bool = False) -> list[str]:
        """The names in registration order (built-ins as their modules registered them, then entry
        points in the order importlib.metadata lists them); ``names()`` sorts."""
        self.load_entry_points(tolerant)
        return list(self._items)

    def get(self, name: str) -> T:
        if name not in self._items:
            self.load_entry_points()
        if name not in self._items:
            raise self.unknown(name)
        return self._resolved(name)

    def _resolved(self, name: str) -> T:
        item = self._items[name]
        if isinstance(item, Lazy):
            obj = item.resolve()
            self._items[name] = obj
            return obj
        return item

    def describe(self, name: str) -> str:
        """The first line of the component's docstring, without importing a lazy one."""
        item = self._items[name]
        doc = item.doc if isinstance(item, Lazy) else (getattr(item, "__doc__", None) or "")
        return (doc.strip().splitlines() or [""])[0]

    def unknown(self, name: str) -> HarnessError:
        return unknown_name(self.kind, name, self.names())

    def __contains__(self, name: str) -> bool:
        self.load_entry_points()
        return name in self._items

    def names(self) -> list[str]:
        self.load_entry_points()
        return sorted(self._items)

    def items(self) -> Iterator[tuple[str, T]]:
        for name in self.names():
            yield name, self._resolved(name)

    def origin(self, name: str) -> str:
        return self._origins.get(name, "?")
