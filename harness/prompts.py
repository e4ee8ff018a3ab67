"""Prompt templates: sandboxed Jinja2 (``{{ field }}``) or plain format strings (``{field}``).

Rendering is bounded: a prompt longer than MAX_PROMPT_CHARS, a range() of more than MAX_RANGE
items, a string repeated, padded, replaced, joined or formatted or a number raised beyond those
bounds stops at once, as does a rendering of more than MAX_STEPS steps (nested loops), and every failure
of a template (1/0, text + 1, an unknown field, a null field) is a one-line error naming the task
and the example."""
from __future__ import annotations

import functools
import math
import random
import re
import string
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterator, Mapping, Sequence

import jinja2
from jinja2.runtime import LoopContext
from jinja2.sandbox import SandboxedEnvironment

from harness.data import Example
from harness.errors import HarnessError

MAX_PROMPT_CHARS = 1_000_000     # about 250k tokens: far beyond any model's context, cheap to refuse
MAX_RANGE = 10_000
MAX_POWER_BITS = 4096


MAX_STEPS = 1_000_000            # loop iterations, calls and attribute reads in one rendering
MAX_BUILT_CHARS = 16 * MAX_PROMPT_CHARS   # characters/items all the operations of one rendering may build
_PRINTF_WIDTH = re.compile(r"%[-#0 +]*(\d*)(?:\.(\d*))?")
_BOUNDED_ITER = "_harness_bounded_iter"


