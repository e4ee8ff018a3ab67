"""Crash-and-fault suite: a run stopped at chosen points (kill -9 in the middle of the first write of
each of its files, SIGTERM, a full disk, a second run on the same folder, damaged or duplicated
records, changed options or inputs) either refuses with one line or is finished by `--resume` with
the same task and probe numbers as an uninterrupted run.

Faults are timed by running this file as the harness command: `python tests/test_faults.py run ...`
with HARNESS_TEST_FAULT=FILE:N:ACTION sees every file the run opens for writing, and on the N-th
write to FILE (a file name in the run folder) writes half of it, flushed, then
  kill  SIGKILLs itself (a torn line is left behind, as by a crash),
  term  SIGTERMs itself (as CI runners and Kubernetes stop a job),
  full  fails with ENOSPC, and so does every later write (a full disk);
or, for `stop`, SIGSTOPs itself before writing (the run holds its folder while stopped).
The same faults are injected in-process with `faulty_open` where no signal is involved.
"""
from __future__ import annotations

import errno
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

THIS = Path(__file__).resolve()
TESTS = THIS.parent
FAULT = "HARNESS_TEST_FAULT"
ARGS = ["--model", "tiny-gpt2", "--tasks", "facts_mc,toylang", "--limit", "8", "--probes", "crows_pairs",
        "--probe-limit", "2", "--no-progress"]
QUICK = [*ARGS, "--no-meters"]                 # task and probe numbers do not depend on the meters
METERED = [*ARGS, "--idle-seconds", "0"]


def faulty_open(fault: str, real_open=pathlib.Path.open):
    """A replacement for pathlib.Path.open that injects ``fault`` (FILE:N:ACTION, see above)."""
    target, nth, action = fault.split(":")
    state = {"writes": 0, "full": False}

    def no_space() -> OSError:
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    class Faulty:
        def __init__(self, fh, name: str):
            self._fh, self._name = fh, name

        def __getattr__(self, attr):
            return getattr(self._fh, attr)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self._fh.__exit__(*exc)

        def write(self, text):
            if state["full"]:
                raise no_space()
            if self._name == target:
                state["writes"] += 1
                if state["writes"] == int(nth):
                    if action == "stop":
                        os.kill(os.getpid(), signal.SIGSTOP)
                        return self._fh.write(text)
                    self._fh.write(text[: len(text) // 2])
                    self._fh.flush()
                    if action == "full":
                        state["full"] = True
                        raise no_space()
                    os.kill(os.getpid(), {"kill": signal.SIGKILL, "term": signal.SIGTERM}[action])
                    time.sleep(10)
                    raise AssertionError(f"{action} did not stop the run")
            return self._fh.write(text)

    def open_(self, mode="r", *args, **kwargs):
        fh = real_open(self, mode, *args, **kwargs)
        return Faulty(fh, self.name) if set(mode) & set("wax+") else fh
    return open_


if __name__ == "__main__":                      # the harness command, with a fault
    if os.environ.get(FAULT):
        pathlib.Path.open = faulty_open(os.environ[FAULT])
    from harness.cli import main
    sys.exit(main(sys.argv[1:]))

from support import assert_one_line_error, close, run_cli, write_task  # noqa: E402
from harness.cli import main  # noqa: E402
from harness.errors import HarnessError  # noqa: E402
from harness.store import SampleStore  # noqa: E402
from run_folders import in_process  # noqa: E402


def harness(*args: str, fault: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(THIS), *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **({FAULT: fault} if fault else {})})




def run_folder(out: Path) -> Path:
    found = [p for p in out.iterdir() if not p.name.startswith(".") and p.is_dir()]
    assert len(found) == 1, found
    return found[0]


def numbers(results: dict) -> tuple[dict, dict]:
    model = results["models"]["tiny-gpt2"]
    return ({t: (r["n"], r["metrics"]) for t, r in model["tasks"].items()},
            {p: (r["n"], r["metrics"]) for p, r in model["probes"].items()})


def keys(folder: Path) -> list[tuple]:
    return [(r["model"], r["task"], r["id"]) for r in map(json.loads, (folder / "samples.jsonl").read_text().splitlines())]


def torn(path: Path) -> bool:
    data = path.read_bytes()
    return bool(data) and not data.endswith(b"\n")


def snapshot(folder: Path) -> dict[str, bytes]:
    """The run's files (the lock file holds the PID of the last process that took it)."""
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and p.name != ".lock"}


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> Path:
    """An uninterrupted run: its folder."""
    out = tmp_path_factory.mktemp("baseline")
    assert main(["run", *QUICK, "--out", str(out)]) == 0
    folder = run_folder(out)
    results = json.loads((folder / "results.json").read_text())
    assert results["run"]["status"] == "complete"
    tasks, probes = numbers(results)
    assert set(tasks) == {"facts_mc", "toylang"} and probes["crows_pairs"][0] == 18
    return folder


