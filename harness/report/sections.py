"""Report sections from plugins: the ``REPORT_SECTIONS`` extension point (harness.plugins).

A section is a callable registered under a name, built-in or from another package's entry point
in the group ``harness.report_sections``. It is given the finished results (a deep read-only view
of results.json) and returns a ``Section`` of plain data, or None to add nothing::

    from harness.plugins import REPORT_SECTIONS
    from harness.report.sections import Section, Table

    @REPORT_SECTIONS.register("latency-budget")
    def latency_budget(results):
        rows = [(name, info["kind"]) for name, info in results["models"].items()]
        return Section("Latency budget", ("One row per model.",), Table(("model", "kind"), tuple(rows)))

A plugin never returns HTML: report.html renders titles, paragraphs and cells as text (Jinja2
autoescape, hidden characters spelt out), so no plugin can put markup on the page. What crosses
the boundary is checked: a wrong return type, a cell that is not str/int/float, a non-finite
number. Sizes are capped (``LIMITS``), with a visible note saying what was cut. A plugin that raises
or returns something else is shown as a note, "section NAME failed: Type: message", in its place;
the run, its exit code, results.json and the other sections are unaffected.

Sections are rendered after the built-in ones, in registration order (built-ins first, then entry
points), each time report.html is written: at the end of a run and whenever it is re-rendered
(``harness.audit.republish``: ``harness gate``, ``harness run --baseline-model``/``--gate``).
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Any, Callable, Mapping, Optional, Protocol, Sequence, Union

Cell = Union[str, int, float]


@dataclass(frozen=True)
class Limits:
    title: int = 200           # characters
    paragraphs: int = 20
    paragraph: int = 4000      # characters each
    columns: int = 20
    rows: int = 200
    cell: int = 300            # characters each
    note: int = 500            # characters of a failure message


LIMITS = Limits()


def _where(where: str) -> str:
    return f" ({where})" if where else ""


def _text(value: Any, what: str) -> str:
    """A plain ``str`` (a str subclass such as markupsafe.Markup loses its class, and so any claim to be HTML)."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    return str.__str__(value)


def _cell(value: Any, what: str) -> Cell:
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{what} must be a str, int or float, not {type(value).__name__}")
    if isinstance(value, numbers.Integral):
        return int(value)
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{what} is {value}: a figure that was not measured is a str saying why, "
                         f"e.g. 'not measured: no GPU'")
    return value


def _sequence(value: Any, what: str) -> tuple:
    """A list or tuple as a tuple; a str, a mapping or an iterator is refused (a str would become its characters)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{what} must be a tuple or list, not {type(value).__name__}")
    return tuple(value)


@dataclass(frozen=True)
class Table:
    """A table of plain values: ``headers`` (one str per column) and ``rows`` (each a tuple of
    str, int or float, as many as there are headers). Floats are shown to 3 significant digits
    (pass a str to choose the formatting); numbers are right-aligned."""
    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...] = ()

    def __post_init__(self):
        headers = tuple(_text(h, f"header {i + 1}") for i, h in enumerate(_sequence(self.headers, "Table.headers")))
        if not headers:
            raise ValueError("Table.headers must name at least one column")
        rows = []
        for r, row in enumerate(_sequence(self.rows, "Table.rows")):
            row = _sequence(row, f"row {r + 1}")
            if len(row) != len(headers):
                raise ValueError(f"row {r + 1} has {len(row)} cells for {len(headers)} headers")
            rows.append(tuple(_cell(v, f"cell (row {r + 1}, column {headers[c]!r})") for c, v in enumerate(row)))
        object.__setattr__(self, "headers", headers)
        object.__setattr__(self, "rows", tuple(rows))


@dataclass(frozen=True)
class Section:
    """What a section plugin returns: a title, paragraphs of text and at most one table."""
    title: str
    paragraphs: tuple[str, ...] = ()
    table: Optional[Table] = None

    def __post_init__(self):
        title = _text(self.title, "Section.title").strip()
        if not title:
            raise ValueError("Section.title must not be empty")
        paragraphs = tuple(_text(p, f"paragraph {i + 1}")
                           for i, p in enumerate(_sequence(self.paragraphs, "Section.paragraphs")))
        if self.table is not None and not isinstance(self.table, Table):
            raise TypeError(f"Section.table must be a harness.report.sections.Table or None, not {type(self.table).__name__}")
        object.__setattr__(self, "title", title)
        object.__setattr__(self, "paragraphs", paragraphs)


class SectionPlugin(Protocol):
    """The extension point's protocol: finished results in (read-only), a Section or None out."""

    def __call__(self, results: Mapping[str, Any], /) -> Optional[Section]: ...


# --- what the template gets ----------------------------------------------------------------------

@dataclass(frozen=True)
class RenderedCell:
    text: str
    numeric: bool = False


@dataclass(frozen=True)
class Rendered:
    """One plugin's section as the template shows it: checked, capped, numbers formatted."""
    name: str
    origin: str
    title: str
    paragraphs: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    rows: tuple[tuple[RenderedCell, ...], ...] = ()
    cuts: tuple[str, ...] = ()          # what the limits cut, said under the section
    error: str = ""                     # "section NAME failed: Type: message"


