"""report.html: the verdict first, numbers rounded, hidden characters shown, charts that read well,
and a page that stays small and escaped with 30 tasks x 5 models (hand-built results)."""
from __future__ import annotations

import re

import pytest

from harness.probes.perturbations import perturb
from harness.report import render_html
from harness.report.charts import forest, pareto, scatter
from harness.report.numbers import nice_ticks, pvalue, sig, tick_label
from harness.report.text import has_hidden, reveal, revealed
from harness.report.timeline import Band, build_timeline, layout_labels
from harness.report.view import count, pick_examples, size
from report_synthetic import NO_CARBON, PAYLOADS, synthetic, telemetry


# --- pure functions -------------------------------------------------------------------------------

def test_reveal_spells_out_zero_width_bidi_and_homoglyphs():
    assert revealed("a\u200bb\u200cc\u200dd\u2060e\ufeff") == "a⟨ZWSP⟩b⟨ZWNJ⟩c⟨ZWJ⟩d⟨WJ⟩e⟨BOM⟩"
    assert revealed("the crow \u202esay\u202c? \u2067x\u2069\u200f") == "the crow ⟨U+202E⟩say⟨U+202C⟩? ⟨U+2067⟩x⟨U+2069⟩⟨U+200F⟩"
    assert revealed("w\u0430s spi\u0441y") == "w⟨Cyrillic а⟩s spi⟨Cyrillic с⟩y"
    assert revealed("\u039fn the menu") == "⟨Greek Ο⟩n the menu"
    # a word replaced letter by letter in Latin text is marked; real Cyrillic text is not
    assert revealed("they \u0455\u0430\u0443 hello") == "they ⟨Cyrillic ѕ⟩⟨Cyrillic а⟩⟨Cyrillic у⟩ hello"
    assert revealed("Привет, мир") == "Привет, мир" and not has_hidden("Привет, мир")
    assert revealed("plain text\nwith\ttabs") == "plain text\nwith\ttabs" and reveal(None)[0].text == ""
    marked = [s for s in reveal("a\u200bb\u0430") if s.kind]
    assert [s.kind for s in marked] == ["invisible", "homoglyph"]
    assert marked[0].title == "U+200B ZERO WIDTH SPACE" and "CYRILLIC SMALL LETTER A" in marked[1].title


@pytest.mark.parametrize("name", ["homoglyphs", "zero_width", "bidi"])
def test_every_invisible_perturbation_of_the_probe_is_made_visible(name):
    text = "Apparently the menu was too spicy again, so we ordered soup."
    perturbed = perturb(name, text, 0.5, seed=3)
    assert perturbed != text and has_hidden(perturbed)
    plain = "".join(s.text for s in reveal(perturbed) if not s.kind)
    assert all(ch.isascii() for ch in plain)       # nothing invisible or look-alike is left unmarked


def test_numbers_are_rounded_for_reading():
    assert [sig(v) for v in (0.42959050784338615, 1.2641, 53.90294, 0.000123456, -0.0504, 100.0, 0)] == \
        ["0.43", "1.26", "53.9", "0.000123", "-0.0504", "100", "0"]
    assert sig(None) == "—" and sig(float("nan")) == "—"
    assert [count(2643200), count(22.7e6), count(0)] == ["2.64M", "22.7M", "—"]
    assert [size(6.06e8), size(512), size(None)] == ["578 MiB", "512 B", "—"]
    assert [pvalue(p) for p in (0.42959050784338615, 0.051, 0.0032, 0.0009999, 1.0, None)] == \
        ["0.43", "0.051", "0.0032", "<0.001", "1.00", "—"]


@pytest.mark.parametrize("lo, hi, expected", [(0, 9.5, [0, 5, 10]), (0, 28, [0, 10, 20, 30]), (0, 1.1, [0, 0.5, 1.0, 1.5]),
                                              (0, 2385, [0, 1000, 2000, 3000]), (-0.12, 0.05, [-0.2, -0.1, 0, 0.1])])
def test_nice_ticks_use_round_steps(lo, hi, expected):
    ticks = nice_ticks(lo, hi, 4)
    assert ticks == pytest.approx(expected)
    assert ticks[0] <= lo and ticks[-1] >= hi
    labels = [tick_label(t, ticks) for t in ticks]
    assert all(len(label) <= 5 for label in labels), labels


def test_timeline_labels_never_overlap_and_every_window_is_numbered():
    # 40 windows crowded near 0 s (what made labels unreadable) and a few long ones
    bands = [Band(60 + i * 1.5, 61 + i * 1.5, f"model-{i % 5} · task_{i:02d}", "task", i + 1) for i in range(40)]
    bands += [Band(200 + 150 * k, 340 + 150 * k, f"model-0 · probe robustness_{k}", "probe", 41 + k) for k in range(4)]
    labels = layout_labels(bands, right=888)
    for lane in {lab.lane for lab in labels}:
        spans = sorted((lab.x, lab.x + len(lab.text) * 5.6) for lab in labels if lab.lane == lane)
        assert all(a[1] < b[0] for a, b in zip(spans, spans[1:])), spans
    assert all(lab.x + len(lab.text) * 5.6 <= 888 for lab in labels)
    assert len({lab.number for lab in labels}) == len(labels)
    assert any(lab.text.endswith("robustness_0") for lab in labels)      # long windows get their full name


