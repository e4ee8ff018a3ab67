"""The comparison views of report.html and compare.html: per compared model its flipped items, its
cost against the baseline, and its deltas as one interval plot. The deltas are drawn relative to the
baseline's value (percent), so BLEU points, accuracy fractions and perplexities share one axis
without mixing units; a metric whose baseline is 0 has no relative change and is listed instead.
Pure: the typed comparison in, plain data out."""
from __future__ import annotations

import harness.report.charts as charts
from harness.report.cells import Notes, size
from harness.report.numbers import sig
from harness.results.comparison import Comparison, PairedStat

COST_NAMES = {"j_per_example": "energy per example (J)", "latency_s_per_example": "latency per example (s)",
              "model_memory_bytes": "model memory (parameters and buffers)", "peak_memory_bytes": "process peak memory"}
RELATIVE_AXIS = "change relative to the baseline's value (%)"


def relative(stat: PairedStat) -> dict | None:
    """Delta and CI as percent of the baseline's value; None where that has no meaning (baseline 0 or missing)."""
    base = stat.baseline
    if stat.delta is None or not isinstance(base, (int, float)) or base == 0:
        return None
    scale = 100.0 / abs(base)
    lo, hi = stat.ci95
    return {"value": stat.delta * scale, "ci": [lo * scale if lo is not None else None, hi * scale if hi is not None else None]}


def delta_rows(stats) -> tuple[list[dict], list[str]]:
    """(forest rows of relative deltas, labels of the deltas that cannot be made relative)."""
    rows, left_out = [], []
    for section, item, metric, stat in stats:
        if stat.delta is None:
            continue
        arrow = "↑" if stat.higher_is_better else "↓"
        label = f"{'probe ' if section == 'probes' else ''}{item} · {metric} {arrow}"
        rel = relative(stat)
        if rel is None:
            left_out.append(f"{label} (Δ {sig(stat.delta)} on a baseline of {sig(stat.baseline)})")
            continue
        rows.append({"label": label, "value": rel["value"], "ci": rel["ci"], "significant": stat.significant,
                     "title": f"Δ {sig(stat.delta)} on a baseline of {sig(stat.baseline)} ({sig(rel['value'])}%)"})
    return rows, left_out


def comparison_view(comparison: Comparison | None, notes: Notes) -> dict | None:
    if comparison is None:
        return None
    rows = []
    for name, other in comparison.models.items():
        flipped = other.flipped
        items = sorted((i.to_json() for i in flipped.items), key=lambda i: (i.get("direction") != "broken", i.get("task", "")))
        cost = []
        for key, c in other.cost.entries():
            show = size if key.endswith("_bytes") else sig
            cost.append({"name": COST_NAMES.get(key, key.replace("_", " ")), "baseline": show(c.baseline), "other": show(c.other),
                         "ratio": f"×{sig(c.ratio)}" if c.ratio is not None else "—",
                         "note": notes(c.reason) if c.reason and c.ratio is None else 0, "source": c.source})
        deltas, left_out = delta_rows(other.stats())
        forest = charts.forest(f"{name} against {comparison.baseline}", deltas, RELATIVE_AXIS)
        rows.append({"name": name, "fixed": flipped.fixed, "broken": flipped.broken, "items": items, "cost": cost,
                     "forest": forest, "left_out": left_out, "note": other.note or ""})
    pairing = comparison.pairing.to_json()
    return {"baseline": comparison.baseline, "source": comparison.source,
            "runs": {k: r.to_json() for k, r in comparison.runs.items()},
            "pairing": pairing, "dropped": sum(comparison.pairing.dropped.values()), "models": rows}
