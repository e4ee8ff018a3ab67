"""report.html: one self-contained page (inline CSS and SVG, no scripts, no external assets).
Jinja2 autoescaping is on for every value, so model outputs and dataset strings cannot inject
markup; invisible characters and homoglyphs in them are spelt out (harness.report.text). The same
holds for the sections plugins add (harness.report.sections): they return plain data, never HTML."""
from __future__ import annotations

from typing import Sequence

import jinja2

import harness.report.sections as sections
import harness.report.view as view
from harness.report.numbers import pvalue, sig
from harness.report.text import reveal
from harness.report.timeline import build_timeline, duration_text
from harness.results.reading import as_results
from harness.results.types import Results

ENV = jinja2.Environment(loader=jinja2.PackageLoader("harness.report", "templates"),
                          autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
                          undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
ENV.filters["num"] = sig
ENV.filters["p"] = pvalue
ENV.globals["reveal"] = reveal
ENV.globals["duration_text"] = duration_text
ENV.globals["zip"] = zip


def render_html(results: Results | dict, records: Sequence[dict], telemetry: Sequence[dict] = ()) -> str:
    """The page; the REPORT_SECTIONS plugins' sections (harness.report.sections) come after the built-in
    ones, each given a read-only view of results.json as written."""
    results = as_results(results)
    page = view.build(results, records, build_timeline(list(telemetry)))
    return ENV.get_template("report.html.j2").render(page=page, results=results,
                                                       sections=sections.collect(results.to_json()))
