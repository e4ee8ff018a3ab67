"""A run killed with SIGKILL mid-way, then resumed, ends with the same numbers as an uninterrupted run."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from support import kill_when, run_cli, stalling_harness

ARGS = ["--model", "tiny-gpt2", "--tasks", "facts_mc,toylang", "--limit", "24", "--batch-size", "4", "--no-progress", "--no-probes"]


def _metrics(results: dict) -> dict:
    return {task: {m: (v["value"], v["stderr"], v["ci95"]) for m, v in r["metrics"].items()}
            for task, r in results["models"]["tiny-gpt2"]["tasks"].items()}


@pytest.mark.slow
def test_kill_minus_nine_then_resume_gives_identical_results(tmp_path):
    full = run_cli("run", *ARGS, "--out", str(tmp_path / "full"))
    assert full.returncode == 0, full.stderr
    expected = json.loads(next((tmp_path / "full").glob("*/results.json")).read_text())

    out = tmp_path / "killed"
    # it stalls before its 33rd record (all of facts_mc and part of toylang), so the kill lands mid-run
    proc = subprocess.Popen([*stalling_harness("harness.store:SampleStore.append", after=32), "run", *ARGS, "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ)

    def stalled():
        found = list(out.glob("*/samples.jsonl"))
        return found[0] if found and len(found[0].read_text().splitlines()) >= 32 else None

    samples = kill_when(proc, stalled)
    done_before = len(samples.read_text().splitlines())
    assert done_before == 32

    resumed = run_cli("run", "--resume", str(samples.parent))
    assert resumed.returncode == 0, resumed.stderr
    lines = [json.loads(line) for line in samples.read_text().splitlines()]
    assert len(lines) == 48 and len({(r["task"], r["id"]) for r in lines}) == 48     # nothing twice
    results = json.loads((samples.parent / "results.json").read_text())
    assert results["run"]["status"] == "complete"
    assert _metrics(results) == _metrics(expected)
    for task in ("facts_mc", "toylang"):
        by_id = {r["id"]: r["prediction"] for r in lines if r["task"] == task}
        full_lines = [json.loads(x) for x in next((tmp_path / "full").glob("*/samples.jsonl")).read_text().splitlines()]
        assert by_id == {r["id"]: r["prediction"] for r in full_lines if r["task"] == task}
