"""report.html's cost table beside a comparison: the model's own memory is the headline row, and the
process's peak memory is labelled as such (int8 once read x1.17, "1.02e+03 MiB", on a page that said
3.4 MiB against 10.1 MiB for the models themselves)."""
from __future__ import annotations

import re

import results_builder as rb
from harness.compare.cost import cost
from harness.report import render_html
from report_synthetic import synthetic


def _model(memory: int, peak: float):
    return rb.model(peak_memory=rb.figure(peak, "bytes", "process peak RSS since the model started loading"),
                    size={"memory": {"value": memory, "unit": "bytes"}})


def test_the_report_leads_the_cost_table_with_the_models_own_memory():
    results = synthetic(n_tasks=1, models=("full", "int8"))
    c = cost(_model(10_572_800, 876e6), _model(3_529_472, 1_024e6), [])
    results["comparison"] = rb.comparison({"int8": {"cost": c}}, baseline="full", source="run").to_json()
    html = render_html(results, [])
    table = html[html.index("<th>cost</th>"):]
    table = table[:table.index("</table>")]
    rows = re.findall(r"<tr><td>([^<]*)</td>", table)
    assert rows[0] == "model memory (parameters and buffers)"
    assert "process peak memory" in rows and "peak memory" not in rows
    first = table[table.index(rows[0]):]
    first = first[:first.index("</tr>")]
    assert "10.1 MiB" in first and "3.37 MiB" in first and "×0.334" in first