def test_timeline_bands_every_task_and_probe_and_shades_throttling():
    rows = telemetry(models=("full", "fp16"), n_tasks=30)
    tl = build_timeline(rows)
    assert len(tl.windows) == 2 * (30 + 2)
    assert [b.number for b in tl.windows] == list(range(1, 65))
    assert {b.kind for b in tl.windows} == {"task", "probe"}
    titles = [c.title for c in tl.charts]
    assert titles == ["GPU 0 power", "GPU 0 SM clock", "GPU 0 temperature", "CPU power, whole machine (rapl)"]
    power = tl.charts[0]
    assert power.throttled and all(b.label == "sw_thermal_slowdown" for b in power.throttled)
    assert [label for _, label in power.y_ticks] == ["0", "100", "200", "300"]
    assert power.labels and not tl.charts[1].labels                      # labels above the first chart only
    assert [label for _, label in power.x_ticks] == ["0 s", "50 s", "100 s", "150 s"]


def test_pareto_front_and_charts():
    assert pareto([(1.0, 0.8), (2.0, 0.9), (3.0, 0.85), (1.5, 0.7)]) == [0, 1]
    assert pareto([(1.0, 0.3), (2.0, 0.2)], higher_is_better=False) == [0, 1]
    chart = scatter("t", [{"label": "a", "x": 1.0, "y": 0.8, "ci": [0.7, 0.9], "color": "#000"},
                          {"label": "b", "x": 3.0, "y": 0.6, "ci": None, "color": "#111"}], "J per example", "accuracy")
    assert [p.on_front for p in chart.points] == [True, False]
    assert chart.points[0].x < chart.points[1].x and chart.points[0].y < chart.points[1].y   # SVG y grows downwards
    f = forest("f", [{"label": "gender", "value": -0.02, "ci": [-0.04, 0.0], "significant": True},
                     {"label": "names", "value": None}], "shift")
    assert len(f.rows) == 1 and f.rows[0].significant and f.notes == ["names"]
    assert f.rows[0].lo < f.rows[0].x < f.rows[0].hi and f.zero is not None


def test_examples_show_failures_first():
    records = [{"id": str(i), "index": i, "scores": {"accuracy": float(i % 3 != 0)}} for i in range(12)]
    records.append({"id": "bad", "index": 12, "invalid": "non-finite logits", "scores": {}})
    rows = pick_examples(records, "accuracy", failed=5, sample=2)
    assert [r["status"] for r in rows] == ["invalid", "wrong", "wrong", "wrong", "wrong", "correct", "correct"]
    assert [r["id"] for r in rows[1:5]] == ["0", "3", "6", "9"]
    bleu = [{"id": str(i), "index": i, "scores": {"bleu": s}} for i, s in enumerate([100.0, 12.0, 55.0, 100.0])]
    assert [r["id"] for r in pick_examples(bleu, "bleu", failed=5, sample=1)] == ["1", "2", "0"]


# --- the page -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def big_page():
    results = synthetic(n_tasks=30)
    records = [{"model": m, "task": f"task_{t:02d}", "id": f"{t}-{i}", "index": i, "input": f"Question {i} {PAYLOADS[i % 3]}",
                "prediction": PAYLOADS[(i + 1) % 3] if i % 4 == 0 else "caw", "reference": "caw",
                "scores": {"accuracy": 0.0 if i % 4 == 0 else 1.0}}
               for m in results["models"] for t in range(30) for i in range(20)]
    return results, render_html(results, records, telemetry(models=tuple(results["models"]), n_tasks=30))


def test_big_report_is_small_escaped_and_ordered(big_page):
    results, html = big_page
    assert len(html.encode()) < 3_000_000
    assert "<script" not in html and "<img" not in html and "<svg onload" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;img src=x onerror=alert(2)&gt;" in html
    # the verdict comes first, then the models table, the quality table, the charts, the timeline, the environment
    order = [html.index(s) for s in ('id="verdict"', "Gate: FAIL", 'id="summary"', 'id="quality"', 'id="comparison"',
                                     'id="charts"', 'id="timeline"', 'id="models"', 'id="environment"')]
    assert order == sorted(order)
    assert html.index("no regression") < html.index("accuracy floor")      # failing rules first
    assert html.count(NO_CARBON) == 1                                       # a not-measured reason is said once
    assert "0.42959050784338615" not in html and "0.43" in html
    assert "⟨ZWSP⟩" in html and "⟨U+202E⟩" in html and "⟨Cyrillic о⟩" in html
    assert "\u200b" not in html and "\u202e" not in html                   # no raw bidi override reaches the page
    assert "@media print" in html and "http://" not in html.replace("http://www.w3.org", "")


