"""The run history: the SQLite index (one entry per run, safe under kills and concurrent writers),
series keyed by recipe and input hashes, `harness history`'s trend lines and history.html."""
from __future__ import annotations

import json
import multiprocessing
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from support import REPO, assert_one_line_error, run_cli
from run_folders import in_process, TASK_PRINT, make_run, results as make_results

from harness.history import HistoryIndex, bless, index_path, record
from harness.history.trend import build_series

T = ["2026-11-01T10:00:00+00:00", "2026-11-08T10:00:00+00:00", "2026-11-15T10:00:00+00:00", "2026-11-22T10:00:00+00:00"]
GATE = {"verdict": "fail", "policy": "gate.yaml", "policy_sha256": "0" * 64, "baseline": None, "evaluated": T[0],
        "counts": {"pass": 3, "fail": 1, "warn": 0, "skip": 0}, "rules": []}


def _accuracy_series(index: HistoryIndex, baseline=None):
    return [s for s in build_series(index.figures(), baseline, metrics=["accuracy"]) if s.scope == "task"]


def test_record_twice_is_one_entry_and_updates_the_gate_verdict(tmp_path):
    run = make_run(tmp_path, "r1", T[0])
    path = record(run)
    assert path == index_path(tmp_path.resolve())
    index = HistoryIndex(path)
    n_figures = len(index.figures())
    record(run)                                          # e.g. after --resume: the same run again
    assert [r["run_id"] for r in index.runs()] == ["r1"] and len(index.figures()) == n_figures
    assert index.runs()[0]["gate_verdict"] is None
    gated = make_results("r1", T[0], gate=GATE)          # `harness gate` wrote a verdict and calls record()
    (run / "results.json").write_text(json.dumps(gated), encoding="utf-8")
    record(run)
    (entry,) = index.runs()
    assert entry["gate_verdict"] == "fail" and json.loads(entry["gate_json"])["counts"]["fail"] == 1
    assert entry["first_recorded"] <= entry["recorded"]
    assert len(index.figures()) == n_figures


def test_index_holds_hashes_metrics_energy_and_carbon(tmp_path):
    record(make_run(tmp_path, "r1", T[0], accuracy=(0.5, 0.25, 0.75), j_per_example=1.5))
    index = HistoryIndex(index_path(tmp_path))
    (run,) = index.runs()
    assert (run["energy_j"], run["j_per_example"], run["energy_source"], run["gco2e"]) == (35.0, 0.73, "estimated", 0.0031)
    (model,) = index.models()
    assert len(model["recipe_hash"]) == 64 and model["weights_fingerprint"] is None
    rows = {(f["scope"], f["subject"], f["metric"]): f for f in index.figures()}
    acc = rows[("task", "facts_mc", "accuracy")]
    assert (acc["value"], acc["ci_lo"], acc["ci_hi"], acc["n"]) == (0.5, 0.25, 0.75, 8)
    assert acc["higher_is_better"] == 1                              # as results.json records it
    assert rows[("probe", "bbq", "accuracy_ambiguous")]["higher_is_better"] is None     # probes record none
    assert rows[("energy", "facts_mc", "j_per_example")]["higher_is_better"] is None
    assert rows[("energy", "facts_mc", "j_per_example")]["value"] == 1.5
    assert rows[("energy", "run", "gco2e")]["value"] == 0.0031
    missing = rows[("probe", "bbq", "s_dis")]                       # not measured: kept as such, never 0
    assert missing["value"] is None and missing["reason"] == "not measured: no disambiguated item fits"
    with sqlite3.connect(index.path) as con:
        assert con.execute("SELECT version FROM schema_version").fetchall() == [(3,)]
        (data_hash,) = con.execute("SELECT data_hash FROM inputs WHERE name = 'task:facts_mc'").fetchone()
    assert data_hash == TASK_PRINT["data"]


