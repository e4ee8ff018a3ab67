"""`harness tune` end to end on tiny-gpt2 (CPU, facts_mc, --limit 32, 6 trials): a kill -9 mid-study,
then the same command resumes the same study without redoing a finished trial, and writes tune.json
(pareto, best), tune.html and a gate policy that `harness gate` reads."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess

import pytest

from support import kill_when, run_cli, stalling_harness

KNOBS = ["--batch-sizes", "8,32", "--dtypes", "float32", "--quantize", "none,int8-dynamic", "--prune", "0,0.1",
         "--repeats", "2"]


def _trials(db) -> dict[int, str]:
    if not db.exists():
        return {}
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
            return dict(con.execute("SELECT number, state FROM trials").fetchall())
    except sqlite3.OperationalError:       # the schema is not created yet
        return {}


def _run_dirs(db) -> dict[int, str]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        rows = con.execute("SELECT t.number, a.value_json FROM trials t JOIN trial_user_attributes a "
                           "ON a.trial_id = t.trial_id WHERE a.key = 'point'").fetchall()
    return {n: json.loads(v)["run_dir"] for n, v in rows}


def test_tune_killed_mid_study_resumes_and_writes_its_outputs(tmp_path):
    out = tmp_path / "tune"
    argv = ["tune", "--model", "tiny-gpt2", "--tasks", "facts_mc", "--limit", "32", "--trials", "6", "--out", str(out),
            *KNOBS]
    stall = stalling_harness("harness.tune.trial:spec_text", after=2)   # the third measured trial stalls once drawn
    proc = subprocess.Popen([*stall, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    db = out / "tune.sqlite"
    looks: list[int | None] = []

    def stalled():                               # the same trial running on two looks half a second apart
        states = _trials(db)
        running = [n for n, s in states.items() if s == "RUNNING"]
        measured = sum(s in ("COMPLETE", "PRUNED") for s in states.values())
        looks.append(running[0] if measured == 2 and len(running) == 1 else None)
        return looks[-1] if looks[-1] is not None and looks[-2:-1] == looks[-1:] else None

    seen = kill_when(proc, stalled, seconds=600, every=0.5)   # SIGKILL: the running trial stays RUNNING
    proc.communicate()
    before = _trials(db)
    finished_before = {n for n, s in before.items() if s in ("COMPLETE", "PRUNED")}
    cut = [n for n, s in before.items() if s == "RUNNING"]
    assert len(finished_before) == 2 and cut == [seen]      # (a configuration drawn again is FAIL, not counted)
    dirs_before = _run_dirs(db)

    resumed = run_cli(*argv)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(finished_before)} of 6 trials already finished" in resumed.stdout
    assert f"trial(s) {cut[0]} were cut off" in resumed.stdout
    for n in finished_before:                  # not redone: not printed again, the same run folder
        assert f"trial {n}:" not in resumed.stdout
        assert _run_dirs(db)[n] == dirs_before[n]
    assert "measuring the full model" not in resumed.stdout     # the reference is kept too

    tune = json.loads((out / "tune.json").read_text())
    states = [t["state"] for t in tune["trials"]]
    assert states.count("fail") == 1 and tune["trials"][cut[0]]["note"].startswith("killed")
    assert sum(s in ("complete", "pruned") for s in states) == 6
    assert any(t["note"].endswith(f"retry of trial {cut[0]}") for t in tune["trials"]), tune["trials"]   # its configuration rerun
    best, full = tune["best"], tune["full"]
    assert best["feasible"] and best["floor"]["passed"]
    assert best["j_per_example"]["value"] <= full["j_per_example"]["value"]
    lo, hi = best["j_per_example"]["ci95"]
    assert lo <= best["j_per_example"]["value"] <= hi and best["j_per_example"]["repeats"] == 2
    per_correct, accuracy = best["j_per_correct"], best["quality"]["facts_mc"]["accuracy"]["value"]
    assert per_correct["examples"] == 32 and per_correct["correct"] == round(accuracy * 32)
    assert per_correct["value"] == pytest.approx(best["j_per_example"]["value"] * 32 / per_correct["correct"])
    assert best["spec"].startswith("tiny-gpt2") and best["command"].startswith("harness run --model ")
    assert tune["pareto"] and all(p["feasible"] for p in tune["pareto"])
    for point in tune["pareto"]:
        for metric in point["quality"]["facts_mc"].values():
            assert metric["n"] == 32 and len(metric["ci95"]) == 2
    assert "<svg" in (out / "tune.html").read_text()
    assert (out / "history.sqlite").exists()

    from harness.gate.policy import load_policy
    policy = load_policy(out / "tune-gate.yaml")
    assert any(r.name.startswith("facts_mc accuracy non-inferior") for r in policy.rules)
    if best["trial"] is not None:              # the policy holds the chosen configuration's own run to its floor
        gated = run_cli("gate", str(out / best["run_dir"]), "--policy", str(out / "tune-gate.yaml"),
                        "--baseline", str(out / full["run_dir"]))
        assert gated.returncode == 0, gated.stdout + gated.stderr