def test_big_report_shows_comparison_deltas_and_flips(big_page):
    results, html = big_page
    quality = html[html.index('id="quality"'):html.index('id="probes"')]
    assert quality.count('class="delta worse"') == 4 and quality.count(" ▼</span></span>") == 4         # task_00 accuracy: significantly worse for each of the 4 other models
    assert "p<sub>Holm</sub> 0.004" in quality and "p<sub>Holm</sub> 1.00" in quality
    comparison = html[html.index('id="comparison"'):html.index('id="charts"')]
    assert comparison.count("1 fixed") == 4 and comparison.count("6 broken") == 4
    assert comparison.index(">broken<") < comparison.index(">fixed</span></td>")    # broken items listed first
    assert "×0.939" in comparison                                          # J/example ratio fp16/full
    assert "peak memory is only recorded on CUDA" in html


def test_subgroup_table_rounds_p_values_and_marks_holm(big_page):
    _, html = big_page
    probe = html[html.index("full · probe counterfactual <span class=\"src\">"):]
    probe = probe[:probe.index("</details>")]
    holm = re.findall(r'<td class="num( better)?"><span title="Holm-corrected across subgroups"[^>]*>([^<]*)<', probe)
    assert holm == [("", "1.00"), ("", "0.11"), (" better", "0.021"), (" better", "0.0067")]   # marked when < 0.05
    assert re.findall(r'<span title="uncorrected">([^<]*)<', probe) == ["0.43", "0.054", "0.016", "0.0067"]


def test_energy_not_measured_is_said_instead_of_plotting_zeros():
    results = synthetic(n_tasks=2, models=("a", "b"))
    reason = "meters were turned off (--no-meters)"
    for info in results["models"].values():
        for task in info["tasks"].values():
            task["energy"]["j_per_example"] = {"value": None, "unit": "J/example", "source": "not_measured", "reason": reason}
    html = render_html(results, [])
    charts = html[html.index('id="charts"'):html.index("Energy by task")]
    assert "<circle" not in charts and f"not measured: {reason}" in charts


def test_minimal_results_still_render():
    results = {"schema_version": "2.0", "run": {"id": "r", "status": "complete", "started": "s", "finished": "f", "seed": 1, "harness_version": "0",
                       "git_sha": None},
               "environment": {"python": "3", "torch": "2", "transformers": "5", "cpu": "c", "gpus": []},
               "models": {"m": {"kind": "k", "spec": "s", "parameters": 1, "device": "cpu", "dtype": "float32", "skipped": {},
                                "tasks": {"t": {"kind": "generate", "n": 1, "n_expected": 1, "complete": True,
                                                "metrics": {"bleu": {"value": 1.0, "stderr": 0.0, "ci95": [1, 1]}}}}}}}
    html = render_html(results, [])
    assert "Run complete" in html and "No release gate" in html and "bleu" in html


def test_a_passing_gate_heads_the_page_and_its_absence_says_so():
    results = synthetic(n_tasks=2, models=("a", "b"))
    results["gate"] = {"verdict": "pass", "counts": {"pass": 4, "fail": 0, "warn": 1, "skip": 0}, "rules": []}
    html = render_html(results, [])
    assert 'class="verdict pass"' in html and "Gate: PASS" in html and "<th>rule</th>" not in html
    del results["gate"]
    html = render_html(results, [])
    assert "Gate:" not in html and "No release gate was applied" in html


def test_a_metric_one_model_does_not_report_is_n_a_with_the_reason_not_none():
    """Two models of one probe with different metrics (robustness on different tasks): the cell of the
    metric a model lacks read "None", then a bare "—"; it says n/a, and a note says why."""
    import results_builder as rb
    results = rb.results("r", {
        "a": rb.model(probes={"robustness": rb.probe("robustness", {"fail_rate": rb.metric(0.2),
                                                                   "facts_mc.worst_case_accuracy": rb.metric(0.1)})}),
        "b": rb.model(kind="encoder", probes={"robustness": rb.probe("robustness", {
            "fail_rate": rb.metric(0.1), "topic.worst_case_accuracy": rb.metric(0.8)})})})
    html = render_html(results, [])
    assert ">None<" not in html and '<span title="">—</span>' not in html
    assert html.count('<span class="nm">n/a<sup class="note">') == 2
    assert "n/a: b did not run facts_mc, so probe robustness has no facts_mc.worst_case_accuracy for it" in html
    assert "n/a: a did not run topic, so probe robustness has no topic.worst_case_accuracy for it" in html
