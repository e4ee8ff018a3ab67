"""harness.progress: every task, probe and model load shows a count and an ETA; a log that is not a
terminal gets a heartbeat line per piece (start, every few seconds, end) instead of bars."""
from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.progress import Reporter, choose_mode, seconds


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_mode_follows_the_stream_and_the_flag():
    class Tty(io.StringIO):
        def isatty(self):
            return True
    assert choose_mode(True, Tty()) == "bars"
    assert choose_mode(True, io.StringIO()) == "lines"
    assert choose_mode(False, Tty()) == "off"


def test_a_piece_counts_and_gives_an_eta_from_its_rate():
    clock, out = Clock(), io.StringIO()
    reporter = Reporter("lines", out, every=60, clock=clock)
    with reporter.piece("m · task t", 100, "req") as piece:
        clock.now += 10
        piece.advance(25)
        assert piece.status() == "25/100 req (25%), 10 s, ETA 30 s"
        piece.count("items", 3)
        assert "3 items" in piece.status()
    lines = out.getvalue().splitlines()
    assert lines[0] == "progress: m · task t: started, 100 req"
    assert lines[-1].startswith("progress: m · task t: done, 25/100 req (25%), 3 items, 10 s")
    reporter.close()


def test_a_piece_whose_total_grows_and_one_that_stops_on_an_error():
    out = io.StringIO()
    reporter = Reporter("lines", out, every=60)
    with pytest.raises(RuntimeError):
        with reporter.piece("m · probe p") as piece:
            piece.grow(8)
            piece.advance(8)
            piece.grow(4)
            raise RuntimeError("boom")
    assert out.getvalue().splitlines()[-1].startswith("progress: m · probe p: stopped, 8/12 req (67%)")
    reporter.close()


def test_the_heartbeat_prints_a_line_per_running_piece_every_few_seconds():
    out = io.StringIO()
    reporter = Reporter("lines", out, every=0.2)
    with reporter.piece("m · task slow", 10) as piece:
        for _ in range(6):
            time.sleep(0.1)
            piece.advance()
    reporter.close()
    beats = [line for line in out.getvalue().splitlines() if line.startswith("progress: m · task slow: ") and
             "/10 req" in line and "done" not in line]
    assert len(beats) >= 2 and "ETA" in beats[-1]


def test_off_prints_nothing():
    out = io.StringIO()
    reporter = Reporter("off", out)
    with reporter.piece("x", 3) as piece:
        piece.advance(3)
    reporter.close()
    assert out.getvalue() == ""


def test_bars_leave_each_finished_piece_on_screen():
    out = io.StringIO()
    reporter = Reporter("bars", out)
    with reporter.piece("m · task t", 4) as piece:
        piece.advance(4)
    reporter.close()
    assert "m · task t" in out.getvalue() and "4/4" in out.getvalue()


def test_transformers_weight_loading_counts_into_the_load_piece():
    logging = pytest.importorskip("transformers.utils.logging")
    out = io.StringIO()
    reporter = Reporter("lines", out, every=60)
    with reporter.piece("m · load", unit="weight tensors") as piece:
        piece.watch_library_bars()
        for _ in logging.tqdm(range(7), desc="Loading weights"):
            pass
        assert piece.done == 7 and piece.total == 7 and piece.stage == "loading weights"
    assert logging._tqdm_hook is None                      # handed back when the piece ends
    assert "7/7 weight tensors" in out.getvalue()
    reporter.close()


def test_seconds_read_well():
    assert [seconds(s) for s in (3.21, 42, 185, 7500)] == ["3.2 s", "42 s", "3 min 05 s", "2 h 05 min"]


TESTS = Path(__file__).resolve().parent


def test_a_log_that_is_not_a_terminal_shows_progress_for_each_probe_before_the_summary(tmp_path):
    """`harness run` with stderr in a file (a CI log): a line for every task, probe and model load, before the summary."""
    import json
    rows = [{"id": f"q{i}", "question": f"question {i} about the cat", "choices": ["aaa", "b"], "answer": 1} for i in range(6)]
    task = tmp_path / "tasks" / "mc"
    task.mkdir(parents=True)
    (task / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (task / "task.yaml").write_text('name: mc\ndata: data.jsonl\nkind: multiple_choice\nprompt: "{question}"\n')
    probes = ("robustness", "crows_pairs", "winobias")
    log = tmp_path / "ci.log"
    with open(log, "w") as f:
        proc = subprocess.run([sys.executable, "-m", "harness", "run", "--model", "m=py:fake_models:ShortestChoice",
                               "--tasks", "mc", "--tasks-dir", str(tmp_path / "tasks"), "--probes", ",".join(probes),
                               "--probe-limit", "3", "--no-meters", "--out", str(tmp_path / "out")],
                              cwd=TESTS, stdout=f, stderr=subprocess.STDOUT, text=True, timeout=600,
                              env={**os.environ, "HARNESS_PROGRESS_EVERY_S": "1"})
    text = log.read_text()
    assert proc.returncode == 0, text
    lines = text.splitlines()
    summary = next(i for i, line in enumerate(lines) if line.startswith("m ["))       # the headline line of model m
    for piece in ("m · load (model 1 of 1)", "m · task mc", *(f"m · probe {p}" for p in probes)):
        started = [i for i, line in enumerate(lines) if line.startswith(f"progress: {piece}: started")]
        done = [i for i, line in enumerate(lines) if line.startswith(f"progress: {piece}: done")]
        assert started and done and started[0] < done[0] < summary, (piece, text)
    robustness_done = next(line for line in lines if line.startswith("progress: m · probe robustness: done"))
    assert "items" in robustness_done                       # counted against what the probe planned
    assert "\r" not in text                                 # no bar redraws in a log
