"""Imports a run's model libraries on a thread while the main thread prepares the run.

torch and transformers take seconds to import. Nothing in preparing a run needs them (reading
tasks, fingerprints, the run folder, starting the meters, a GPU idle baseline), so `harness run`
starts importing what its models declare (a factory's ``imports``) as soon as the models are
checked, and the main thread meets the finished imports in runner.load_model. The main thread
spends much of that time waiting (CodeCarbon's hardware probe, the idle baseline), so the imports
get the interpreter to themselves.

A failed import here is ignored: load_model imports the same modules on the main thread and
reports the failure there, as one failed piece of the run.
"""
from __future__ import annotations

import importlib
import sys
import threading
from types import ModuleType
from typing import TYPE_CHECKING, Iterable, Sequence

from harness.errors import HarnessError

if TYPE_CHECKING:
    from harness.spec import ModelSpec


def imported(name: str) -> ModuleType | None:
    """The module if it is imported and done initialising, else None. Code that must not import
    torch itself (has this process started CUDA?) asks this instead of ``sys.modules``: while the
    preload thread is importing torch, ``sys.modules["torch"]`` is a half-built module without
    ``torch.cuda``, and a module still importing cannot have started CUDA."""
    module = sys.modules.get(name)
    if module is None or getattr(getattr(module, "__spec__", None), "_initializing", False):
        return None
    return module


def factory_imports(factory) -> tuple[str, ...]:
    """A factory's ``imports``: one name given as a str (``imports = ("torch")``, the comma
    forgotten) is that one module, not a module per letter; anything but module names is a
    HarnessError (load_model makes it the model's failed load)."""
    declared = getattr(factory, "imports", ())
    try:
        names = (declared,) if isinstance(declared, str) else tuple(declared)
    except TypeError:                # None, a number: not a collection of names
        names = (None,)
    if not all(isinstance(name, str) and name for name in names):
        raise HarnessError(f"model factory {getattr(factory, '__qualname__', factory)!r} declares imports = "
                           f"{declared!r}, not a tuple of module names",
                           'declare imports = ("package.module", ...), or no imports')
    return names


def declared_imports(models: Iterable["ModelSpec"]) -> tuple[str, ...]:
    """The modules the models' factories declare, first model first, each once."""
    from harness.plugins import MODELS
    modules: dict[str, None] = {}
    for spec in models:
        try:
            modules.update(dict.fromkeys(factory_imports(MODELS.get(spec.adapter))))
        except HarnessError:         # that model's load reports it
            continue
    return tuple(modules)


def _import_all(modules: Sequence[str]) -> None:
    for module in modules:
        try:
            importlib.import_module(module)
        except BaseException:        # reported by load_model, on the main thread
            return


def start(models: Sequence["ModelSpec"]) -> threading.Thread | None:
    modules = declared_imports(models)
    if not modules:
        return None
    thread = threading.Thread(target=_import_all, args=(modules,), name="harness-preload", daemon=True)
    thread.start()
    return thread
