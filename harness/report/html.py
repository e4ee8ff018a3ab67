"""report.html: one self-contained page (inline CSS, no scripts or external assets). Jinja2
autoescaping is on for every value, so model outputs and dataset strings cannot inject markup."""
from __future__ import annotations

from typing import Sequence

import jinja2

from harness.report.timeline import build_charts

_ENV = jinja2.Environment(loader=jinja2.PackageLoader("harness.report", "templates"),
                          autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
                          undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_ENV.filters["num"] = lambda v, digits=4: f"{v:.{digits}g}" if isinstance(v, (int, float)) else "—"


def render_html(results: dict, records: Sequence[dict], telemetry: Sequence[dict] = (), examples_per_task: int = 5) -> str:
    samples: dict[tuple[str, str], list[dict]] = {}
    for record in sorted(records, key=lambda r: r.get("index", 0)):
        bucket = samples.setdefault((record["model"], record["task"]), [])
        if len(bucket) < examples_per_task:
            bucket.append(record)
    return _ENV.get_template("report.html.j2").render(results=results, samples=samples,
                                                      charts=build_charts(list(telemetry)))