def test_a_changed_recipe_or_weights_is_an_event_on_the_models_series(tmp_path):
    """The series a periodic audit follows is the model's name: other weights or another dtype under
    the same name are events on it, named, not new series."""
    make_run(tmp_path, "r1", T[0])
    second = make_run(tmp_path, "r2", T[1])
    res = json.loads((second / "results.json").read_text())
    res["models"]["tiny-gpt2"]["weights_sha256"] = "9" * 64            # other weights under the same name
    (second / "results.json").write_text(json.dumps(res))
    third = make_run(tmp_path, "r3", T[2])
    res = json.loads((third / "results.json").read_text())
    res["models"]["tiny-gpt2"]["dtype"] = "float16"
    (third / "results.json").write_text(json.dumps(res))
    for run in ("r1", "r2", "r3"):
        record(tmp_path / run)
    (series,) = _accuracy_series(HistoryIndex(index_path(tmp_path)))
    assert [p.run_id for p in series.points] == ["r1", "r2", "r3"] and series.label == "tiny-gpt2 task:facts_mc accuracy"
    first, weights, dtype = series.points
    assert first.events == () and len(weights.events) == 1 and "recipe or weights changed" in weights.events[0]
    assert dtype.events == ("recipe changed: tiny-gpt2 (float32) → tiny-gpt2 (float16)",)
    assert [e for _, e in series.events] == [*weights.events, *dtype.events]


def _three_runs(tmp_path):
    make_run(tmp_path, "r1", T[0], accuracy=(0.50, 0.40, 0.60), j_per_example=1.5)
    make_run(tmp_path, "r2", T[1], accuracy=(0.52, 0.42, 0.62), j_per_example=1.4, gate=GATE)
    make_run(tmp_path, "r3", T[2], accuracy=(0.80, 0.72, 0.88), j_per_example=1.2, gate={**GATE, "verdict": "pass"})


def test_history_prints_the_trend_flags_a_ci_change_and_writes_html(tmp_path, capsys):
    _three_runs(tmp_path)
    proc = in_process(capsys, "history", str(tmp_path), "--metric", "accuracy", "--metric", "j_per_example")
    assert proc.returncode == 0, proc.stderr
    assert "added 3 run folders" in proc.stderr                          # folders not yet in the index are added
    (line,) = [l for l in proc.stdout.splitlines() if "task:facts_mc " in l and " accuracy:" in l]
    assert "0.5 [0.4, 0.6] → 0.52 [0.42, 0.62] → 0.8 [0.72, 0.88] ▲" in line
    assert "(3 runs; baseline r1; 1 outside the baseline CI)" in line
    assert line.startswith("tiny-gpt2 task:facts_mc accuracy: ")          # the model's name, no hashes
    (energy,) = [l for l in proc.stdout.splitlines() if "energy:facts_mc " in l]
    assert "1.5 → 1.4 → 1.2" in energy
    assert "gate: r2 fail, r3 pass" in proc.stdout
    html = (tmp_path / "history.html").read_text(encoding="utf-8")
    assert "<script" not in html and html.count("<svg") >= 2
    assert 'class="pt up"' in html and "Energy per example over time" in html
    assert '<span class="fail">fail</span>' in html and '<span class="pass">pass</span>' in html

    # --baseline: the same points compared with the last run instead
    proc = in_process(capsys, "history", str(tmp_path), "--metric", "accuracy", "--baseline", "r3", "--html", str(tmp_path / "h.html"))
    (line,) = [l for l in proc.stdout.splitlines() if "task:facts_mc " in l]
    assert "0.5 [0.4, 0.6] ▼ → 0.52 [0.42, 0.62] ▼ → 0.8 [0.72, 0.88]  (3 runs; baseline r3; 2 outside" in line
    assert (tmp_path / "h.html").is_file()


def build_hash(tmp_path) -> str:
    from harness.fingerprint import digest
    return digest(TASK_PRINT)


def test_blessed_baseline_and_filters(tmp_path, capsys):
    _three_runs(tmp_path)
    bless(tmp_path / "r2", "release-1")              # .blessed/release-1.json: the one store, gate and history read it
    proc = in_process(capsys, "history", str(tmp_path), "--metric", "accuracy", "--model", "tiny-gpt2", "--baseline", "release-1")
    assert proc.returncode == 0, proc.stderr
    assert "added 3 run folders" in proc.stderr
    (line,) = [l for l in proc.stdout.splitlines() if "task:facts_mc " in l]
    assert "0.5 [0.4, 0.6] → 0.52 [0.42, 0.62] → 0.8 [0.72, 0.88] ▲  (3 runs; baseline r2;" in line
    assert_one_line_error(in_process(capsys, "history", str(tmp_path), "--model", "tiny-gtp2"), "tiny-gpt2")
    assert_one_line_error(in_process(capsys, "history", str(tmp_path), "--baseline", "r9"), "r9")


