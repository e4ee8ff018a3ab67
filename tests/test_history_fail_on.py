"""`harness history --fail-on worse|changed` (a scheduled audit's CI job fails when a figure drifts),
the direction of each metric carried into the index (layout 2, and an index of layout 1 still read),
and a zero-byte index read as an empty one."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from support import assert_one_line_error
from run_folders import in_process, make_run

from harness.history import HistoryIndex, index_path, read_entry, record
from harness.history.trend import Drift, Point, Series, build_series, drifts, failing

T = ["2026-11-01T10:00:00+00:00", "2026-11-08T10:00:00+00:00", "2026-11-15T10:00:00+00:00", "2026-11-22T10:00:00+00:00"]


def _edit(folder, change) -> None:
    res = json.loads((folder / "results.json").read_text())
    change(res)
    (folder / "results.json").write_text(json.dumps(res))


def _run(root, run_id, started, accuracy, perplexity=(30.0, 28.0, 32.0), bbq=(0.45, 0.39, 0.51), exact=0.5, **kw):
    """A run with a higher-is-better metric (accuracy), a lower-is-better one (word_perplexity, as
    results.json records it), a probe metric (no direction recorded) and one without a CI."""
    folder = make_run(root, run_id, started, accuracy=accuracy, **kw)

    def change(res):
        model = next(iter(res["models"].values()))
        metrics = next(iter(model["tasks"].values()))["metrics"]
        value, lo, hi = perplexity
        metrics["word_perplexity"] = {"value": value, "stderr": 1.0, "ci95": [lo, hi], "n": 8, "higher_is_better": False}
        metrics["exact_match"] = {"value": exact, "stderr": None, "ci95": [None, None], "n": 8, "higher_is_better": True}
        value, lo, hi = bbq
        model["probes"]["bbq"]["metrics"]["accuracy_ambiguous"].update(value=value, ci95=[lo, hi])
    _edit(folder, change)
    return folder


def _drifting(root):
    """Three runs; the last one's accuracy, perplexity and bbq accuracy fall outside the first one's CI,
    exact_match (no CI) and the energy per example change tenfold."""
    _run(root, "r1", T[0], (0.80, 0.70, 0.90), j_per_example=1.5)
    _run(root, "r2", T[1], (0.78, 0.68, 0.88), j_per_example=1.4)
    _run(root, "r3", T[2], (0.50, 0.40, 0.60), perplexity=(20.0, 18.0, 22.0), bbq=(0.20, 0.15, 0.25), exact=0.05,
         j_per_example=15.0)


def _fails(stdout: str) -> dict[str, str]:
    """metric -> its FAIL line."""
    return {line.split(": ")[0].rsplit(" ", 1)[1]: line for line in stdout.splitlines() if line.startswith("FAIL ")}


def test_changed_worse_and_never_on_a_drifting_history(tmp_path, capsys):
    _drifting(tmp_path)
    never = in_process(capsys, "history", str(tmp_path))
    assert never.returncode == 0, never.stderr
    assert "FAIL" not in never.stdout and "--fail-on" not in never.stdout

    changed = in_process(capsys, "history", str(tmp_path), "--fail-on", "changed")
    assert changed.returncode == 1, changed.stdout + changed.stderr
    fails = _fails(changed.stdout)
    assert sorted(fails) == ["accuracy", "accuracy_ambiguous", "word_perplexity"]       # not exact_match, not energy
    line = fails["accuracy"]
    assert line.startswith("FAIL tiny-gpt2 task:facts_mc accuracy: ")
    assert line.endswith("accuracy: 0.5 [0.4, 0.6] ▼ in r3 vs baseline 0.8 [0.7, 0.9] in r1 (higher is better)")
    assert fails["word_perplexity"].endswith("20 [18, 22] ▼ in r3 vs baseline 30 [28, 32] in r1 (lower is better)")
    assert fails["accuracy_ambiguous"].endswith("0.2 [0.15, 0.25] ▼ in r3 vs baseline 0.45 [0.39, 0.51] in r1")
    assert changed.stdout.rstrip().splitlines()[-1].startswith("--fail-on changed: 3 of ")
    assert changed.stdout.rstrip().endswith("series failed; exit 1")
    assert (tmp_path / "history.html").is_file()                   # the page is written before the verdict

    worse = in_process(capsys, "history", str(tmp_path), "--fail-on", "worse")
    assert worse.returncode == 1
    assert sorted(_fails(worse.stdout)) == ["accuracy"]            # perplexity went down: better
    (note,) = [l for l in worse.stdout.splitlines() if l.startswith("NOT JUDGED")]
    assert "probe:bbq accuracy_ambiguous: 0.2 [0.15, 0.25] ▼ in r3" in note
    assert "record no direction" in note


def test_perplexity_going_down_passes_worse_but_fails_changed(tmp_path, capsys):
    _drifting(tmp_path)
    args = ["history", str(tmp_path), "--metric", "word_perplexity"]
    assert in_process(capsys, *args, "--fail-on", "worse").returncode == 0
    assert in_process(capsys, *args, "--fail-on", "changed").returncode == 1
    # and the other way round: perplexity up fails worse
    _run(tmp_path, "r4", T[3], (0.80, 0.70, 0.90), perplexity=(45.0, 41.0, 49.0))
    worse = in_process(capsys, *args, "--fail-on", "worse")
    assert worse.returncode == 1
    assert _fails(worse.stdout)["word_perplexity"].endswith("45 [41, 49] ▲ in r4 vs baseline 30 [28, 32] in r1 (lower is better)")


def test_accuracy_going_up_fails_changed_only(tmp_path, capsys):
    _run(tmp_path, "r1", T[0], (0.50, 0.40, 0.60))
    _run(tmp_path, "r2", T[1], (0.90, 0.82, 0.98))
    args = ["history", str(tmp_path), "--metric", "accuracy"]
    assert in_process(capsys, *args, "--fail-on", "worse").returncode == 0
    proc = in_process(capsys, *args, "--fail-on", "changed")
    assert proc.returncode == 1 and "0.9 [0.82, 0.98] ▲ in r2 vs baseline 0.5 [0.4, 0.6] in r1" in proc.stdout


def test_series_without_a_ci_never_fail(tmp_path, capsys):
    _drifting(tmp_path)
    drops = {"exact_match": "0.5 → 0.5 → 0.05", "j_per_example": "1.5 → 1.4 → 15"}      # tenfold, but no CI
    for metric, trend in drops.items():
        proc = in_process(capsys, "history", str(tmp_path), "--metric", metric, "--fail-on", "changed")
        assert proc.returncode == 0, (metric, proc.stdout)
        assert trend in proc.stdout and "FAIL" not in proc.stdout
        assert "--fail-on changed: 0 of " in proc.stdout


def test_filters_restrict_what_can_fail(tmp_path, capsys):
    _run(tmp_path, "a1", T[0], (0.80, 0.70, 0.90))
    _run(tmp_path, "a2", T[2], (0.81, 0.71, 0.91))                        # tiny-gpt2: steady
    _run(tmp_path, "b1", T[1], (0.80, 0.70, 0.90), model="other")
    _run(tmp_path, "b2", T[3], (0.30, 0.20, 0.40), model="other")         # other: drops
    base = ["history", str(tmp_path), "--fail-on", "worse"]
    assert in_process(capsys, *base).returncode == 1
    assert in_process(capsys, *base, "--model", "tiny-gpt2").returncode == 0
    proc = in_process(capsys, *base, "--model", "other")
    assert proc.returncode == 1 and list(_fails(proc.stdout)) == ["accuracy"]
    assert _fails(proc.stdout)["accuracy"].startswith("FAIL other task:facts_mc accuracy")
    assert in_process(capsys, *base, "--model", "other", "--metric", "word_perplexity").returncode == 0


def test_the_newest_runs_point_is_judged_never_an_older_one(tmp_path, capsys):
    _drifting(tmp_path)
    # the newest run did not measure accuracy: that is the finding (an older point is not judged in its place)
    _run(tmp_path, "r4", T[3], (0.5, 0.4, 0.6))
    _edit(tmp_path / "r4", lambda res: res["models"]["tiny-gpt2"]["tasks"]["facts_mc"]["metrics"]["accuracy"].update(
        value=None, ci95=[None, None], reason="the metric raised"))
    proc = in_process(capsys, "history", str(tmp_path), "--metric", "accuracy", "--fail-on", "worse")
    assert proc.returncode == 1 and "▼ in r3" not in proc.stdout.split("\nFAIL")[-1]
    assert "FAIL tiny-gpt2 task:facts_mc accuracy: not measured in the newest run r4 (the metric raised) vs baseline " \
           "0.8 [0.7, 0.9] in r1" in proc.stdout
    # a newest run that measures it again, within the baseline's CI: nothing fails
    _run(tmp_path, "r5", "2026-11-29T10:00:00+00:00", (0.79, 0.69, 0.89), perplexity=(30.0, 28.0, 32.0))
    assert in_process(capsys, "history", str(tmp_path), "--metric", "accuracy", "--fail-on", "worse").returncode == 0


def test_a_bad_fail_on_value_is_exit_2_with_a_close_match(tmp_path, capsys):
    _drifting(tmp_path)
    assert_one_line_error(in_process(capsys, "history", str(tmp_path), "--fail-on", "wrose"), "--fail-on 'wrose'", "'worse'")
    assert_one_line_error(in_process(capsys, "history", str(tmp_path), "--fail-on", "change"), "'changed'")
    assert_one_line_error(in_process(capsys, "history", str(tmp_path), "--fail-on", "xyz"), "--fail-on worse")
    assert in_process(capsys, "history", str(tmp_path), "--fail-on", "never").returncode == 0


def _point(run_id, value, lo, hi, changed="", baseline=False):
    return Point(run_id, "", "", value, lo, hi, 8, "", "", "", changed, baseline)


@pytest.mark.parametrize("higher, changed, worse", [(True, "down", True), (True, "up", False), (False, "up", True),
                                                     (False, "down", False), (None, "down", None)])
def test_drift_direction(higher, changed, worse):
    base, new = _point("r1", 0.5, 0.4, 0.6, baseline=True), _point("r2", 0.1, 0.0, 0.2, changed=changed)
    s = Series("k", "label", "m", "task", "t", "acc", (base, new), "r1", higher)
    (d,) = drifts([s])
    assert d == Drift(s, new, base) and d.worse is worse
    assert failing([d], "changed") == ([d], [])
    assert failing([d], "worse") == (([d], []) if worse else ([], [d] if worse is None else []))
    assert failing([d], "never") == ([], [])


def test_direction_comes_from_the_recorded_rows():
    rows = [{"series_key": "k", "label": "l", "model": "m", "scope": "task", "subject": "t", "metric": "acc",
             "run_id": f"r{i}", "started": T[i], "git_sha": "", "value": 0.5, "ci_lo": 0.4, "ci_hi": 0.6, "n": 8,
             "reason": "", "source": "", "unit": "", "higher_is_better": h} for i, h in enumerate((None, 1, 1))]
    assert build_series(rows)[0].higher_is_better is True                 # an old entry without one does not matter
    rows[0]["higher_is_better"] = 0                                       # recorded both ways: unknown
    assert build_series(rows)[0].higher_is_better is None
    for r in rows:
        del r["higher_is_better"]
    assert build_series(rows)[0].higher_is_better is None


# --- the index: a zero-byte file, and an index of layout 1 ------------------------------------------

def test_a_zero_byte_index_is_an_empty_one(tmp_path, capsys):
    _run(tmp_path, "r1", T[0], (0.8, 0.7, 0.9))
    path = index_path(tmp_path)
    path.touch()
    assert HistoryIndex(path).runs() == []
    proc = in_process(capsys, "history", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "damaged" not in proc.stderr and "added 1 run folder" in proc.stderr
    index = HistoryIndex(path)
    assert [r["run_id"] for r in index.runs()] == ["r1"] and index.integrity() == "ok"
    path.write_bytes(b"")                                      # and through a write (`harness run` recording itself)
    record(tmp_path / "r1")
    assert [r["run_id"] for r in HistoryIndex(path).runs()] == ["r1"]


_DIES_BEFORE_THE_SCHEMA = textwrap.dedent("""
    import os, sqlite3, sys
    con = sqlite3.connect(sys.argv[1], isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("BEGIN IMMEDIATE")
    con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    con.execute("CREATE TABLE runs (run_id TEXT PRIMARY KEY)")
    os._exit(9)                       # killed before the first write committed
""")


def test_an_index_whose_first_write_never_committed_is_an_empty_one(tmp_path, capsys):
    _run(tmp_path, "r1", T[0], (0.8, 0.7, 0.9))
    path = index_path(tmp_path)
    proc = subprocess.run([sys.executable, "-c", _DIES_BEFORE_THE_SCHEMA, str(path)], capture_output=True, text=True)
    assert proc.returncode == 9, proc.stderr
    assert path.is_file()
    proc = in_process(capsys, "history", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert [r["run_id"] for r in HistoryIndex(path).runs()] == ["r1"]


def test_a_database_that_is_not_an_index_is_still_refused(tmp_path, capsys):
    _run(tmp_path, "r1", T[0], (0.8, 0.7, 0.9))
    with sqlite3.connect(index_path(tmp_path)) as con:
        con.execute("CREATE TABLE something_else (x)")
    assert_one_line_error(in_process(capsys, "history", str(tmp_path)), "damaged", "no schema_version")


# layout 1, as harness wrote it before the direction was kept (harness/history/index.py at 675fc7c)
_V1_SCHEMA = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY, started TEXT, finished TEXT, status TEXT, git_sha TEXT, harness_version TEXT,
    run_dir TEXT, first_recorded TEXT NOT NULL, recorded TEXT NOT NULL,
    energy_j REAL, j_per_example REAL, energy_source TEXT, energy_reason TEXT,
    gco2e REAL, carbon_source TEXT, carbon_reason TEXT,
    gate_verdict TEXT, gate_json TEXT);
CREATE TABLE models (
    run_id TEXT NOT NULL REFERENCES runs(run_id), model TEXT NOT NULL, spec TEXT, dtype TEXT,
    recipe_hash TEXT NOT NULL, weights_fingerprint TEXT, PRIMARY KEY (run_id, model));
CREATE TABLE inputs (
    run_id TEXT NOT NULL REFERENCES runs(run_id), name TEXT NOT NULL, hash TEXT NOT NULL, data_hash TEXT,
    fingerprint_json TEXT, PRIMARY KEY (run_id, name));
CREATE TABLE figures (
    run_id TEXT NOT NULL REFERENCES runs(run_id), series_key TEXT NOT NULL, label TEXT NOT NULL,
    model TEXT NOT NULL, recipe_hash TEXT NOT NULL, scope TEXT NOT NULL, subject TEXT NOT NULL,
    subject_hash TEXT NOT NULL, metric TEXT NOT NULL, value REAL, ci_lo REAL, ci_hi REAL, n INTEGER,
    unit TEXT, source TEXT, reason TEXT, PRIMARY KEY (run_id, series_key));
CREATE INDEX figures_by_series ON figures (series_key);
CREATE TABLE baselines (name TEXT PRIMARY KEY, run_id TEXT NOT NULL, blessed TEXT NOT NULL);
INSERT INTO schema_version (version) VALUES (1);
"""


def _write_v1(path, *run_dirs) -> None:
    """An index of layout 1 holding these runs, written with that layout's statements."""
    con = sqlite3.connect(path)
    con.executescript(_V1_SCHEMA)
    for run_dir in run_dirs:
        entry = read_entry(run_dir)
        e = entry.energy
        con.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (entry.run_id, entry.started, entry.finished, entry.status, entry.git_sha, entry.harness_version,
                     entry.run_dir, "2026-11-01T00:00:00+00:00", "2026-11-01T00:00:00+00:00", e["energy_j"],
                     e["j_per_example"], e["source"], e["reason"], e["gco2e"], e["carbon_source"], e["carbon_reason"],
                     None, None))
        con.executemany("INSERT INTO models VALUES (?,?,?,?,?,?)",
                        [(entry.run_id, n, m["spec"], m["dtype"], m["recipe"], m["weights"]) for n, m in entry.models.items()])
        con.executemany("INSERT INTO inputs VALUES (?,?,?,?,?)",
                        [(entry.run_id, n, i["hash"], i["data"], json.dumps(i["fingerprint"])) for n, i in entry.inputs.items()])
        con.executemany("INSERT INTO figures VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        [(entry.run_id, f.series_key, f.label, f.model, f.recipe, f.scope, f.subject, f.subject_hash,
                          f.metric, f.value, f.ci_lo, f.ci_hi, f.n, f.unit, f.source, f.reason) for f in entry.figures])
    con.commit()
    con.close()


