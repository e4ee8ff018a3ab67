"""The comparison as text: one table per compared model, its flipped items and its cost (pure:
a typed ``Comparison`` in, text out)."""
from __future__ import annotations

from harness.results.comparison import Comparison, CostEntry

TESTS = {"mcnemar_exact": "McNemar exact", "mcnemar_chi2_cc": "McNemar chi2", "paired_bootstrap": "paired bootstrap",
         "approximate_randomization": "approx. rand."}
NOT_SHOWN = 6          # not-measured headlines listed by name; the rest are counted


def _num(v, spec: str = ".4g") -> str:
    return "—" if v is None else format(v, spec)


def _p(v) -> str:
    return "—" if v is None else ("<0.001" if v < 0.001 else f"{v:.3g}")


def _bytes(v) -> str:
    if v is None:
        return "—"
    for unit, size in (("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if v >= size:
            return f"{v / size:.3g} {unit}"
    return f"{v:.0f} B"


def _cost_line(label: str, c: CostEntry, fmt) -> str:
    if not c.measured:
        return f"{label}: not measured: {c.reason}"
    ratio = f" (x{c.ratio:.3g}" if c.ratio is not None else " (no ratio"
    source = c.source.split(" (VmHWM")[0].split(" (resource.")[0]      # the JSON keeps the whole source
    source = source.removeprefix("process peak memory: ")              # the label says it
    return f"{label}: {fmt(c.baseline)} -> {fmt(c.other)}{ratio}; {source})"


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return ["  " + line for line in lines]


def comparison_table(comparison: Comparison | dict) -> str:
    if not isinstance(comparison, Comparison):
        comparison = Comparison.model_validate(comparison)
    runs = comparison.runs
    lines = []
    for other, entry in comparison.models.items():
        baseline = entry.baseline or comparison.baseline
        where = f" (run {runs[baseline].run_id})" if comparison.source == "runs" and baseline in runs else ""
        other_where = f" (run {runs[other].run_id})" if comparison.source == "runs" and other in runs else ""
        n_items = sum(entry.pairing.n_paired.values()) if entry.pairing else 0
        dropped = sum(entry.pairing.dropped.values()) if entry.pairing else 0
        mode = comparison.pairing.mode
        lines.append(f"{other}{other_where} vs baseline {baseline}{where}: {n_items} paired items"
                     + (f", on the intersection ({dropped} items left out)" if mode == "intersection" or dropped else ""))
        for unit, why in entry.not_compared.items():
            lines.append(f"  NOT COMPARED {unit}: {why}")
        if entry.note:
            lines.append(f"  note: {entry.note}")
        rows = [("task / probe", "metric", "n", "baseline", "other", "delta", "95% CI", "test", "p", "p Holm", "")]
        missing: dict[tuple[str, str], list[str]] = {}
        for section, unit, name, s in entry.stats():
            prefix = "probe:" if section == "probes" else ""
            if not s.measured:
                missing.setdefault((prefix + unit, str(s.reason)), []).append(name)
                continue
            flag = ("*" if s.significant else "") + ("~" if s.too_few_items else "")
            rows.append((prefix + unit, name, str(s.n), _num(s.baseline), _num(s.other),
                         _num(s.delta, "+.4g"), f"[{_num(s.ci95[0], '+.3g')}, {_num(s.ci95[1], '+.3g')}]",
                         TESTS.get(s.test, s.test or ""), _p(s.p_value), _p(s.p_holm), flag))
        if len(rows) > 1:
            lines += _table(rows)
        if missing:
            groups = [f"{unit} {', '.join(names)}: {reason}" for (unit, reason), names in missing.items()]
            shown = "; ".join(groups[:NOT_SHOWN]) + (f"; and {len(groups) - NOT_SHOWN} more" if len(groups) > NOT_SHOWN else "")
            lines.append(f"  not measured ({sum(map(len, missing.values()))}): {shown}")
        f = entry.flipped
        if f.by_task:
            per = ", ".join(f"{t} {c.metric} {c.broken} broken/{c.fixed} fixed" for t, c in f.by_task.items())
            kept, total = f.items_kept or 0, f.items_total or 0
            lines.append(f"  flipped 0/1 outcomes: {f.broken} broken, {f.fixed} fixed ({per})"
                         + (f"; {kept} of {total} kept in results" if total > kept else ""))
        for label, c, fmt in (("model memory", entry.cost.model_memory_bytes, _bytes),
                              ("J/example", entry.cost.j_per_example, lambda v: f"{v:.4g} J"),
                              ("latency/example", entry.cost.latency_s_per_example, lambda v: f"{v * 1000:.3g} ms"),
                              ("process peak memory", entry.cost.peak_memory_bytes, _bytes)):
            if c is not None:
                lines.append("  " + _cost_line(label, c, fmt))
    family = "each compared model's p-values" if comparison.holm_family else "the whole comparison"
    lines.append(f"  * significant after Holm's correction over {family} (p < 0.05); "
                 "~ fewer than 30 paired items; delta = other - baseline")
    return "\n".join(lines)
