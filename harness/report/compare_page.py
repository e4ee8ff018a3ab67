"""compare.html: the page `harness compare RUN_A RUN_B ...` writes beside its JSON, with the comparison
views of the run report (harness.report.view): the models side by side with their energy and
headline metrics, the quality and probe tables with each delta against the baseline, the comparison
per model (flipped items, cost, relative deltas), quality against energy and energy by piece on one
scale. Self-contained like report.html (inline CSS and SVG, no script, autoescaped).

The page is written only where the harness may write: never into a run folder, never onto a file
that is not an earlier compare.html (``check_target``)."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

from harness.errors import HarnessError
from harness.report.html import ENV
from harness.report.numbers import sig
from harness.report.timeline import build_timeline
from harness.results.comparison import Comparison
from harness.results.types import Results

GENERATOR = '<meta name="generator" content="harness compare">'
RUN_MARKERS = ("results.json", "run.json", "samples.jsonl")


def html_path(json_out: Path) -> Path:
    """compare.json -> compare.html beside it (any other name: NAME.html)."""
    return json_out.with_suffix(".html") if json_out.suffix else json_out.with_name(json_out.name + ".html")


def check_target(path: Path, runs: list[Path]) -> None:
    """Refuses a page that would land in a run folder, or on a file the harness did not write."""
    folder = path.resolve().parent
    if any(folder == Path(run).resolve() for run in runs) or any((folder / m).is_file() for m in RUN_MARKERS):
        raise HarnessError(f"{path} would be written into the run folder {folder}",
                           "write the comparison elsewhere, e.g. --json compare.json in another folder")
    if path.is_dir():
        raise HarnessError(f"{path} is a folder", "pass --json FILE.json; the page goes beside it as FILE.html")
    if path.exists():
        try:
            head = path.read_text(encoding="utf-8", errors="replace")[:4000]
        except OSError as exc:
            raise HarnessError(f"cannot read {path} ({exc.strerror})", "pass another --json FILE.json") from None
        if GENERATOR not in head:
            raise HarnessError(f"{path} exists and was not written by harness compare; it is left as it is",
                               "move it away, or pass another --json FILE.json (the page goes beside it as FILE.html)")


def _run_rows(comparison: Comparison, results: Mapping[str, Results]) -> list[dict]:
    rows = []
    for key, ref in comparison.runs.items():
        r = results.get(key)
        ci = r.energy.carbon_intensity if r is not None and r.energy is not None else None
        rows.append({"key": key, "run_id": ref.run_id, "model": ref.model, "dir": ref.dir or "",
                     "status": r.run.status if r is not None else "", "started": (r.run.started or "") if r is not None else "",
                     "carbon": f"{sig(ci.g_per_kwh)} g/kWh ({ci.source})" if ci is not None and ci.g_per_kwh is not None
                     else "not given"})
    return rows


def render_compare(comparison: Comparison, results: Mapping[str, Results], created: str = "") -> str:
    """``results``: each key of ``comparison.runs`` -> the results of the run it names (its model among them)."""
    import harness.report.view as view
    baseline = results[comparison.baseline]
    models = {key: results[key].models[ref.model] for key, ref in comparison.runs.items() if key in results}
    merged = baseline.model_copy(update={"models": models, "comparison": comparison, "gate": None})
    page = view.build(merged, [], build_timeline([]), per_model=False)
    return ENV.get_template("compare.html.j2").render(page=page, results=merged, runs=_run_rows(comparison, results),
                                                     created=created, generator=GENERATOR)
