"""Helpers the tests share (imported as ``from support import ...``; fixtures live in conftest.py):
running the CLI as a user would, the one-line-error and finished-with-errors checks, writing a task
folder, comparing nested results to float32 rounding, adding a command to the CLI."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    """`harness ARGS` in a fresh interpreter, as a user would run it."""
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


_STALL = """
import importlib, sys, time
module, _, path = sys.argv.pop(1).partition(":")
after, containing = int(sys.argv.pop(1)), sys.argv.pop(1)
owner = importlib.import_module(module)
*parents, name = path.split(".")
for part in parents:
    owner = getattr(owner, part)
original, seen = getattr(owner, name), []
def stalling(*args, **kwargs):
    if containing in repr((args, kwargs)):
        if len(seen) >= after:
            time.sleep(3600)
        seen.append(1)
    return original(*args, **kwargs)
setattr(owner, name, stalling)
from harness.cli import main
sys.exit(main(sys.argv[1:]))
"""


def stalling_harness(target: str, after: int = 0, containing: str = "") -> list[str]:
    """The argv of `harness` that stalls for good at the call of ``target`` ("module:Class.method")
    after ``after`` calls whose arguments' repr holds ``containing``: a test that kills a run mid-way
    then kills it at a known point, where polling a free-running process races it to the end."""
    return [sys.executable, "-c", _STALL, target, str(after), containing]


def kill_when(proc: subprocess.Popen, found, seconds: float = 300, every: float = 0.05):
    """Polls ``found()`` until it returns something, then SIGKILLs ``proc`` (no handler of its runs)
    and returns that. Fails when the process ends first or nothing is found in time."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = found()
        if got:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return got
        assert proc.poll() is None, f"the process ended (exit {proc.returncode}) before it could be killed"
        time.sleep(every)
    raise AssertionError(f"found nothing to kill the process at within {seconds} s")


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("harness: error:")]
    assert len(errors) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "fix:" in errors[0]
    for needle in needles:
        assert needle in errors[0], errors[0]


def write_task(folder: Path, name: str, rows: list[dict] | None, yaml_text: str | None = None, **fields) -> Path:
    """A task folder with task.yaml and data.jsonl (rows=None writes no data file)."""
    import json
    folder.mkdir(parents=True, exist_ok=True)
    if rows is not None:
        (folder / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if yaml_text is None:
        fields = {"data": "data.jsonl", **fields}
        lines = [f"name: {name}"] + [f"{k}: {json.dumps(v)}" for k, v in fields.items()]
        yaml_text = "\n".join(lines) + "\n"
    (folder / "task.yaml").write_text(yaml_text)
    return folder


def assert_finished_with_errors(proc: subprocess.CompletedProcess, *needles: str) -> str:
    """Exit 3: the run went on past a failed piece and says so on one line."""
    assert proc.returncode == 3, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    summary = [line for line in proc.stderr.splitlines() if line.startswith("harness: finished with errors")]
    assert len(summary) == 1, proc.stderr
    assert "fix:" in summary[0]
    for needle in needles:
        assert needle in summary[0], summary[0]
    return summary[0]


def close(a, b) -> bool:
    """``a == b`` for nested results, with floats equal to float32 rounding (rel 1e-5): continuous
    scores (log-likelihood gaps, calibration from log-likelihoods) move in their last digits when the
    same items are batched differently (a resume, another rank's shard)."""
    import pytest
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-5, abs=1e-9)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(map(close, a, b))
    return type(a) is type(b) and a == b


def add_command(monkeypatch, name: str, execute) -> None:
    """Makes `harness NAME` a command that calls ``execute(args, argv)`` (for tests of cli.main)."""
    import harness.commands as commands

    class Command:
        @staticmethod
        def add_parser(sub, epilog):
            sub.add_parser(name)

    Command.execute = staticmethod(execute)
    real = commands.load
    monkeypatch.setattr(commands, "COMMANDS", (*commands.COMMANDS, name))
    monkeypatch.setattr(commands, "load", lambda n: Command if n == name else real(n))
