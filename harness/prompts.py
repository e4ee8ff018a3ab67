"""Prompt templates: sandboxed Jinja2 (``{{ field }}``) or plain format strings (``{field}``)."""
from __future__ import annotations

import random
import string
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from harness.data import Example
from harness.errors import HarnessError

# Prompts are plain text for a model, so no HTML escaping here (Jinja's default); the sandbox keeps
# templates to reading fields. The HTML report has its own, autoescaping environment.
_JINJA = SandboxedEnvironment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


class _PlainFormatter(string.Formatter):
    """str.format without attribute or index access, so a template can only read fields."""

    def get_field(self, field_name, args, kwargs):
        if not field_name.isidentifier():
            raise KeyError(f"only plain field names are allowed, got {{{field_name}}}")
        return kwargs[field_name], field_name


@dataclass(frozen=True)
class Template:
    source: str
    owner: str

    @property
    def is_jinja(self) -> bool:
        return "{{" in self.source or "{%" in self.source

    def fields(self) -> set[str]:
        """The data fields this template reads."""
        if self.is_jinja:
            from jinja2 import meta
            return set(meta.find_undeclared_variables(_JINJA.parse(self.source)))
        return {name for _, name, _, _ in string.Formatter().parse(self.source) if name}

    def render(self, fields: Mapping[str, Any]) -> str:
        try:
            if self.is_jinja:
                return _JINJA.from_string(self.source).render(**fields)
            return _PlainFormatter().vformat(self.source, (), dict(fields))
        except (jinja2.TemplateError, KeyError, IndexError, ValueError) as exc:
            raise HarnessError(f"{self.owner}: template {self.source!r} failed: {type(exc).__name__}: {exc}",
                               f"use only the data's fields ({', '.join(sorted(fields)) or 'none'})") from None


def draw_fewshot(pool: Sequence[Example], k: int, seed: int, exclude_id: str | None = None) -> list[Example]:
    """k examples drawn with a fixed seed; the example under test is never its own shot."""
    if k <= 0:
        return []
    candidates = [ex for ex in pool if ex.id != exclude_id]
    if len(candidates) < k:
        raise HarnessError(f"asked for {k} few-shot examples but the pool has {len(candidates)}",
                           "lower `fewshot.num` or add examples to the few-shot file")
    return random.Random(seed).sample(candidates, k)