def same_numbers(results: dict, baseline: Path) -> bool:
    """Counts and 0/1 metrics equal exactly; continuous scores (log-likelihood gaps) to float32 rounding,
    since a resumed batch holds fewer items and so is padded differently from the uninterrupted one."""
    return close(numbers(results), numbers(json.loads((baseline / "results.json").read_text())))



def assert_finished_like(folder: Path, baseline: Path) -> None:
    results = json.loads((folder / "results.json").read_text())
    assert results["run"]["status"] == "complete"
    assert same_numbers(results, baseline)
    done = keys(folder)
    assert len(done) == len(set(done)) and set(done) == set(keys(baseline))      # each example once
    assert "tiny-gpt2" in (folder / "report.html").read_text()


# ------------------------------------------------------------------ kill -9


@pytest.mark.slow
def test_kill_in_the_first_write_of_every_file_then_resume_gives_identical_numbers(tmp_path, baseline):
    out = tmp_path / "out"
    resume = lambda fault=None: harness("run", "--resume", str(folder), "--no-progress", fault=fault)  # noqa: E731

    proc = harness("run", *METERED, "--out", str(out), fault="telemetry.csv:1:kill")   # the header, torn
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    folder = run_folder(out)
    assert torn(folder / "telemetry.csv") and not (folder / "samples.jsonl").exists()

    run_json = (folder / "run.json").read_bytes()
    proc = resume(".run.json.tmp:1:kill")          # while run.json is rewritten after the model loaded
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert (folder / "run.json").read_bytes() == run_json

    proc = resume("samples.jsonl:1:kill")
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert torn(folder / "samples.jsonl") and keys_or_none(folder) == []

    proc = resume("windows.jsonl:1:kill")          # after facts_mc, its window's record torn
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert torn(folder / "windows.jsonl") and len(keys_or_none(folder)) == 8

    proc = resume("samples.jsonl:12:kill")         # mid-way through the probe
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert torn(folder / "samples.jsonl") and len(keys_or_none(folder)) == 8 + 8 + 3

    proc = resume()
    assert proc.returncode == 0, proc.stderr
    assert_finished_like(folder, baseline)
    assert (folder / "telemetry.csv").read_text().startswith("unix_time,")


@pytest.mark.slow
def test_kill_at_random_points_then_resume_gives_identical_numbers(tmp_path, baseline):
    """Three kills at seeded random writes of random append-only files, each resumed, then a resume
    that finishes: the same numbers and each example once (the seed is printed on failure)."""
    import random
    seed = int(os.environ.get("HARNESS_TEST_KILL_SEED", "20261201"))
    rng = random.Random(seed)
    out = tmp_path / "out"
    folder = None
    for attempt in range(3):
        target = rng.choice(["samples.jsonl", "samples.jsonl", "windows.jsonl", "telemetry.csv"])
        fault = f"{target}:{rng.randint(1, 9)}:kill"
        if folder is None:
            proc = harness("run", *METERED, "--out", str(out), fault=fault)
            folder = run_folder(out)
        else:
            proc = harness("run", "--resume", str(folder), "--no-progress", fault=fault)
        assert proc.returncode in (0, -signal.SIGKILL), (seed, fault, proc.stderr)
        if proc.returncode == 0:           # the fault's write never came: the run finished
            break
    proc = harness("run", "--resume", str(folder), "--no-progress")
    assert proc.returncode == 0, (seed, proc.stderr)
    assert_finished_like(folder, baseline)


def keys_or_none(folder: Path) -> list[tuple]:
    """The keys of the complete lines of samples.jsonl (a torn last line left out)."""
    return [(r["model"], r["task"], r["id"]) for r in SampleStore(folder / "samples.jsonl").records()]


@pytest.mark.slow
def test_kill_in_the_first_write_of_run_json_leaves_no_run_folder(tmp_path):
    proc = harness("run", *QUICK, "--out", str(tmp_path), fault=".run.json.tmp:1:kill")
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert [p for p in tmp_path.iterdir() if not p.name.startswith(".")] == []   # nothing that looks resumable


# ------------------------------------------------------------------ SIGTERM and a second run


