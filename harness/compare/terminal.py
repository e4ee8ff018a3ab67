"""The comparison as text: one table per compared model, its flipped items and its cost (pure)."""
from __future__ import annotations

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


def _cost_line(label: str, c: dict, fmt) -> str:
    if c.get("not_measured"):
        return f"{label}: not measured: {c['not_measured']}"
    ratio = f" (x{c['ratio']:.3g}" if c.get("ratio") is not None else " (no ratio"
    source = c["source"].split(" (VmHWM")[0].split(" (resource.")[0]      # the JSON keeps the whole source
    return f"{label}: {fmt(c['baseline'])} -> {fmt(c['other'])}{ratio}; {source})"


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return ["  " + line for line in lines]


def comparison_table(comparison: dict) -> str:
    runs = comparison.get("runs", {})
    pairing = comparison.get("pairing", {})
    lines = []
    for other, entry in comparison["models"].items():
        baseline = entry.get("baseline", comparison["baseline"])
        where = f" (run {runs[baseline]['run_id']})" if comparison.get("source") == "runs" and baseline in runs else ""
        other_where = f" (run {runs[other]['run_id']})" if comparison.get("source") == "runs" and other in runs else ""
        n_items = sum(entry.get("pairing", {}).get("n_paired", {}).values())
        dropped = sum(entry.get("pairing", {}).get("dropped", {}).values())
        mode = pairing.get("mode", "exact")
        lines.append(f"{other}{other_where} vs baseline {baseline}{where}: {n_items} paired items"
                     + (f", on the intersection ({dropped} items left out)" if mode == "intersection" or dropped else ""))
        rows = [("task / probe", "metric", "n", "baseline", "other", "delta", "95% CI", "test", "p", "p Holm", "")]
        missing: dict[tuple[str, str], list[str]] = {}
        for section, prefix in (("tasks", ""), ("probes", "probe:")):
            for unit, metrics in entry[section].items():
                for name, s in metrics.items():
                    if s.get("not_measured"):
                        missing.setdefault((prefix + unit, s["not_measured"]), []).append(name)
                        continue
                    flag = ("*" if s["significant"] else "") + ("~" if s["too_few_items"] else "")
                    rows.append((prefix + unit, name, str(s["n"]), _num(s["baseline"]), _num(s["other"]),
                                 _num(s["delta"], "+.4g"), f"[{_num(s['ci95'][0], '+.3g')}, {_num(s['ci95'][1], '+.3g')}]",
                                 TESTS.get(s["test"], s["test"] or ""), _p(s["p_value"]), _p(s["p_holm"]), flag))
        if len(rows) > 1:
            lines += _table(rows)
        if missing:
            groups = [f"{unit} {', '.join(names)}: {reason}" for (unit, reason), names in missing.items()]
            shown = "; ".join(groups[:NOT_SHOWN]) + (f"; and {len(groups) - NOT_SHOWN} more" if len(groups) > NOT_SHOWN else "")
            lines.append(f"  not measured ({sum(map(len, missing.values()))}): {shown}")
        f = entry.get("flipped") or {}
        if f.get("by_task"):
            per = ", ".join(f"{t} {c['metric']} {c['broken']} broken/{c['fixed']} fixed" for t, c in f["by_task"].items())
            lines.append(f"  flipped 0/1 outcomes: {f['broken']} broken, {f['fixed']} fixed ({per})"
                         + (f"; {f['items_kept']} of {f['items_total']} kept in results" if f["items_total"] > f["items_kept"] else ""))
        c = entry.get("cost") or {}
        if c:
            lines.append("  " + _cost_line("J/example", c["j_per_example"], lambda v: f"{v:.4g} J"))
            lines.append("  " + _cost_line("latency/example", c["latency_s_per_example"], lambda v: f"{v * 1000:.3g} ms"))
            lines.append("  " + _cost_line("peak memory", c["peak_memory_bytes"], _bytes))
    lines.append("  * significant after Holm's correction over the whole comparison (p < 0.05); "
                 "~ fewer than 30 paired items; delta = other - baseline")
    return "\n".join(lines)