def test_an_index_of_layout_1_is_migrated_and_its_runs_re_read(tmp_path, capsys):
    _drifting(tmp_path)
    path = index_path(tmp_path)
    _write_v1(path, tmp_path / "r1", tmp_path / "r2")
    index = HistoryIndex(path)
    before = {(f["run_id"], f["series_key"]): f["value"] for f in index.figures()}     # reading migrates it
    assert len(before) > 10 and index.integrity() == "ok"
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT version FROM schema_version").fetchall() == [(3,)]
    assert {f["higher_is_better"] for f in index.figures()} == {None}           # layout 1 kept no direction
    assert index.stale_run_ids() == {"r1", "r2"}
    assert index.runs()[0]["first_recorded"] == "2026-11-01T00:00:00+00:00"

    proc = in_process(capsys, "history", str(tmp_path), "--metric", "accuracy", "--fail-on", "worse")
    assert proc.returncode == 1, proc.stdout + proc.stderr                     # the direction, re-read from r1 and r2
    assert "added 1 run folder to" in proc.stderr and "re-read 2 run folders recorded by an older index layout" in proc.stderr
    assert "accuracy: 0.5 [0.4, 0.6] ▼ in r3 vs baseline 0.8 [0.7, 0.9] in r1 (higher is better)" in proc.stdout
    assert index.stale_run_ids() == set()
    assert [r["run_id"] for r in index.runs()] == ["r1", "r2", "r3"]
    assert index.runs()[0]["first_recorded"] == "2026-11-01T00:00:00+00:00"   # re-read, still the same entry
    after = {(f["run_id"], f["series_key"]): f["value"] for f in index.figures() if f["run_id"] != "r3"}
    assert after == before