@pytest.mark.slow
def test_second_run_on_a_folder_is_refused_and_sigterm_writes_the_outputs(tmp_path, baseline):
    out = tmp_path / "out"
    with (tmp_path / "first.err").open("w") as err:
        first = subprocess.Popen([sys.executable, str(THIS), "run", *QUICK, "--out", str(out)], stdout=subprocess.DEVNULL,
                                 stderr=err, env={**os.environ, FAULT: "samples.jsonl:10:stop"})
    try:
        deadline = time.time() + 120
        while Path(f"/proc/{first.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "T":
            assert first.poll() is None and time.time() < deadline, (tmp_path / "first.err").read_text()
            time.sleep(0.05)
        folder = run_folder(out)
        before = snapshot(folder)

        second = harness("run", "--resume", str(folder), "--no-progress")
        assert_one_line_error(second, str(folder), f"PID {first.pid}")
        assert snapshot(folder) == before and len(keys(folder)) == 9

        first.send_signal(signal.SIGTERM)
        first.send_signal(signal.SIGCONT)
        assert first.wait(60) == 143, (tmp_path / "first.err").read_text()
    finally:
        if first.poll() is None:
            first.kill()
    assert "terminated" in (tmp_path / "first.err").read_text()
    results = json.loads((folder / "results.json").read_text())
    assert results["run"]["status"] == "incomplete: terminated"
    # what was computed is reported: the record the run had stopped before is written or not, as the
    # signal reaches the main thread before or after it (another thread may take the SIGTERM first)
    stored = [k for k in keys(folder) if k[1] == "toylang"]
    assert results["models"]["tiny-gpt2"]["tasks"]["toylang"]["n"] == len(stored) and len(stored) in (1, 2)
    assert "incomplete: terminated" in (folder / "report.html").read_text()

    proc = harness("run", "--resume", str(folder), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert_finished_like(folder, baseline)


def test_lock_names_its_holder_and_is_released(tmp_path):
    from harness.lock import run_lock
    with run_lock(tmp_path):
        with pytest.raises(HarnessError, match=f"PID {os.getpid()}"):
            with run_lock(tmp_path):
                pass
    with run_lock(tmp_path):       # released: taken again
        pass


# ------------------------------------------------------------------ a full disk


def test_full_disk_is_one_line_with_no_temp_file_left_and_resume_finishes(tmp_path, baseline, capsys, monkeypatch):
    out = tmp_path / "out"
    with monkeypatch.context() as patch:
        patch.setattr(pathlib.Path, "open", faulty_open("samples.jsonl:5:full"))
        proc = in_process(capsys, "run", *QUICK, "--out", str(out))
    folder = run_folder(out)
    assert_one_line_error(proc, "disk full writing", str(folder))
    assert [p.name for p in folder.iterdir() if p.name.endswith(".tmp")] == []
    assert torn(folder / "samples.jsonl")

    proc = in_process(capsys, "run", "--resume", str(folder), "--no-progress")     # space freed
    assert proc.returncode == 0, proc.stderr
    assert_finished_like(folder, baseline)


def test_full_disk_while_creating_the_run_folder_leaves_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(pathlib.Path, "open", faulty_open(".run.json.tmp:1:full"))
    proc = in_process(capsys, "run", *QUICK, "--out", str(tmp_path / "out"))
    assert_one_line_error(proc, "disk full writing", "run.json")
    assert list((tmp_path / "out").iterdir()) == []


# ------------------------------------------------------------------ damaged and duplicated records


def test_duplicate_records_count_once(tmp_path, baseline, capsys):
    folder = Path(shutil.copytree(baseline, tmp_path / "run"))
    lines = (folder / "samples.jsonl").read_text().splitlines(keepends=True)
    changed = json.loads(lines[0])
    changed["prediction"] = "a later duplicate"                 # the first record of a key wins
    (folder / "samples.jsonl").write_text("".join(lines + [json.dumps(changed) + "\n"] + lines[3:] + lines[-5:]))
    (folder / "results.json").unlink()

    proc = in_process(capsys, "run", "--resume", str(folder), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    results = json.loads((folder / "results.json").read_text())
    assert same_numbers(results, baseline)
    assert [r["prediction"] for r in SampleStore(folder / "samples.jsonl").records()][0] == json.loads(lines[0])["prediction"]


def test_damaged_middle_line_is_named_and_nothing_is_written(tmp_path, baseline):
    folder = Path(shutil.copytree(baseline, tmp_path / "run"))
    lines = (folder / "samples.jsonl").read_text().splitlines(keepends=True)
    lines[2] = lines[2][:40] + "\n"
    (folder / "samples.jsonl").write_text("".join(lines))
    before = snapshot(folder)
    proc = run_cli("run", "--resume", str(folder), "--no-progress")
    assert_one_line_error(proc, f"{folder / 'samples.jsonl'}:3")
    assert snapshot(folder) == before


# ------------------------------------------------------------------ a resume that would change the run


def test_resume_refuses_other_run_options(tmp_path):
    proc = run_cli("run", "--resume", str(tmp_path), "--model", "minilm", "--limit", "3", "--seed", "7",
                   "--no-meters", "--no-progress")
    assert_one_line_error(proc, "--model", "--limit", "--seed", "--no-meters")
    assert "--no-progress" not in proc.stderr and list(tmp_path.iterdir()) == []


def test_resume_refuses_changed_task_and_probe_inputs(tmp_path, capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))
    tasks = tmp_path / "tasks"
    rows = [{"id": f"q{i}", "question": f"question {i}", "choices": ["aaa", "b"], "answer": 1} for i in range(6)]
    write_task(tasks / "mc", "mc", rows, kind="multiple_choice", prompt="{question}")
    (tasks / "pairs").mkdir()
    (tasks / "pairs" / "pairs.jsonl").write_text("".join((TESTS.parent / "tasks/crows_pairs/pairs.jsonl").read_text().splitlines(True)[:4]))
    (tasks / "pairs" / "probe.yaml").write_text("name: my_pairs\nprobe: crows_pairs\ndata: {pairs: pairs.jsonl}\n")
    proc = in_process(capsys, "run", "--model", "py:fake_models:ShortestChoice", "--tasks", "mc", "--tasks-dir", str(tasks),
                      "--probes", "my_pairs", "--no-meters", "--out", str(tmp_path / "out"), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    folder = run_folder(tmp_path / "out")
    resume = lambda: in_process(capsys, "run", "--resume", str(folder), "--no-progress")  # noqa: E731

    def changed(path: Path, old: str, new: str, *needles: str) -> None:
        text = path.read_text()
        path.write_text(text.replace(old, new))
        before = snapshot(folder)
        assert_one_line_error(resume(), *needles, "start a new run")
        assert snapshot(folder) == before
        path.write_text(text)

    changed(tasks / "mc" / "data.jsonl", "question 3", "question three", "task 'mc'", "data")
    changed(tasks / "mc" / "task.yaml", '"{question}"', '"Q: {question}"', "task 'mc'", "prompt")
    changed(tasks / "mc" / "task.yaml", 'kind:', 'target_delimiter: "\\n"\nkind:', "task 'mc'", "config")
    changed(tasks / "pairs" / "pairs.jsonl", "rope", "string", "probe 'my_pairs'", "data")
    changed(tasks / "pairs" / "probe.yaml", "crows_pairs\n", "crows_pairs\nlimit: 1\n", "probe 'my_pairs'", "config")
    assert resume().returncode == 0                 # inputs as they were: the resume goes on


# ------------------------------------------------------------------ probes resumed part-way


def _probe_records(name: str, adapter, done: set[str], tasks_names=()) -> list[dict]:
    from harness import catalog
    from harness.audit import prepare
    from harness.calls import answer_method
    from harness.plugins import PROBES
    from harness.probes.base import ProbeContext
    from harness.spec import RunSpec
    config = catalog.discover_probes()[name]
    tasks = prepare(RunSpec(models=(), tasks=tuple(tasks_names), limit=40)) if tasks_names else []
    ctx = ProbeContext(model="m", adapter=adapter, config=config, tasks=tasks, task_records=lambda task: [],
                       call=lambda requests: answer_method(adapter, type(requests[0]))(requests) if requests else [],
                       done=done, seed=5, limit=6)
    return list(PROBES.get(config.probe)().run(ctx))


@pytest.mark.parametrize("name, model, tasks", [("crows_pairs", "ShortestChoice", ()), ("winobias", "ShortestChoice", ()),
                                                ("bbq", "ShortestChoice", ()), ("counterfactual", "FemaleFlipClassifier", ("topic",))])
def test_a_resumed_probe_scores_the_same_items_in_the_same_order(name, model, tasks, monkeypatch):
    """Records are summarized in `index` order (results.assemble), so a resumed probe must give each item
    the index an uninterrupted run gives it, and take the same items (its limit counts the done ones)."""
    monkeypatch.syspath_prepend(str(TESTS))
    import fake_models
    adapter = getattr(fake_models, model)()
    full = {r["id"]: r["index"] for r in _probe_records(name, adapter, set(), tasks)}
    assert len(full) >= 4
    done = set(list(full)[: len(full) // 2])
    rest = {r["id"]: r["index"] for r in _probe_records(name, adapter, done, tasks)}
    assert rest == {k: v for k, v in full.items() if k not in done}
