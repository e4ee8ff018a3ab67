"""history.html: series labelled by model name and recipe, energy axes from zero with the interval over
repeats as a band, one-point series in a compact table."""
from __future__ import annotations

import json
import re

from run_folders import in_process, make_run

T = ["2026-11-01T10:00:00+00:00", "2026-11-08T10:00:00+00:00", "2026-11-15T10:00:00+00:00"]


def _edit(folder, change) -> None:
    data = json.loads((folder / "results.json").read_text())
    change(data)
    (folder / "results.json").write_text(json.dumps(data))


def _history(tmp_path, capsys) -> str:
    r1 = make_run(tmp_path, "r1", T[0], j_per_example=1.5)
    r2 = make_run(tmp_path, "r2", T[1], j_per_example=1.4)
    r3 = make_run(tmp_path, "r3", T[2], j_per_example=1.2)

    def repeats(data):             # r2 measured its energy over repeats: an interval
        data["models"]["tiny-gpt2"]["tasks"]["facts_mc"]["energy"]["j_per_example"].update(ci95=[1.3, 1.5], repeats=5)
    _edit(r2, repeats)
    _edit(r3, lambda d: d["models"]["tiny-gpt2"].update(recipe={"dtype": None, "quantize": None, "prune": 0.9}))
    proc = in_process(capsys, "history", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert r1.is_dir()
    return (tmp_path / "history.html").read_text(encoding="utf-8")


def _chart(html: str, title: str) -> str:
    start = html.index(f"<h3>{title}")
    return html[start:html.index("</svg>", start)]


def test_series_are_labelled_by_model_and_recipe_not_hashes(tmp_path, capsys):
    html = _history(tmp_path, capsys)
    assert "<h3>tiny-gpt2 (float32) · task facts_mc · accuracy</h3>" in html
    # the pruned recipe of r3 is an event on the model's series (issue 19), not a series of its own
    assert "<title>r3: recipe or weights changed" in _chart(html, "tiny-gpt2 (float32) · task facts_mc · accuracy")
    assert not re.search(r"<h3>[^<]*@[0-9a-f]{8}", html)                             # no hash in a title


def test_energy_charts_start_at_zero_and_draw_the_interval_band(tmp_path, capsys):
    html = _history(tmp_path, capsys)
    chart = _chart(html, "tiny-gpt2 (float32) · energy of facts_mc · j_per_example")
    ticks = re.findall(r'<text x="4" y="[^"]+">([^<]+)</text>', chart)
    assert ticks[0] == "0"
    assert chart.count('class="band energy"') == 1


def test_a_one_point_series_is_a_table_row_not_a_chart(tmp_path, capsys):
    html = _history(tmp_path, capsys)
    titles = re.findall(r"<h3>([^<]*)</h3>", html)
    assert not any("prune=0.9" in t for t in titles)
    single = html[html.index('id="single-point"'):]
    assert "not measured in any of its 3 runs" in single          # bbq s_dis: no point to draw a line through
    assert single.count("<tr>") - 1 >= 1


def test_recipe_events_and_failed_points_are_drawn_where_the_points_record_them():
    """A series that follows a model's name across recipes (points that carry ``events``, ``failed`` and
    ``recipe_text``): the change is marked on the chart, a run that scored nothing is a red cross, and
    the label names the newest recipe."""
    from dataclasses import dataclass

    from harness.history.html import labels, render_history, trend_chart
    from harness.history.trend import Point, Series

    @dataclass(frozen=True)
    class EventPoint(Point):
        failed: bool = False
        events: tuple = ()
        recipe_text: str = ""

    points = (EventPoint("r1", T[0], "a", 0.6, 0.5, 0.7, 32, "", "", "", recipe_text="tiny-gpt2 (float32)"),
              EventPoint("r2", T[1], "b", 0.12, 0.05, 0.2, 32, "", "", "", recipe_text="tiny-gpt2,prune=0.9 (float32)",
                         events=("recipe changed: tiny-gpt2 → tiny-gpt2,prune=0.9",)),
              EventPoint("r3", T[2], "c", None, None, None, 0, "not measured: no item scored", "", "", failed=True,
                         recipe_text="tiny-gpt2,prune=0.9 (float32)"))
    s = Series("tiny-gpt2/task:facts_mc/accuracy", "tiny-gpt2 task:facts_mc accuracy", "tiny-gpt2", "task", "facts_mc",
               "accuracy", points, "r1", True)
    assert labels([s], {})[s.key] == "tiny-gpt2 (float32, prune=0.9) · task facts_mc · accuracy"
    chart = trend_chart(s, {"r1": 0, "r2": 1, "r3": 2})
    assert [what for _, what in chart.events] == ["r2: recipe changed: tiny-gpt2 → tiny-gpt2,prune=0.9"]
    assert [m.failed for m in chart.markers] == [False, False, True] and chart.gaps == ()
    html = render_history([s], [{"run_id": r, "started": t, "git_sha": "", "status": "complete", "models": [],
                                 "energy_j": None, "energy_reason": "", "j_per_example": None, "energy_source": "",
                                 "gco2e": None, "carbon_reason": "", "gate_verdict": None, "gate": None}
                                for r, t in zip(("r1", "r2", "r3"), T)], None, "reports")
    assert 'class="event"' in html and "⟂ changed" in html and 'class="failed"' in html


def test_a_point_not_measured_says_so_in_words_with_its_reason():
    from harness.history.trend import Point, point_text
    p = Point("r1", "2026-11-01T10:00:00+00:00", "abc", None, None, None, None, "not measured: no disambiguated item fits", "", "")
    assert point_text(p) == "not measured: no disambiguated item fits"
    assert point_text(Point("r1", "", "", None, None, None, None, "", "", "")) == "not measured: no reason recorded"
