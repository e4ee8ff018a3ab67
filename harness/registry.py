"""A generic registry: entry-point plugins, decorator registration, and did-you-mean errors.

Each extension point owns one ``Registry`` (see ``harness.plugins`` for the list). Every component,
built-in or not, joins it through an entry point in the registry's group, declared in its package's
pyproject.toml; harness's own built-ins are declared in harness's pyproject.toml exactly so::

    [project.entry-points."harness.tasks"]
    my_task = "my_package.tasks:my_task"

Entry points are listed the first time a registry is asked for a name, and each component is
imported only when it is looked up: ``names()`` and ``describe()`` import nothing (a description is
the first line of the component's docstring, read from its source file), so `harness list` and
``--help`` never import torch or transformers. Code in the running process (a test, an embedding
application) may also add a component with ``@REGISTRY.register("name")``.

This module imports nothing of harness but its error type and the did-you-mean helper (harness.suggest,
which imports nothing): no registry knows its components.
"""
from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Callable, Generic, Iterable, Iterator, TypeVar

from harness.errors import HarnessError
from harness.suggest import did_you_mean

T = TypeVar("T")

DISTRIBUTION = "harness-audit"          # the distribution whose entry points are the built-ins
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


def _normalized(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def is_builtin(ep: EntryPoint) -> bool:
    """Whether ``ep`` is one of harness's own (declared in harness's pyproject.toml)."""
    dist = getattr(ep, "dist", None)
    return dist is not None and _normalized(dist.metadata["Name"] or "") == DISTRIBUTION


@functools.lru_cache(maxsize=None)
def _group(group: str) -> tuple[EntryPoint, ...]:
    """The entry points of ``group``: harness's own first (in the order its pyproject.toml lists
    them), then every other installed package's, in the order importlib.metadata lists them."""
    found = list(entry_points(group=group))
    return tuple([ep for ep in found if is_builtin(ep)] + [ep for ep in found if not is_builtin(ep)])


@functools.lru_cache(maxsize=None)
def _docstrings(module: str) -> dict[str | None, str]:
    """The docstrings of a module (key None) and of its top-level functions and classes, read from its
    source file without importing it (the parent package is imported to find it)."""
    try:
        spec = importlib.util.find_spec(module)
        origin = spec.origin if spec is not None else None
        if not origin or not origin.endswith(".py"):
            return {}
        with open(origin, encoding="utf-8") as fh:
            tree = ast.parse(fh.read())
    except (ImportError, OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return {}
    docs: dict[str | None, str] = {None: ast.get_docstring(tree) or ""}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            docs[node.name] = ast.get_docstring(node) or ""
    return docs


@dataclass(frozen=True)
class Lazy:
    """A component from an entry point, not imported yet."""
    entry_point: EntryPoint

    @property
    def module(self) -> str:
        return self.entry_point.module

    @property
    def doc(self) -> str:
        """Its docstring, read from its source file (empty when it has none there)."""
        attr = self.entry_point.attr
        return _docstrings(self.module).get(attr.split(".")[0] if attr else None, "")

    def resolve(self):
        return self.entry_point.load()


def first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0]


class Registry(Generic[T]):
    """One extension point: its components by name. ``builtin``: harness itself provides some (from
    its own entry points), so finding none means harness is not installed."""

    def __init__(self, kind: str, group: str, builtin: bool = False):
        self.kind = kind
        self.group = group
        self.builtin = builtin
        self._items: dict[str, T | Lazy] = {}
        self._origins: dict[str, str] = {}
        self._entry_points_loaded = False
        self.broken: dict[str, str] = {}      # entry points that failed to load with tolerant=True: name -> why

    def register(self, name: str) -> Callable[[T], T]:
        """Adds a component from code in this process (a test, an application that embeds harness)."""
        def decorator(obj: T) -> T:
            self.add(name, obj, origin=getattr(obj, "__module__", "?"))
            return obj
        return decorator

    def add(self, name: str, obj: T, origin: str = "?") -> None:
        held = self._items.get(name)
        if held is not None and held is not obj:
            raise HarnessError(f"two {self.kind}s are named {name!r} ({self._origins[name]} and {origin})",
                               "rename one of them")
        self._items[name] = obj
        self._origins[name] = origin

    def load_entry_points(self, tolerant: bool = False) -> None:
        """Lists the components of this registry's entry-point group, once, importing none of them;
        the first of a name wins (harness's own before other packages'). With ``tolerant`` every
        component is imported now, and one that fails is recorded in ``broken`` and left out (for
        extension points whose failures the caller reports itself, as report sections do)."""
        if not self._entry_points_loaded:
            self._entry_points_loaded = True
            eps = _group(self.group)
            if self.builtin and not any(is_builtin(ep) for ep in eps):
                raise HarnessError(f"no built-in {self.kind} is registered (entry-point group {self.group}): harness "
                                   "is not installed, or was installed from an older checkout",
                                   "install it from the checkout: pip install -e . (README: set up)")
            for ep in eps:
                if ep.name not in self._items:
                    self._items[ep.name] = Lazy(ep)
                    self._origins[ep.name] = ep.module if is_builtin(ep) else f"entry point {ep.value}"
        if tolerant:
            for name in [n for n, item in self._items.items() if isinstance(item, Lazy)]:
                try:
                    self._items[name] = self._items[name].resolve()
                except Exception as exc:  # a broken plugin must not hide the others
                    self.broken[name] = f"{type(exc).__name__}: {exc}"
                    del self._items[name]

    def in_order(self, tolerant: bool = False) -> list[str]:
        """The names in registration order (entry points in the order ``_group`` lists them, then what
        this process registered); ``names()`` sorts."""
        self.load_entry_points(tolerant)
        return list(self._items)

    def get(self, name: str) -> T:
        self.load_entry_points()
        if name not in self._items:
            raise self.unknown(name)
        return self._resolved(name)

    def _resolved(self, name: str) -> T:
        item = self._items[name]
        if not isinstance(item, Lazy):
            return item
        try:
            obj = item.resolve()
        except Exception as exc:       # a plugin that does not import is that plugin's failure, named
            ep = item.entry_point
            raise HarnessError(f"plugin {name!r} ({ep.value}) in entry-point group {self.group} failed to load: "
                               f"{type(exc).__name__}: {exc}",
                               "fix or uninstall the package that provides it") from exc
        self._items[name] = obj
        return obj

    def describe(self, name: str) -> str:
        """The first line of the component's docstring, without importing one not imported yet."""
        self.load_entry_points()
        item = self._items[name]
        return first_line(item.doc if isinstance(item, Lazy) else (getattr(item, "__doc__", None) or ""))

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