def test_html_escapes_every_string(tmp_path, capsys):
    evil = "<script>alert(1)</script>"
    make_run(tmp_path, "r1", T[0], model=evil, task="t<b>x</b>")
    proc = in_process(capsys, "history", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    html = (tmp_path / "history.html").read_text(encoding="utf-8")
    assert "<script" not in html and "<b>x</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_bad_reports_dir_is_one_line(tmp_path, capsys):
    assert_one_line_error(run_cli("history", str(tmp_path / "nope")), "is not a folder")      # the real command line
    (tmp_path / "file").write_text("x")
    assert_one_line_error(in_process(capsys, "history", str(tmp_path / "file")), "is not a folder")
    (tmp_path / "empty").mkdir()
    assert_one_line_error(in_process(capsys, "history", str(tmp_path / "empty")), "no history index and no run folders")
    make_run(tmp_path / "damaged", "r1", T[0])
    (tmp_path / "damaged" / "history.sqlite").write_bytes(b"this is not a database" * 100)
    assert_one_line_error(in_process(capsys, "history", str(tmp_path / "damaged")), "damaged")


_TORN = textwrap.dedent("""
    import os, sys
    sys.path[:0] = [{repo!r}, {tests!r}]
    from harness.history import read_entry
    from harness.history.index import HistoryIndex
    import harness.history.index as index_module
    entry = read_entry(sys.argv[1])
    real = index_module.sqlite3.connect
    class Dying:                    # a connection whose process dies half-way through the entry's rows
        def __init__(self, con): self.con = con
        def __getattr__(self, name): return getattr(self.con, name)
        def executemany(self, sql, rows):
            if "INTO figures" in sql:
                self.con.executemany(sql, list(rows)[:3])
                os._exit(9)          # no rollback, no close: as a kill -9 leaves it
            return self.con.executemany(sql, rows)
    index_module.sqlite3.connect = lambda *a, **k: Dying(real(*a, **k))
    HistoryIndex(sys.argv[2]).upsert(entry)
""")


def test_index_survives_a_torn_write(tmp_path):
    _three_runs(tmp_path)
    record(tmp_path / "r1")
    index = HistoryIndex(index_path(tmp_path))
    before = index.figures()
    script = _TORN.format(repo=str(REPO), tests=str(REPO / "tests"))
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path / "r2"), str(index.path)], capture_output=True, text=True)
    assert proc.returncode == 9, proc.stderr
    assert index.integrity() == "ok"
    assert [r["run_id"] for r in index.runs()] == ["r1"] and index.figures() == before     # the torn entry rolled back
    record(tmp_path / "r2")
    assert [r["run_id"] for r in index.runs()] == ["r1", "r2"]


def _record_many(args):
    root, names = args
    from pathlib import Path
    for name in names:
        record(Path(root) / name)
    return len(names)


def test_concurrent_runs_do_not_corrupt_or_duplicate(tmp_path):
    names = [f"r{i:02d}" for i in range(12)]
    for i, name in enumerate(names):
        make_run(tmp_path, name, f"2026-11-{i + 1:02d}T10:00:00+00:00", accuracy=(0.5 + i / 100, 0.4, 0.7))
    # four writers at once, each also re-recording runs another writer records (a resume racing a gate)
    jobs = [(str(tmp_path), names[k::4] + names[:2]) for k in range(4)]
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        assert sum(pool.map(_record_many, jobs)) == 12 + 8
    index = HistoryIndex(index_path(tmp_path))
    assert index.integrity() == "ok"
    assert sorted(r["run_id"] for r in index.runs()) == names
    (series,) = _accuracy_series(index)
    assert [p.run_id for p in series.points] == names


