"""``--model py:MODULE:CALLABLE[,key=value...]``: your own adapter, built by CALLABLE(**options).

The module is imported from the current directory or the Python path; running it is what the
user asked for by naming it. The result must satisfy harness.models.base.ModelAdapter.
"""
from __future__ import annotations

import importlib
import os
import sys

from harness.errors import HarnessError
from harness.models.base import ModelAdapter
from harness.plugins import MODELS
from harness.spec import ModelSpec, RuntimeOptions


@MODELS.register("py")
def load_user_adapter(spec: ModelSpec, options: RuntimeOptions) -> ModelAdapter:
    """Your own adapter: py:MODULE:CALLABLE[,key=value...] calls CALLABLE(**options)."""
    module_name, _, attr = spec.location.partition(":")
    if not module_name or not attr:
        raise HarnessError(f"model spec {spec.name!r} must look like py:MODULE:CALLABLE", "e.g. py:my_models:MyAdapter")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise HarnessError(f"cannot import {module_name}:{attr}: {exc}", "check the module is on the Python path") from None
    adapter = factory(**spec.options)
    if not isinstance(adapter, ModelAdapter):
        raise HarnessError(f"{module_name}:{attr} returned {type(adapter).__name__}, which lacks the ModelAdapter members",
                           "give it info, supports, token_count, loglikelihood, generate and classify")
    return adapter