def test_a_layout_1_entry_whose_folder_is_gone_stays_and_the_newer_runs_give_the_direction(tmp_path, capsys):
    import shutil
    _drifting(tmp_path)
    path = index_path(tmp_path)
    _write_v1(path, tmp_path / "r1")
    shutil.rmtree(tmp_path / "r1")
    record(tmp_path / "r2")                       # a write (`harness run` recording itself) migrates too
    assert HistoryIndex(path).stale_run_ids() == {"r1"}
    proc = in_process(capsys, "history", str(tmp_path), "--metric", "accuracy", "--fail-on", "worse")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "▼ in r3 vs baseline 0.8 [0.7, 0.9] in r1 (higher is better)" in proc.stdout
    assert HistoryIndex(path).stale_run_ids() == {"r1"}                        # nothing to re-read it from


def test_a_newer_layout_is_refused(tmp_path, capsys):
    _run(tmp_path, "r1", T[0], (0.8, 0.7, 0.9))
    record(tmp_path / "r1")
    with sqlite3.connect(index_path(tmp_path)) as con:
        con.execute("UPDATE schema_version SET version = 99")
    assert_one_line_error(in_process(capsys, "history", str(tmp_path)), "schema version 99")


def test_a_series_the_newest_run_of_its_model_no_longer_has_is_not_judged(tmp_path, capsys):
    """A task the model's newest run no longer evaluates is history, not a finding, while another
    model's newer run in the same folder does not make a model's series stale."""
    _run(tmp_path, "r1", T[0], (0.80, 0.70, 0.90))
    _run(tmp_path, "r2", T[1], (0.50, 0.40, 0.60))                           # drops
    _run(tmp_path, "o1", T[2], (0.80, 0.70, 0.90), model="other")            # another job's run, newer
    args = ["history", str(tmp_path), "--metric", "accuracy", "--fail-on", "worse"]
    proc = in_process(capsys, *args)
    assert proc.returncode == 1 and _fails(proc.stdout)["accuracy"].startswith("FAIL tiny-gpt2 ")
    # tiny-gpt2 now runs another task only: its facts_mc series is history
    _run(tmp_path, "r3", T[3], (0.79, 0.69, 0.89), task="stories")
    proc = in_process(capsys, *args)
    assert proc.returncode == 0, proc.stdout
    assert "were not judged" in proc.stdout and "FAIL" not in proc.stdout


