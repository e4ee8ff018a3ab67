"""The measurement protocol (harness.protocol, harness.meters.repeats): repeats after a warm-up pass,
quality computed once and checked, windows lengthened to --min-measure-s, per-repeat figures with
their mean, 95% interval and coefficient of variation, and resume."""
from __future__ import annotations

import json
import math
import os
import statistics
import subprocess

import pytest

from support import kill_when, run_cli, stalling_harness
from harness.meters.repeats import by_repeat, measurement, repeat_stats
from harness.protocol import MAX_PASSES, differs, lengthen
from run_folders import in_process

FAKE = "py:fake_models:ShortestChoice"


def test_repeat_stats_by_hand():
    values = [10.0, 11.0, 9.0, 10.5, 9.5]
    stats = repeat_stats(values)
    sd = statistics.stdev(values)                                # 0.7906
    half = 2.7764451 * sd / math.sqrt(5)                         # t(0.975, 4)
    assert stats.mean == pytest.approx(10.0) and stats.stdev == pytest.approx(sd)
    assert stats.ci95 == pytest.approx((10.0 - half, 10.0 + half), rel=1e-6)
    assert stats.cv == pytest.approx(sd / 10.0)
    one = repeat_stats([3.0])
    assert one.ci95 is None and one.cv is None and one.n == 1


def test_outputs_are_compared_on_the_prediction_and_every_score():
    stored = {"prediction": "a", "scores": {"accuracy": 1, "loglik": -3.0000}}
    assert not differs(stored, {"prediction": "a", "scores": {"accuracy": 1, "loglik": -3.00002}})   # float32 padding
    assert differs(stored, {"prediction": "b", "scores": stored["scores"]})
    assert differs(stored, {"prediction": "a", "scores": {"accuracy": 0, "loglik": -3.0}})
    assert differs(stored, {"prediction": "a", "scores": {"accuracy": 1, "loglik": -3.1}})
    assert differs(stored, {**stored, "invalid": "nan"})


class _Window:
    def __init__(self, per_pass: float, examples: int = 4):
        self.t, self.per_pass = per_pass, per_pass
        self.attrs = {"examples": examples}

    def elapsed(self):
        return self.t


def test_a_short_window_repeats_its_work_until_it_lasts_the_minimum():
    w = _Window(0.12)

    def replay(window):
        window.t += window.per_pass
        window.attrs["examples"] += 4
        return 0
    lengthen(w, 0.5, replay)
    assert w.attrs["passes"] == 5 and w.attrs["examples"] == 20 and w.t >= 0.5     # 0.12 x 5 = 0.6 s
    assert "short_of_min" not in w.attrs
    idle = _Window(0.0, examples=0)
    lengthen(idle, 0.5, replay)                         # nothing was computed: nothing to repeat
    assert "passes" not in idle.attrs
    stuck = _Window(0.0)
    lengthen(stuck, 0.5, lambda window: 0)              # work that takes no time stops at the cap, and says so
    assert stuck.attrs["passes"] == MAX_PASSES and stuck.attrs["short_of_min"] is True


def test_a_fast_piece_reaches_the_minimum_and_a_capped_window_is_said():
    """A piece of 0.24 ms a pass reaches 0.25 s (the cap was 1000 passes: it stopped at 0.244 s, unsaid; the full
    suite's test_min_measure_s_... failed on an idle machine); one stopped by the cap is counted."""
    fast = _Window(2 ** -12)                             # 0.24 ms a pass, exact in binary

    def replay(window):
        window.t += window.per_pass
        return 0
    lengthen(fast, 0.25, replay)
    assert fast.t >= 0.25 and fast.attrs["passes"] == 1024 and "short_of_min" not in fast.attrs
    windows = [{"kind": "task", "name": "a", "passes": 1500}, {"kind": "task", "name": "b", "passes": MAX_PASSES,
                                                                "short_of_min": True}]
    m = measurement(windows, 0, windows, 0.3)
    assert m["lengthened_windows"] == 2 and m["short_windows"] == 1
    assert "1 of them stopped at the cap on passes before lasting --min-measure-s" in m["note"]
    assert "short_windows" not in measurement(windows[:1], 0, windows[:1], 0.3)


