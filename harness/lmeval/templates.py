"""lm-eval's Jinja templates: sandboxed unless task code is trusted, and each compiled once.

lm-eval renders every ``doc_to_text``, ``doc_to_target`` and ``doc_to_choice`` with
``lm_eval.utils.apply_template``, which compiles the template string again on every call
(``env.from_string``: parse, generate Python source, compile it). A 5-shot multiple-choice task
renders 2-3 templates for each shot of each item, so compiling took most of the seconds lm-eval
spends building requests. ``compile_once`` installs an ``apply_template`` that keeps each
compiled template, keyed by the Jinja environment in use and the template string; rendering a
compiled template is what the original does after compiling, so every prompt is the same text.

``sandbox_templates`` swaps in Jinja's SandboxedEnvironment (same filters and settings): lm-eval's
own environment is unsandboxed, where ``{{ cycler.__init__.__globals__.os }}`` reaches the os
module. Unless code is trusted (``--trust-task-code``, harness.lmeval.trust), templates run there
(same output for templates that only read the document).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

_CACHED = "_harness_compiles_once"


@lru_cache(maxsize=4096)
def _compiled(env: Any, template: str) -> Any:
    return env.from_string(template)


def compile_once() -> None:
    """lm-eval's ``apply_template`` with each (environment, template) compiled once (idempotent)."""
    import lm_eval.utils as utils
    if getattr(utils.apply_template, _CACHED, False):
        return

    def apply_template(template: str, doc: dict) -> str:
        return _compiled(utils.env, template).render(**doc)

    setattr(apply_template, _CACHED, True)
    apply_template.__wrapped__ = utils.apply_template          # lm-eval's own, for a comparison
    utils.apply_template = apply_template


def sandbox_templates() -> None:
    """lm-eval's Jinja environment, sandboxed (idempotent; same filters and settings)."""
    from jinja2 import BaseLoader, StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment
    import lm_eval.utils as utils
    if isinstance(utils.env, SandboxedEnvironment):
        return
    env = SandboxedEnvironment(loader=BaseLoader, undefined=StrictUndefined, keep_trailing_newline=True)
    env.filters.update(utils.env.filters)
    utils.env = env
