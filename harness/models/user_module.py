"""``--model py:MODULE:CALLABLE[,key=value...]``: your own adapter, built by CALLABLE(**options).

The module is imported from the current directory or the Python path; running it is what the
user asked for by naming it. The result must satisfy harness.models.base.ModelAdapter.
"""
from __future__ import annotations

import importlib
import inspect
import os
import sys

from harness.errors import HarnessError
from harness.models.base import ModelAdapter
from harness.preflight import check_options
from harness.spec import ModelSpec, RuntimeOptions


def _factory(spec: ModelSpec):
    module_name, _, attr = spec.location.partition(":")
    if not module_name or not attr:
        raise HarnessError(f"model spec {spec.name!r} must look like py:MODULE:CALLABLE", "e.g. py:my_models:MyAdapter")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise HarnessError(f"cannot import {module_name}:{attr}: {exc}", "check the module is on the Python path") from None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:    # the module itself failed while it was imported (sys.exit() included)
        raise HarnessError(f"importing {module_name} for model {spec.name!r} failed: {type(exc).__name__}: {exc}",
                           "fix the module") from None


def check_user_adapter(spec: ModelSpec, options: RuntimeOptions) -> None:
    """Before the run: the module imports, the callable exists and takes the spec's ,key=value options."""
    factory = _factory(spec)
    if not callable(factory):
        raise HarnessError(f"{spec.location} is a {type(factory).__name__}, not a callable", "name a class or function")
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return
    check_options(spec, {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)})


def load_user_adapter(spec: ModelSpec, options: RuntimeOptions) -> ModelAdapter:
    """Your own adapter: py:MODULE:CALLABLE[,key=value...] calls CALLABLE(**options)."""
    module_name, _, attr = spec.location.partition(":")
    adapter = _factory(spec)(**spec.options)
    if not isinstance(adapter, ModelAdapter):
        raise HarnessError(f"{module_name}:{attr} returned {type(adapter).__name__}, which lacks the ModelAdapter members",
                           "give it info, supports, token_count, loglikelihood, generate and classify")
    return adapter


load_user_adapter.preflight = check_user_adapter