def test_a_repeat_missing_a_piece_is_left_out():
    windows = [{"kind": "task", "model": "m", "name": t, "repeat": k, "completed": True} for k in (1, 2, 3) for t in "ab"]
    windows = [w for w in windows if not (w["repeat"] == 3 and w["name"] == "b")]
    windows.append({"kind": "task", "model": "m", "name": "a", "repeat": 0})
    windows.append({"kind": "task", "model": "m", "name": "b", "repeat": 2, "completed": False})
    assert list(by_repeat(windows)) == [1, 2]


def _windows(run_dir):
    return [json.loads(line) for line in (run_dir / "windows.jsonl").read_text().splitlines()]


def _quality(results: dict, model: str) -> dict:
    return {t: {m: (v["value"], v["ci95"]) for m, v in r["metrics"].items()}
            for t, r in results["models"][model]["tasks"].items()}


def test_repeats_give_each_figure_a_mean_an_interval_and_a_cv(tmp_path, capsys):
    args = ("--model", FAKE, "--tasks", "facts_mc,toylang", "--limit", "6", "--no-probes", "--no-progress")
    once = in_process(capsys, "run", *args, "--out", str(tmp_path / "once"))
    proc = in_process(capsys, "run", *args, "--repeats", "3", "--out", str(tmp_path / "rep"))
    assert once.returncode == 0 and proc.returncode == 0, proc.stderr
    (run_dir,) = (tmp_path / "rep").glob("2*")
    results = json.loads((run_dir / "results.json").read_text())
    plain = json.loads(next((tmp_path / "once").glob("2*/results.json")).read_text())
    model = "py:fake_models:ShortestChoice"
    assert _quality(results, model) == _quality(plain, model)          # quality computed once, the same
    tasks = [w for w in _windows(run_dir) if w["kind"] == "task"]
    assert sorted((w["name"], w["repeat"]) for w in tasks) == [(t, k) for t in ("facts_mc", "toylang") for k in range(4)]
    assert all(w["examples"] == 6 and w["outputs_differing"] == 0 for w in tasks if w["repeat"] >= 1)
    for task in ("facts_mc", "toylang"):
        energy = results["models"][model]["tasks"][task]["energy"]
        jpe = energy["j_per_example"]
        mine = [w for w in tasks if w["name"] == task and w["repeat"] >= 1]
        assert jpe["repeats"] == 3 and len(jpe["per_repeat"]) == 3
        assert jpe["value"] == pytest.approx(statistics.fmean(jpe["per_repeat"]))
        assert jpe["ci95"][0] <= jpe["value"] <= jpe["ci95"][1] and jpe["cv"] >= 0
        spe = energy["s_per_example"]
        assert spe["per_repeat"] == pytest.approx([w["duration_s"] / 6 for w in mine])
        assert energy["examples"] == 24                                   # the warm-up pass and 3 repeats
        assert energy["measurement"]["repeats"] == 3 and energy["measurement"]["outputs_identical"] is True
    toylang = results["models"][model]["tasks"]["toylang"]["energy"]
    assert toylang["j_per_generated_token"]["repeats"] == 3
    for level in (results["models"][model]["energy"], results["energy"]["run"]):
        assert level["j_per_example"]["repeats"] == 3 and level["measurement"]["repeats"] == 3
    assert "J/example: " in proc.stdout and "over 3 measured repeats (95% interval" in proc.stdout
    assert "J/example: " in once.stdout and "one measured pass: --repeats N gives an interval" in once.stdout