@pytest.mark.slow
def test_real_runs_trend_and_changed_task_data_is_marked_on_the_line(tmp_path, capsys):
    tasks = tmp_path / "tasks"
    shutil.copytree(REPO / "tasks" / "facts_mc", tasks / "mytask")
    yaml_path = tasks / "mytask" / "task.yaml"
    yaml_path.write_text(yaml_path.read_text().replace("name: facts_mc", "name: mytask"))
    out = tmp_path / "reports"
    common = ["run", "--model", "tiny-gpt2", "--tasks", "mytask", "--tasks-dir", str(tasks), "--limit", "8",
              "--no-probes", "--no-meters", "--out", str(out)]
    first_started = time.time()
    first = in_process(capsys, *common)
    assert first.returncode == 0, first.stderr
    index = HistoryIndex(index_path(out))
    (run_a,) = index.runs()                                     # added by `harness run` itself (AFTER_RUN)
    fp = json.loads((out / run_a["run_id"] / "run.json").read_text())["fingerprints"]["task"]["mytask"]
    with sqlite3.connect(index.path) as con:
        assert con.execute("SELECT data_hash FROM inputs").fetchone()[0] == fp["data"]
    resumed = in_process(capsys, "run", "--resume", str(out / run_a["run_id"]))   # the same run again: one entry
    assert resumed.returncode == 0, resumed.stderr
    assert [r["run_id"] for r in index.runs()] == [run_a["run_id"]]
    # two more runs of the same inputs: copies of the real one with other ids, times and numbers
    for k, (run_id, acc) in enumerate((("copy-1", (0.25, 0.0, 0.5)), ("copy-2", (0.875, 0.625, 1.0)))):
        shutil.copytree(out / run_a["run_id"], out / run_id)
        res = json.loads((out / run_id / "results.json").read_text())
        res["run"].update(id=run_id, started=f"2027-01-0{k + 1}T00:00:00+00:00")
        res["models"]["tiny-gpt2"]["tasks"]["mytask"]["metrics"]["accuracy"].update(value=acc[0], ci95=list(acc[1:]))
        (out / run_id / "results.json").write_text(json.dumps(res))
    # the task's data changes (one question reworded): the same line, marked as comparability may break
    data = tasks / "mytask" / "test.jsonl"
    lines = data.read_text().splitlines()
    row = json.loads(lines[0])
    row["question"] = row["question"] + " (reworded)"
    data.write_text("\n".join([json.dumps(row)] + lines[1:]) + "\n")
    # run ids and `started` have whole seconds: two runs in one second sort by their ids' random suffix
    time.sleep(max(0.0, 1.05 - (time.time() - first_started)))
    second = in_process(capsys, *common)
    assert second.returncode == 0, second.stderr
    proc = in_process(capsys, "history", str(out), "--metric", "accuracy")
    assert proc.returncode == 0, proc.stderr
    (line,) = [l for l in proc.stdout.splitlines() if "task:mytask " in l]
    assert line.count(" → ") + 1 == 4 and "0.875 [0.625, 1]" in line
    changed = sorted(r["run_id"] for r in index.runs() if r["run_id"] not in (run_a["run_id"], "copy-1", "copy-2"))[0]
    assert f"{changed}: inputs changed (data, prompt): comparability may break" in line
    assert "copy-1: inputs changed (data, prompt): comparability may break" in line     # back to the old data


def test_a_probe_run_with_another_seed_is_a_separate_series(tmp_path):
    """robustness and word_substitution_attack perturb each item with the run's seed: another seed is
    other inputs, so its probe figures must not join the same line (the task's data is the same)."""
    from harness.history import read_entry
    make_run(tmp_path, "r1", T[0])
    second = make_run(tmp_path, "r2", T[1])
    res = json.loads((second / "results.json").read_text())
    res["run"]["seed"] = 7
    (second / "results.json").write_text(json.dumps(res))
    keys = [{f.series_key for f in read_entry(tmp_path / run).figures if f.scope == scope}
            for run in ("r1", "r2") for scope in ("probe", "task")]
    probe_1, task_1, probe_2, task_2 = keys
    assert probe_1 and not probe_1 & probe_2
    assert {k for k in task_1 if "/energy:" not in k} == {k for k in task_2 if "/energy:" not in k}


def test_one_recipe_spelt_two_ways_is_no_event_and_another_recipe_is_one(tmp_path):
    """`dtype=fp16` and `dtype=float16` are the same model: the recipe hash uses the recorded recipe."""
    def run(run_id: str, started: str, option: str, recipe: dict):
        folder = make_run(tmp_path, run_id, started)
        run_json = json.loads((folder / "run.json").read_text())
        run_json["spec"]["models"][0]["options"] = {"dtype": option}
        (folder / "run.json").write_text(json.dumps(run_json))
        res = json.loads((folder / "results.json").read_text())
        res["models"]["tiny-gpt2"]["recipe"] = recipe
        (folder / "results.json").write_text(json.dumps(res))
        record(folder)
    half = {"dtype": "float16", "quantize": None, "prune": None}
    run("r1", T[0], "fp16", half)
    run("r2", T[1], "float16", half)
    run("r3", T[2], "bfloat16", {**half, "dtype": "bfloat16"})
    (series,) = _accuracy_series(HistoryIndex(index_path(tmp_path)))
    assert [p.events for p in series.points] == [(), (), ("recipe changed: tiny-gpt2,dtype=float16 (float32) → "
                                                        "tiny-gpt2,dtype=bfloat16 (float32)",)]
