"""Prompt templates: sandboxed Jinja2 (``{{ field }}``) or plain format strings (``{field}``).

Rendering is bounded: a prompt longer than MAX_PROMPT_CHARS, a range() of more than MAX_RANGE
items, or a string repeated or number raised beyond those bounds stops at once, and every failure
of a template (1/0, text + 1, an unknown field, a null field) is a one-line error naming the task
and the example."""
from __future__ import annotations

import math
import random
import re
import string
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Mapping, Sequence

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from harness.data import Example
from harness.errors import HarnessError

MAX_PROMPT_CHARS = 1_000_000     # about 250k tokens: far beyond any model's context, cheap to refuse
MAX_RANGE = 10_000
MAX_POWER_BITS = 4096


class _Sandbox(SandboxedEnvironment):
    """Jinja's sandbox (templates may only read fields) with bounds on what one expression may build."""
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context, operator, left, right):
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(times, int) and len(seq) * times > MAX_PROMPT_CHARS:
                    raise jinja2.sandbox.SecurityError(f"a repetition of {len(seq) * times:,} characters/items is over "
                                                       f"the {MAX_PROMPT_CHARS:,} characters a prompt may hold")
        if (operator == "**" and isinstance(left, int) and isinstance(right, int) and abs(left) > 1
                and right * math.log2(abs(left)) > MAX_POWER_BITS):
            raise jinja2.sandbox.SecurityError(f"{left} ** {right} is too large a number for a prompt")
        return super().call_binop(context, operator, left, right)


def _range(*args: int) -> range:
    items = range(*args)
    if len(items) > MAX_RANGE:
        raise jinja2.sandbox.SecurityError(f"range of {len(items):,} items is over the limit of {MAX_RANGE:,}")
    return items


# Prompts are plain text for a model, so no HTML escaping here (Jinja's default); the sandbox keeps
# templates to reading fields. The HTML report has its own, autoescaping environment.
_JINJA = _Sandbox(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
_JINJA.globals["range"] = _range
_WIDTH = re.compile(r"\d+")


class _PromptTooLong(Exception):
    pass


class _PlainFormatter(string.Formatter):
    """str.format without attribute or index access, so a template can only read fields."""

    def get_field(self, field_name, args, kwargs):
        if not field_name.isidentifier():
            raise KeyError(f"only plain field names are allowed, got {{{field_name}}}")
        return kwargs[field_name], field_name

    def format_field(self, value, format_spec):
        if any(int(n) > MAX_PROMPT_CHARS for n in _WIDTH.findall(format_spec)):
            raise _PromptTooLong(f"the format {format_spec!r} asks for more than {MAX_PROMPT_CHARS:,} characters")
        return super().format_field(value, format_spec)


@lru_cache(maxsize=256)
def _compiled(source: str) -> tuple[jinja2.Template | None, frozenset[str]]:
    """The compiled Jinja template (None for a format string) and the fields it reads."""
    if "{{" in source or "{%" in source:
        from jinja2 import meta
        return _JINJA.from_string(source), frozenset(meta.find_undeclared_variables(_JINJA.parse(source)))
    return None, frozenset(name for _, name, _, _ in string.Formatter().parse(source) if name)


@dataclass(frozen=True)
class Template:
    source: str
    owner: str

    @property
    def is_jinja(self) -> bool:
        return "{{" in self.source or "{%" in self.source

    def fields(self) -> set[str]:
        """The data fields this template reads."""
        try:
            return set(_compiled(self.source)[1])
        except jinja2.TemplateError as exc:
            raise self._error(exc, {}) from None

    def render(self, fields: Mapping[str, Any]) -> str:
        try:
            compiled, reads = _compiled(self.source)
            for name in sorted(reads):
                if name in fields and fields[name] is None:
                    raise HarnessError(f"{self.owner}: field {name!r}, which the prompt reads, is null",
                                       "give it a value, or leave the example out of the data")
            if compiled is None:
                text = _PlainFormatter().vformat(self.source, (), dict(fields))
            else:
                chunks, size = [], 0
                for chunk in compiled.generate(**fields):
                    size += len(chunk)
                    if size > MAX_PROMPT_CHARS:
                        raise _PromptTooLong(f"the rendered prompt is over {MAX_PROMPT_CHARS:,} characters")
                    chunks.append(chunk)
                text = "".join(chunks)
            if len(text) > MAX_PROMPT_CHARS:
                raise _PromptTooLong(f"the rendered prompt is {len(text):,} characters, over {MAX_PROMPT_CHARS:,}")
            return text
        except HarnessError:
            raise
        except _PromptTooLong as exc:
            raise HarnessError(f"{self.owner}: {exc}", "shorten the template or the data, or lower `fewshot.num`") from None
        except Exception as exc:       # the sandbox lets 1/0, text + 1, overflows through as themselves
            raise self._error(exc, fields) from None

    def _error(self, exc: Exception, fields: Mapping[str, Any]) -> HarnessError:
        return HarnessError(f"{self.owner}: template {self.source[:200]!r} failed: {type(exc).__name__}: {exc}",
                            f"use only the data's fields ({', '.join(sorted(fields)) or 'none'}) and expressions that "
                            "work on every example")


def draw_fewshot(pool: Sequence[Example], k: int, seed: int, exclude_id: str | None = None) -> list[Example]:
    """k examples drawn with a fixed seed; the example under test is never its own shot."""
    if k <= 0:
        return []
    candidates = [ex for ex in pool if ex.id != exclude_id]
    if len(candidates) < k:
        raise HarnessError(f"asked for {k} few-shot examples but the pool has {len(candidates)}",
                           "lower `fewshot.num` or add examples to the few-shot file")
    return random.Random(seed).sample(candidates, k)


def fixed_fewshot(pool: Sequence[Example], k: int, seed: int, exclude_id: str | None = None) -> list[Example]:
    """The same k shots for every example (``fewshot: {fixed: true}``), so every prompt of a task
    starts with one shared prefix that a model encodes once: k + 1 examples drawn once with the seed,
    of which an example takes the first k that are not itself (an example is never its own shot)."""
    if k <= 0:
        return []
    drawn = random.Random(seed).sample(list(pool), min(k + 1, len(pool)))
    shots = [ex for ex in drawn if ex.id != exclude_id][:k]
    if len(shots) < k:
        raise HarnessError(f"asked for {k} few-shot examples but the pool has {len(shots)}",
                           "lower `fewshot.num` or add examples to the few-shot file")
    return shots