def test_outputs_that_change_between_repeats_are_counted_and_said(tmp_path, capsys):
    proc = in_process(capsys, "run", "--model", "py:fake_models:Drifting", "--tasks", "toylang", "--limit", "4",
                      "--no-probes", "--no-progress", "--repeats", "2", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    results = json.loads(next(tmp_path.glob("2*/results.json")).read_text())
    m = results["models"]["py:fake_models:Drifting"]["tasks"]["toylang"]["energy"]["measurement"]
    assert m["outputs_identical"] is False and m["outputs_differing"] == 8          # 4 items x 2 repeats
    assert "8 outputs differed from the stored pass" in proc.stdout


def test_min_measure_s_lengthens_short_windows_and_says_so(tmp_path, capsys):
    proc = in_process(capsys, "run", "--model", FAKE, "--tasks", "facts_mc", "--limit", "4", "--no-probes",
                      "--no-progress", "--min-measure-s", "0.3", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    run_dir = next(tmp_path.glob("2*"))
    (task,) = [w for w in _windows(run_dir) if w["kind"] == "task"]
    assert task["duration_s"] >= 0.3 and task["passes"] > 1 and task["examples"] == 4 * task["passes"]
    results = json.loads((run_dir / "results.json").read_text())
    energy = results["models"][FAKE]["tasks"]["facts_mc"]["energy"]
    assert energy["measurement"]["lengthened_windows"] == 1 and energy["measurement"]["min_measure_s"] == 0.3
    assert "--min-measure-s" in energy["measurement"]["note"]
    assert results["models"][FAKE]["tasks"]["facts_mc"]["n"] == 4                   # quality from the stored pass


def test_probes_are_repeated_too(tmp_path, capsys):
    proc = in_process(capsys, "run", "--model", "tiny-gpt2", "--tasks", "facts_mc", "--limit", "4", "--probes",
                      "crows_pairs", "--probe-limit", "2", "--no-progress", "--repeats", "2", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    run_dir = next(tmp_path.glob("2*"))
    probes = [w for w in _windows(run_dir) if w["kind"] == "probe"]
    assert sorted(w["repeat"] for w in probes) == [0, 1, 2]
    assert len({w["examples"] for w in probes}) == 1 and all(w.get("outputs_differing", 0) == 0 for w in probes)
    results = json.loads((run_dir / "results.json").read_text())
    assert results["models"]["tiny-gpt2"]["probes"]["crows_pairs"]["energy"]["j_per_example"]["repeats"] == 2


def test_repeats_are_refused_with_resume_and_under_torchrun(tmp_path, capsys, monkeypatch):
    proc = in_process(capsys, "run", "--resume", str(tmp_path), "--repeats", "3")
    assert proc.returncode == 2 and "--repeats" in proc.stderr
    proc = in_process(capsys, "run", "--model", FAKE, "--repeats", "0", "--out", str(tmp_path))
    assert proc.returncode == 2 and "--repeats" in proc.stderr and "from 1 to 100" in proc.stderr
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    proc = in_process(capsys, "run", "--model", FAKE, "--repeats", "3", "--out", str(tmp_path))
    assert proc.returncode == 2 and "not supported under torchrun" in proc.stderr


@pytest.mark.slow
def test_a_killed_run_with_repeats_resumes_the_missing_repeats_with_the_same_quality(tmp_path):
    args = ["--model", "tiny-gpt2", "--tasks", "facts_mc,toylang", "--limit", "8", "--batch-size", "4", "--no-progress",
            "--no-probes", "--repeats", "3", "--min-measure-s", "0.4"]
    out = tmp_path / "killed"
    stall = stalling_harness("harness.meters.session:MeterSession._record", containing="'repeat': 2")
    proc = subprocess.Popen([*stall, "run", *args, "--out", str(out)],      # stalls before repeat 2's first window
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ)

    def stalled():                                 # repeat 1 of facts_mc done, the rest to come
        found = list(out.glob("*/windows.jsonl"))
        return found[0] if found and '"repeat": 1' in found[0].read_text() else None

    windows = kill_when(proc, stalled, every=0.02)
    before = [json.loads(line) for line in windows.read_text().splitlines()]
    assert not any(w.get("repeat", 0) >= 2 for w in before)
    resumed = run_cli("run", "--resume", str(windows.parent))
    assert resumed.returncode == 0, resumed.stderr
    after = [json.loads(line) for line in windows.read_text().splitlines()]
    done = [(w["name"], w["repeat"]) for w in after if w["kind"] == "task" and w.get("repeat", 0) >= 1 and w["completed"]]
    assert sorted(done) == [(t, k) for t in ("facts_mc", "toylang") for k in (1, 2, 3)]     # none run twice
    results = json.loads((windows.parent / "results.json").read_text())
    full = run_cli("run", *args[:-4], "--out", str(tmp_path / "full"))
    assert full.returncode == 0, full.stderr
    expected = json.loads(next((tmp_path / "full").glob("*/results.json")).read_text())
    assert _quality(results, "tiny-gpt2") == _quality(expected, "tiny-gpt2")
    for task in ("facts_mc", "toylang"):
        assert results["models"]["tiny-gpt2"]["tasks"][task]["energy"]["j_per_example"]["repeats"] == 3