class _Budget(threading.local):
    """What the rendering under way on this thread has spent (reset by Template.render)."""
    steps = 0
    built = 0

    def step(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise jinja2.sandbox.SecurityError(f"the template took over {MAX_STEPS:,} steps (loop iterations, calls)")

    def spend(self, result: Any) -> Any:
        if isinstance(result, (str, list, tuple, dict)):
            if len(result) > MAX_PROMPT_CHARS:
                raise jinja2.sandbox.SecurityError(f"an expression built {len(result):,} characters/items, over the "
                                                   f"{MAX_PROMPT_CHARS:,} a prompt may hold")
            self.built += len(result)
            if self.built > MAX_BUILT_CHARS:
                raise jinja2.sandbox.SecurityError(f"the template built over {MAX_BUILT_CHARS:,} characters in all")
        return result


_BUDGET = _Budget()


def _too_big(what: str) -> jinja2.sandbox.SecurityError:
    return jinja2.sandbox.SecurityError(f"{what} would build more than the {MAX_PROMPT_CHARS:,} characters a prompt may hold")


def _check_args(args: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
    """A width, count or padding over the prompt bound (``center(10**9)``, ``indent(10**9)``) is refused
    before anything is built."""
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and value > MAX_PROMPT_CHARS:
            raise _too_big(f"an argument of {value:,}")


def _check_format_specs(fmt: str) -> None:
    try:
        specs = [spec for _, _, spec, _ in string.Formatter().parse(fmt) if spec]
    except ValueError:
        return                               # the call itself reports the malformed format
    if any(int(n) > MAX_PROMPT_CHARS for spec in specs for n in _WIDTH.findall(spec)):
        raise _too_big(f"the format {fmt[:60]!r}")


def _check_printf(fmt: str) -> None:
    if any(n and int(n) > MAX_PROMPT_CHARS for m in _PRINTF_WIDTH.finditer(fmt) for n in m.groups()):
        raise _too_big(f"the format {fmt[:60]!r}")


def _estimate(name: str, value: Any, args: Sequence[Any]) -> None:
    """Sizes of the operations that multiply their input: replace, join, indent."""
    if name == "replace" and isinstance(value, str) and len(args) >= 2 and isinstance(args[0], str):
        count = (len(value) + 1) if args[0] == "" else value.count(args[0])
        if isinstance(args[2] if len(args) > 2 else None, int) and args[2] >= 0:
            count = min(count, args[2])
        if len(value) + count * (len(str(args[1])) - len(args[0])) > MAX_PROMPT_CHARS:
            raise _too_big("a replace")
    elif name == "join" and isinstance(value, (list, tuple)) and args and isinstance(args[0], str):
        if len(args[0]) * max(len(value) - 1, 0) + sum(len(str(v)) for v in value) > MAX_PROMPT_CHARS:
            raise _too_big("a join")
    elif name == "indent" and isinstance(value, str) and args and isinstance(args[0], str):
        if len(value) + (value.count("\n") + 1) * len(args[0]) > MAX_PROMPT_CHARS:
            raise _too_big("an indent")


def _bounded_filter(name: str, func):
    @functools.wraps(func)
    def bounded(*args, **kwargs):
        _BUDGET.step()
        _check_args(args, kwargs)
        pass_arg = getattr(func, "jinja_pass_arg", None)
        value_and_args = args[1:] if pass_arg is not None else args
        if value_and_args:
            if name == "join":
                value_and_args = (list(value_and_args[0]), *value_and_args[1:])
                args = (*args[:len(args) - len(value_and_args)], *value_and_args)
            _estimate(name, value_and_args[0], value_and_args[1:])
            if name == "format" and isinstance(value_and_args[0], str):
                _check_printf(value_and_args[0])
        return _BUDGET.spend(func(*args, **kwargs))
    return bounded


def _bounded_iter(iterable: Any) -> Iterator[Any]:
    for item in iterable:
        _BUDGET.step()
        yield item


class _Sandbox(SandboxedEnvironment):
    """Jinja's sandbox (templates may only read fields) with bounds on what one rendering may do:
    every loop iteration, call, filter and attribute read is a step (at most MAX_STEPS), a call
    whose arguments would build more than a prompt may hold is refused before it runs, and what
    the calls build adds up to at most MAX_BUILT_CHARS."""
    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self, **options):
        super().__init__(**options)
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}
        self.globals[_BOUNDED_ITER] = _bounded_iter

    def _parse(self, source, name, filename):
        """Every `{% for %}` iterates through _bounded_iter, so each iteration is a step."""
        tree = super()._parse(source, name, filename)
        for node in tree.find_all(jinja2.nodes.For):
            node.iter = jinja2.nodes.Call(jinja2.nodes.Name(_BOUNDED_ITER, "load"), [node.iter], [], None, None)
        return tree

    def getattr(self, obj, attribute):
        _BUDGET.step()
        return super().getattr(obj, attribute)

    def getitem(self, obj, argument):
        _BUDGET.step()
        return super().getitem(obj, argument)

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 (Jinja's own signature)
        _BUDGET.step()
        _check_args(args, kwargs)
        if isinstance(__obj, LoopContext) and args:          # a recursive loop's next level: bounded too
            args = (_bounded_iter(args[0]), *args[1:])
        method = getattr(__obj, "__name__", "")
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str) and method in ("replace", "join"):
            if method == "join" and args:
                args = (list(args[0]), *args[1:])
                _estimate("join", args[0], (owner,))
            else:
                _estimate("replace", owner, args)
        return _BUDGET.spend(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value):
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        fmt = value.__self__

        def checked(*args, **kwargs):
            _check_format_specs(fmt)
            return wrapped(*args, **kwargs)
        return checked

    def call_binop(self, context, operator, left, right):
        _BUDGET.step()
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(times, int) and len(seq) * times > MAX_PROMPT_CHARS:
                    raise jinja2.sandbox.SecurityError(f"a repetition of {len(seq) * times:,} characters/items is over "
                                                       f"the {MAX_PROMPT_CHARS:,} characters a prompt may hold")
        if (operator == "**" and isinstance(left, int) and isinstance(right, int) and abs(left) > 1
                and right * math.log2(abs(left)) > MAX_POWER_BITS):
            raise jinja2.sandbox.SecurityError(f"{left} ** {right} is too large a number for a prompt")
        if operator == "%" and isinstance(left, str):
            _check_printf(left)
            _check_args(right if isinstance(right, tuple) else (right,), right if isinstance(right, Mapping) else {})
        return _BUDGET.spend(super().call_binop(context, operator, left, right))


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
        return _JINJA.from_string(source), frozenset(meta.find_undeclared_variables(_JINJA.parse(source)) - {_BOUNDED_ITER})
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
            _BUDGET.steps = _BUDGET.built = 0
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


def _too_few(k: int, have: int, owner: str) -> HarnessError:
    return HarnessError(f"{owner + ': ' if owner else ''}asked for {k} few-shot examples but the pool has {have} "
                        "(an example is never its own shot)", "lower `fewshot.num` or add examples to the few-shot file")


def draw_fewshot(pool: Sequence[Example], k: int, seed: int, exclude_id: str | None = None,
                 owner: str = "") -> list[Example]:
    """k examples drawn with a fixed seed; the example under test is never its own shot."""
    if k <= 0:
        return []
    candidates = [ex for ex in pool if ex.id != exclude_id]
    if len(candidates) < k:
        raise _too_few(k, len(candidates), owner)
    return random.Random(seed).sample(candidates, k)


def fixed_fewshot(pool: Sequence[Example], k: int, seed: int, exclude_id: str | None = None,
                  owner: str = "") -> list[Example]:
    """The same k shots for every example (``fewshot: {fixed: true}``), so every prompt of a task
    starts with one shared prefix that a model encodes once: k + 1 examples drawn once with the seed,
    of which an example takes the first k that are not itself (an example is never its own shot)."""
    if k <= 0:
        return []
    drawn = random.Random(seed).sample(list(pool), min(k + 1, len(pool)))
    shots = [ex for ex in drawn if ex.id != exclude_id][:k]
    if len(shots) < k:
        raise _too_few(k, len(shots), owner)
    return shots
