"""The report's cells: a figure, a metric value or a paired statistic as the page shows it (3
significant digits, p-values as 0.43 / <0.001), and the numbered notes that say once why a
figure was not measured. Pure: typed values in (harness.results), plain data out."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.report.intervals import interval
from harness.report.numbers import pvalue, sig
from harness.results.comparison import PairedStat
from harness.results.values import Figure, MetricValue

SOURCE_MARK = {"estimated": "≈"}


NOT_MEASURED, NOT_APPLICABLE = "not measured", "n/a"


class Notes:
    """Footnotes: each distinct reason gets one number, shown once under the section it belongs to.
    A note is of a kind: "not measured" (a figure that was tried and has no value) or "n/a" (a figure
    that does not apply to this model, e.g. a worst case over a task it did not run)."""

    def __init__(self):
        self.reasons: dict[tuple[str, str], int] = {}

    def __call__(self, reason: str | None, kind: str = NOT_MEASURED) -> int:
        return self.reasons.setdefault((kind, reason or "no reason recorded"), len(self.reasons) + 1)

    def items(self) -> list[tuple[int, str, str]]:
        """(number, kind, reason) in number order."""
        return [(n, kind, r) for (kind, r), n in self.reasons.items()]


@dataclass(frozen=True)
class Fig:
    """A measured figure (value, unit, source; ``spread``: "± 0.05" over repeats) or a not-measured one (note number)."""
    text: str = "—"
    unit: str = ""
    source: str = ""
    mark: str = ""
    note: int = 0
    spread: str = ""            # "± half-width" for a figure measured over repeats (--repeats N)

    @property
    def measured(self) -> bool:
        return not self.note and self.text != "—"


@dataclass(frozen=True)
class Cell:
    value: str = "—"
    ci: str = ""
    note: int = 0
    title: str = ""
    delta: str = ""             # comparison against the baseline
    delta_ci: str = ""
    p: str = ""
    change: str = ""            # "better" | "worse" | "" (significant after Holm) | "few" (too few items)


def fig(f: Figure | None, notes: Notes) -> Fig:
    if f is None:
        return Fig()
    if f.value is None:
        return Fig(note=notes(f.reason or "no meter"))
    unit = f.unit.replace("gCO2e", "g CO₂e")
    spread = interval(f)
    text = f"± {sig(spread.half_width)}" if spread is not None else ""
    source = f.source + (f"; 95% interval [{sig(spread.lo)}, {sig(spread.hi)}] over {spread.repeats or 'several'} repeats"
                         + (f", cv {sig(spread.cv)}" if spread.cv is not None else "") if spread is not None else "")
    intensity = f.extra("intensity_source")       # a CO2e figure: the carbon intensity it was priced at, on hover
    source += f"; carbon intensity: {intensity}" if intensity else ""
    return Fig(sig(f.value), unit, source, SOURCE_MARK.get(f.source, ""), spread=text)


def interval_text(ci) -> str:
    lo, hi = (list(ci or ()) + [None, None])[:2]
    return f"[{sig(lo)}, {sig(hi)}]" if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) else ""


def count(n) -> str:
    """2.64M parameters, 22.7M, 1.3B."""
    if not isinstance(n, (int, float)) or isinstance(n, bool) or n <= 0:
        return "—"
    for size_, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= size_:
            return sig(n / size_) + suffix
    return sig(n)


def size(n) -> str:
    """Bytes as 606 MiB, 1.5 GiB."""
    if not isinstance(n, (int, float)) or isinstance(n, bool):
        return "—"
    for power, unit in ((4, "TiB"), (3, "GiB"), (2, "MiB"), (1, "KiB")):
        if abs(n) >= 1024 ** power:
            return f"{sig(n / 1024 ** power)} {unit}"
    return f"{sig(n)} B"


def metric_cell(m: MetricValue | None, notes: Notes, missing: str = "") -> Cell:
    """The metric's cell; ``m`` None: a metric this model does not report, n/a for ``missing`` (the reason)."""
    if m is None:
        return Cell(value="n/a", note=notes(missing, NOT_APPLICABLE)) if missing else Cell()
    if m.value is None:
        return Cell(note=notes(m.reason or "not computed"))
    return Cell(sig(m.value), interval_text(m.ci95), title=f"n = {m.n}" if m.n is not None else "")


def detail_cell(value: Any, notes: Notes) -> Cell:
    """A cell of a probe's own table (subgroups): a metric-like object, a number or text."""
    if isinstance(value, dict):
        if value.get("value") is None:
            return Cell(note=notes(value.get("reason") or "not computed"))
        n = value.get("n")
        return Cell(sig(value["value"]), interval_text(value.get("ci95")), title=f"n = {n}" if n is not None else "")
    if isinstance(value, float):
        return Cell(value=sig(value))
    if isinstance(value, (list, tuple)):
        return Cell(value=", ".join(map(str, value)))
    return Cell(value="—" if value is None else str(value))


def stat_cell(base: Cell, stat: PairedStat | None, notes: Notes) -> Cell:
    """A model's cell with its comparison STAT against the baseline."""
    if stat is None:
        return base
    if not stat.measured:
        return Cell(base.value, base.ci, base.note, base.title, delta=f"Δ n/m{sup(notes(stat.reason))}")
    change = ""
    if stat.too_few_items:
        change = "few"
    elif stat.significant:
        better = (stat.delta > 0) == stat.higher_is_better
        change = "better" if better else "worse"
    lo, hi = stat.ci95
    ci = f"[{signed(lo)}, {signed(hi)}]" if lo is not None and hi is not None else ""
    title = f"{stat.test or ''}; n = {stat.n}; p = {pvalue(stat.p_value)}, Holm p = {pvalue(stat.p_holm)}"
    if stat.discordant is not None:
        title += f"; discordant: baseline only {stat.discordant.baseline_only}, other only {stat.discordant.other_only}"
    return Cell(base.value, base.ci, base.note, title, signed(stat.delta), ci,
                pvalue(stat.p_holm) if stat.p_holm is not None else "", change)


def signed(v) -> str:
    text = sig(v)
    return text if text.startswith(("-", "—")) or text == "0" else "+" + text


def sup(n: int) -> str:
    return f" [{n}]"
