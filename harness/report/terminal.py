"""The summary table printed at the end of a run and by `harness show`."""
from __future__ import annotations


def _cells(m: dict) -> tuple[str, str, str]:
    fmt = lambda v, spec: "—" if v is None else format(v, spec)  # noqa: E731
    return fmt(m.get("value"), ".4g"), fmt(m.get("stderr"), ".2g"), f"[{fmt(m['ci95'][0], '.4g')}, {fmt(m['ci95'][1], '.4g')}]"


def summary_table(results: dict) -> str:
    rows = [("model", "task", "n", "metric", "value", "± stderr", "95% CI")]
    for model, info in results["models"].items():
        for task, result in info["tasks"].items():
            n = f"{result['n']}" + ("" if result.get("complete", True) else f"/{result['n_expected']}")
            for metric, m in result["metrics"].items():
                rows.append((model, task, n, metric, *_cells(m)))
        for probe, result in info.get("probes", {}).items():
            for metric, m in result["metrics"].items():
                rows.append((model, f"probe:{probe}", str(result["n"]), metric, *_cells(m)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for model, info in results["models"].items():
        by_reason: dict[str, list[str]] = {}
        for task, reason in info.get("skipped", {}).items():
            by_reason.setdefault(reason, []).append(task)
        for reason, tasks in by_reason.items():
            lines.append(f"skipped for {model}: {', '.join(tasks)} ({reason})")
    status = results["run"]["status"]
    lines.append(f"run {results['run']['id']}: {status}")
    return "\n".join(lines)