def readonly(value: Any) -> Any:
    """A deep read-only copy of JSON-like data: dicts become mappingproxies, lists tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: readonly(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(readonly(v) for v in value)
    return value


def _clip(text: str, limit: int, what: str, cuts: list[str]) -> str:
    if len(text) <= limit:
        return text
    cuts.append(f"{what} cut to {limit} of {len(text)} characters")
    return text[:limit - 1] + "…"


def _show(value: Cell, limits: Limits, cuts: list[str]) -> RenderedCell:
    from harness.report.numbers import sig
    if isinstance(value, str):
        return RenderedCell(_clip(value, limits.cell, "a cell", cuts))
    return RenderedCell(str(value) if isinstance(value, int) else sig(value), numeric=True)


def accept(name: str, origin: str, returned: Any, limits: Limits = LIMITS) -> Optional[Rendered]:
    """Checks what plugin ``name`` returned and caps it; raises TypeError/ValueError for garbage.
    Fields are checked again here (a frozen dataclass can still be changed with object.__setattr__)."""
    if returned is None:
        return None
    if not isinstance(returned, Section):
        raise TypeError(f"returned {type(returned).__name__}, expected harness.report.sections.Section or None")
    section = Section(**{f.name: getattr(returned, f.name) for f in fields(Section)})
    cuts: list[str] = []
    title = _clip(section.title, limits.title, "the title", cuts)
    paragraphs = section.paragraphs
    if len(paragraphs) > limits.paragraphs:
        cuts.append(f"{limits.paragraphs} of {len(paragraphs)} paragraphs shown")
        paragraphs = paragraphs[:limits.paragraphs]
    paragraphs = tuple(_clip(p, limits.paragraph, f"paragraph {i + 1}", cuts) for i, p in enumerate(paragraphs))
    headers: tuple[str, ...] = ()
    rows: tuple[tuple[RenderedCell, ...], ...] = ()
    if section.table is not None:
        headers = _sequence(section.table.headers, "Table.headers")
        kept = _sequence(section.table.rows, "Table.rows")
        if len(kept) > limits.rows:          # cut first, then check again what is shown
            cuts.append(f"{limits.rows} of {len(kept)} rows shown")
            kept = kept[:limits.rows]
        table = Table(headers, kept)
        headers, kept = table.headers, table.rows
        if len(headers) > limits.columns:
            cuts.append(f"{limits.columns} of {len(headers)} columns shown")
            headers, kept = headers[:limits.columns], tuple(r[:limits.columns] for r in kept)
        cell_cuts: list[str] = []
        headers = tuple(_clip(h, limits.cell, "a header", cuts) for h in headers)
        rows = tuple(tuple(_show(v, limits, cell_cuts) for v in row) for row in kept)
        if cell_cuts:
            cuts.append(f"{len(cell_cuts)} cell{'s' if len(cell_cuts) > 1 else ''} cut to {limits.cell} characters")
    return Rendered(name=name, origin=origin, title=title, paragraphs=paragraphs, headers=headers, rows=rows,
                    cuts=tuple(dict.fromkeys(cuts)))


def _message(exc: BaseException) -> str:
    """``str(exc)``, which is the plugin's code too (an ``__str__`` that raises)."""
    try:
        return str(exc)
    except Exception as inner:
        return f"(its message cannot be read: {type(inner).__name__})"


def failed(name: str, origin: str, exc: BaseException, limits: Limits = LIMITS) -> Rendered:
    message = f"section {name} failed: {type(exc).__name__}: {_message(exc)}"
    if len(message) > limits.note:
        message = message[:limits.note - 1] + "…"
    return Rendered(name=name, origin=origin, title=name, error=message)


def render_one(name: str, origin: str, plugin: Callable, view: Mapping[str, Any],
               limits: Limits = LIMITS) -> Optional[Rendered]:
    """Calls one plugin; whatever it does (raise, sys.exit, return garbage) ends up on the page, not
    in the run. Ctrl-C and SIGTERM (KeyboardInterrupt, harness.errors.Terminated) still stop the run."""
    try:
        return accept(name, origin, plugin(view), limits)
    except (Exception, SystemExit) as exc:   # a plugin's failure is reported in its section
        return failed(name, origin, exc, limits)


def collect(results: Mapping[str, Any], registry=None, limits: Limits = LIMITS) -> list[Rendered]:
    """Every registered section for ``results``, in registration order (None results left out)."""
    if registry is None:
        from harness.plugins import REPORT_SECTIONS as registry
    names = registry.in_order(tolerant=True)
    view = readonly(results)
    out: list[Rendered] = []
    for name in names:
        try:
            plugin = registry.get(name)
        except Exception as exc:      # a lazy built-in whose module fails to import
            out.append(failed(name, registry.origin(name), exc, limits))
            continue
        if not callable(plugin):
            out.append(failed(name, registry.origin(name), TypeError(
                f"registered {type(plugin).__name__}, expected a callable (results) -> Section | None"), limits))
            continue
        rendered = render_one(name, registry.origin(name), plugin, view, limits)
        if rendered is not None:
            out.append(rendered)
    for name, why in registry.broken.items():      # entry points that did not even import
        out.append(Rendered(name=name, origin=registry.origin(name), title=name,
                            error=_clip(f"section {name} failed: {why} (loading its {registry.origin(name)})",
                                        limits.note, "", [])))
    return out