def test_a_new_recipe_under_the_same_name_stays_on_its_series(tmp_path, capsys):
    """It used to start a new series, and a regressed model passed: the recipe change is an event."""
    _run(tmp_path, "r1", T[0], (0.80, 0.70, 0.90))
    _run(tmp_path, "r2", T[1], (0.79, 0.69, 0.89))
    _edit(tmp_path / "r2", lambda res: res["models"]["tiny-gpt2"].update(dtype="float16"))
    proc = in_process(capsys, "history", str(tmp_path), "--metric", "accuracy", "--fail-on", "worse")
    assert proc.returncode == 0 and "were not judged" not in proc.stdout
    (line,) = [l for l in proc.stdout.splitlines() if l.startswith("tiny-gpt2 task:facts_mc accuracy")]
    assert "⟂ 0.79" in line and "r2: recipe changed: tiny-gpt2 (float32) → tiny-gpt2 (float16)" in line


def open_read_only(monkeypatch) -> None:
    """From now on SQLite opens history.sqlite read-only, as for a file or folder this user cannot write."""
    import harness.history.index as index_module
    real = sqlite3.connect
    monkeypatch.setattr(index_module.sqlite3, "connect", lambda path, **kw: real(f"file:{path}?mode=ro", uri=True, **kw))


def test_a_read_only_index_is_said_to_be_read_only_not_damaged(tmp_path, capsys, monkeypatch):
    """It read "the history index ... is damaged (attempt to write a readonly database); fix: move it
    aside": advice that throws away the blessed names and the runs whose folders are gone."""
    _run(tmp_path, "r1", T[0], (0.80, 0.70, 0.90))
    record(tmp_path / "r1")
    _run(tmp_path, "r2", T[1], (0.50, 0.40, 0.60))            # not in the index yet: history must add it
    before = index_path(tmp_path).read_bytes()
    open_read_only(monkeypatch)
    proc = in_process(capsys, "history", str(tmp_path), "--fail-on", "worse")
    assert_one_line_error(proc, "cannot be written", "read-only", "make")
    assert "damaged" not in proc.stderr and "move it aside" not in proc.stderr
    assert index_path(tmp_path).read_bytes() == before
