"""harness.history.trend and `harness history` for a periodic audit: the series is the model's name,
a changed recipe is an event on it (so a pruned variant under the same name fails `--fail-on worse`,
naming the drop and the recipe change), a run that scored nothing is a failed point, and a copied run
folder is reported, not silently dropped."""
from __future__ import annotations

import json
import shutil

from harness.history import HistoryIndex, bless, index_path
from harness.history.trend import build_series
from run_folders import in_process, make_run

T = ["2026-11-01T10:00:00+00:00", "2026-11-08T10:00:00+00:00", "2026-11-15T10:00:00+00:00", "2026-11-22T10:00:00+00:00"]


def _edit(folder, results=None, run_json=None) -> None:
    for name, change in (("results.json", results), ("run.json", run_json)):
        if change is not None:
            data = json.loads((folder / name).read_text())
            change(data)
            (folder / name).write_text(json.dumps(data))


def _pruned(folder, fraction: str = "0.9") -> None:
    def spec(run_json):
        run_json["spec"]["models"][0]["options"] = {"prune": fraction}

    def recipe(res):
        res["models"]["tiny-gpt2"]["recipe"] = {"dtype": None, "quantize": None, "prune": float(fraction)}
    _edit(folder, recipe, spec)


def test_a_pruned_variant_under_the_same_name_fails_fail_on_worse_naming_the_drop_and_the_recipe(tmp_path, capsys):
    """It said "0 of 13 series failed" and exited 0: the new recipe had started a new series."""
    release = make_run(tmp_path, "r1", T[0], accuracy=(0.594, 0.41, 0.75))
    make_run(tmp_path, "r2", T[1], accuracy=(0.60, 0.42, 0.76))
    pruned = make_run(tmp_path, "r3", T[2], accuracy=(0.125, 0.03, 0.25))
    _pruned(pruned)
    bless(release, "release")
    proc = in_process(capsys, "history", str(tmp_path), "--baseline", "release", "--fail-on", "worse")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    fail = next(line for line in proc.stdout.splitlines() if line.startswith("FAIL tiny-gpt2 task:facts_mc accuracy"))
    assert "0.125 [0.03, 0.25] ▼ in r3 vs baseline 0.594 [0.41, 0.75] in r1 (higher is better)" in fail
    assert "since the baseline: recipe changed: tiny-gpt2 (float32) → tiny-gpt2,prune=0.9 (float32)" in fail
    assert "--fail-on worse: 1 of" in proc.stdout
    (line,) = [l for l in proc.stdout.splitlines() if l.startswith("tiny-gpt2 task:facts_mc accuracy:")]
    assert "→ ⟂ 0.125 [0.03, 0.25] ▼" in line and "r3: recipe changed" in line
    series = next(s for s in build_series(HistoryIndex(index_path(tmp_path)).figures(), "r1")
                  if s.scope == "task" and s.metric == "accuracy")
    assert [p.run_id for p in series.points] == ["r1", "r2", "r3"]               # one series, the event on it
    assert series.points[2].events == ("recipe changed: tiny-gpt2 (float32) → tiny-gpt2,prune=0.9 (float32)",)


def test_changed_task_inputs_say_comparability_may_break(tmp_path, capsys):
    make_run(tmp_path, "r1", T[0], accuracy=(0.8, 0.7, 0.9))
    make_run(tmp_path, "r2", T[1], accuracy=(0.5, 0.4, 0.6), task_print={"data": "1" * 64, "prompt": "p" * 64,
                                                                         "config": "2" * 64})
    proc = in_process(capsys, "history", str(tmp_path), "--metric", "accuracy", "--fail-on", "worse")
    assert proc.returncode == 1
    fail = next(line for line in proc.stdout.splitlines() if line.startswith("FAIL"))
    assert fail.endswith("since the baseline: inputs changed (config, data): comparability may break")


def _scored_nothing(res) -> None:
    """Every output NaN: every metric not measured, 0 items scored."""
    for model in res["models"].values():
        for task in model["tasks"].values():
            task["n"], task["invalid"] = 0, {"n": task["n_expected"], "reasons": {"non-finite output": task["n_expected"]}}
            for m in task["metrics"].values():
                m.update(value=None, stderr=None, ci95=[None, None], n=0, reason="no item was scored")
        for probe in model["probes"].values():
            probe["n"] = 0
            for m in probe["metrics"].values():
                m.update(value=None, stderr=None, ci95=[None, None], n=0, reason="no item was scored")


