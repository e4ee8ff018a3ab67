"""Checks a run's model specs before a run folder exists: every mistake the user can fix (an unknown
adapter or option, a device or dtype this machine lacks, a model folder or py: module that is not
there) is a one-line exit-2 error, not a failed piece of an audit that has already started.

A model factory may declare ``options`` (the ``,key=value`` names a spec may give it) and
``preflight(spec, runtime)`` (cheap checks that load nothing); factories that declare neither are
only looked up. A factory whose options include the variant keys (dtype, quantize, prune) gets them
checked by harness.models.variants.check: a recipe that cannot be honoured is refused here. A factory
may also declare ``labels_of(spec)``: the labels it classifies with, () when it answers no
classification, known without loading (a probe's classifier is checked against them before the run).
"""
from __future__ import annotations

from typing import Sequence

from harness.errors import HarnessError
from harness.models import variants
from harness.models.variants import VARIANT_KEYS
from harness.plugins import MODELS
from harness.spec import ModelSpec, RuntimeOptions
from harness.suggest import did_you_mean


def check_models(models: Sequence[ModelSpec], runtime: RuntimeOptions) -> None:
    if runtime.device is not None or runtime.dtype is not None:
        from harness.models.device import choose_device, choose_dtype
        choose_dtype(runtime.dtype, choose_device(runtime.device))
    for spec in models:
        factory = MODELS.get(spec.adapter)
        allowed = getattr(factory, "options", None)
        if allowed is not None:
            check_options(spec, allowed)
            if VARIANT_KEYS & set(spec.options) & set(allowed):
                variants.check(spec, runtime)      # dtype=, quantize=, prune=: valid and runnable here
        check = getattr(factory, "preflight", None)
        if callable(check):
            check(spec, runtime)


def labels_of(spec: ModelSpec) -> tuple[str, ...] | None:
    """What ``spec``'s model classifies with, known before it loads: its labels, () when it answers no
    classification, None when only loading it can tell (a factory that declares no ``labels_of``)."""
    declared = getattr(MODELS.get(spec.adapter), "labels_of", None)
    return declared(spec) if callable(declared) else None


def check_options(spec: ModelSpec, allowed) -> None:
    for key in spec.options:
        if key not in allowed:
            hint = did_you_mean(key, allowed, f"{spec.adapter} takes {', '.join(sorted(allowed))}" if allowed else
                                f"{spec.adapter} takes no options", n=1, shown=repr)
            raise HarnessError(f"model {spec.name!r}: unknown option {key!r} for adapter {spec.adapter!r}", hint)
