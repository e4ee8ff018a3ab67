"""The built-in report sections. They join REPORT_SECTIONS exactly as a plugin does (an entry point in
harness's pyproject.toml) and see only what a plugin sees: the read-only results and the public registries."""
from __future__ import annotations

from typing import Any, Mapping, Optional

from harness.plugins import METRICS
from harness.report.sections import Section, Table


def metric_definitions(results: Mapping[str, Any]) -> Optional[Section]:
    """What each metric of the quality table measures, and which way is better."""
    used: dict[str, dict[str, Any]] = {}          # metric -> {"tasks": [...], "higher": bool | None}
    for info in (results.get("models") or {}).values():
        for task, result in (info.get("tasks") or {}).items():
            for metric, m in ((result or {}).get("metrics") or {}).items():
                entry = used.setdefault(metric, {"tasks": [], "higher": None})
                if task not in entry["tasks"]:
                    entry["tasks"].append(task)
                if isinstance(m, Mapping) and isinstance(m.get("higher_is_better"), bool):
                    entry["higher"] = m["higher_is_better"]
    if not used:
        return None
    rows = []
    for metric, entry in used.items():
        if metric in METRICS:
            cls = METRICS.get(metric)
            definition = getattr(cls, "description_", "") or METRICS.describe(metric)
            higher = entry["higher"] if entry["higher"] is not None else getattr(cls, "higher_is_better", None)
        else:
            definition, higher = "computed by the task kind (not a registered metric)", entry["higher"]
        direction = "higher is better" if higher else "lower is better" if higher is False else "not recorded"
        tasks = entry["tasks"]
        rows.append((metric, direction, definition,
                     ", ".join(tasks) if len(tasks) <= 6 else f"{', '.join(tasks[:5])}, … ({len(tasks)} tasks)"))
    return Section("Metric definitions", ("What each metric of the quality table measures (from the metric registry: "
                                          "`harness list metrics`).",),
                   Table(("metric", "direction", "definition", "tasks"), tuple(rows)))