def test_a_newest_run_that_scored_nothing_is_a_failed_point(tmp_path, capsys):
    """Every output NaN: `--fail-on worse` passed it, printing n/m."""
    make_run(tmp_path, "r1", T[0], accuracy=(0.6, 0.4, 0.75))
    nan = make_run(tmp_path, "r2", T[1])
    _edit(nan, _scored_nothing)
    for mode in ("worse", "changed"):
        proc = in_process(capsys, "history", str(tmp_path), "--metric", "accuracy", "--fail-on", mode)
        assert proc.returncode == 1, proc.stdout
        fail = next(line for line in proc.stdout.splitlines() if line.startswith("FAIL tiny-gpt2 task:facts_mc accuracy"))
        assert "FAILED (scored nothing: no item was scored) in r2 vs baseline 0.6 [0.4, 0.75] in r1" in fail
    (line,) = [l for l in proc.stdout.splitlines() if l.startswith("tiny-gpt2 task:facts_mc accuracy:")]
    assert "→ FAILED (scored nothing" in line and "1 failed" in line
    rows = [r for r in HistoryIndex(index_path(tmp_path)).figures() if r["run_id"] == "r2"]
    assert {r["failed"] for r in rows if r["scope"] != "energy"} == {1}
    assert {r["failed"] for r in rows if r["scope"] == "energy"} == {0}


def test_a_task_that_scored_none_of_its_items_is_a_failed_point_the_others_are_not(tmp_path):
    from harness.history import read_entry
    run = make_run(tmp_path, "r1", T[0])

    def one_task(res):
        task = res["models"]["tiny-gpt2"]["tasks"]["facts_mc"]
        task["n"] = 0
        task["metrics"]["accuracy"].update(value=None, stderr=None, ci95=[None, None], n=0, reason="no item was scored")
    _edit(run, one_task)
    figures = {(f.scope, f.subject, f.metric): f for f in read_entry(run).figures}
    assert figures[("task", "facts_mc", "accuracy")].failed
    assert not figures[("probe", "bbq", "accuracy_ambiguous")].failed
    assert not figures[("probe", "bbq", "s_dis")].failed            # a metric without items, its probe scored


def test_a_copied_run_folder_is_reported_not_silently_dropped(tmp_path, capsys):
    make_run(tmp_path, "r1", T[0])
    shutil.copytree(tmp_path / "r1", tmp_path / "r1-copy")
    proc = in_process(capsys, "history", str(tmp_path))
    assert proc.returncode == 0
    (warning,) = [l for l in proc.stderr.splitlines() if "copied run folder" in l]
    assert f"{tmp_path / 'r1-copy'} holds run r1, which {tmp_path / 'r1'} holds too" in warning
    assert "leaves r1-copy out" in warning
    again = in_process(capsys, "history", str(tmp_path))          # said every time, not only the first
    assert any("copied run folder" in l for l in again.stderr.splitlines())
    assert [r["run_id"] for r in HistoryIndex(index_path(tmp_path)).runs()] == ["r1"]
    shutil.rmtree(tmp_path / "r1-copy")
    quiet = in_process(capsys, "history", str(tmp_path))
    assert "copied run folder" not in quiet.stderr


def _chart(html: str, printed: str) -> str:
    start = html.index(f'</h3>\n<div class="key">{printed}</div>')
    return html[html.rindex("<h3>", 0, start):html.index("</svg>", start)]


def test_the_chart_marks_the_recipe_change_and_the_failed_point_on_the_models_line(tmp_path, capsys):
    """history.html drew one line per recipe and left a run that scored nothing as a plain gap."""
    make_run(tmp_path, "r1", T[0], accuracy=(0.594, 0.41, 0.75))
    _pruned(make_run(tmp_path, "r2", T[1], accuracy=(0.125, 0.03, 0.25)))
    _edit(make_run(tmp_path, "r3", T[2]), _scored_nothing)
    proc = in_process(capsys, "history", str(tmp_path), "--metric", "accuracy")
    assert proc.returncode == 0, proc.stderr
    html = (tmp_path / "history.html").read_text(encoding="utf-8")
    assert html.count('</h3>\n<div class="key">tiny-gpt2 task:facts_mc accuracy</div>') == 1   # one chart: the name
    chart = _chart(html, "tiny-gpt2 task:facts_mc accuracy")
    assert chart.count('<line class="event"') == 2                           # r2 pruned, r3 back to the recipe
    assert "<title>r2: recipe changed: tiny-gpt2 (float32) → tiny-gpt2,prune=0.9 (float32)</title>" in chart
    assert chart.count('class="failed"') == 1
    assert "<title>r3: FAILED (scored nothing: no item was scored)</title>" in chart
    assert "<td>r3</td><td class=\"fail\">FAILED (scored nothing: no item was scored)</td>" in html
    assert "<td>r2</td><td>recipe changed: tiny-gpt2 (float32) → tiny-gpt2,prune=0.9 (float32)</td>" in html
    assert "separate lines" not in html
