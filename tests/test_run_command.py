"""`harness run` (harness/commands/run.py and the run folder it keeps) attacked like a hostile or careless user would: odd option values, edited or emptied
run files, models that exit or lie. Each test failed before its fix; bad input is one line and exit 2,
a model's misbehaviour is a recorded failure (exit 3) or an invalid answer, and what was computed is
kept and counted once."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from support import assert_finished_with_errors, assert_one_line_error, write_task

from run_folders import in_process as cli, make_run

TESTS = Path(__file__).resolve().parent
ROWS = [{"id": f"q{i}", "question": f"question {i}", "choices": ["aaa", "b", "cc"], "answer": 1} for i in range(6)]
QUICK = ("--no-probes", "--no-meters", "--no-progress")




def folders(out: Path) -> list[Path]:
    return [p for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")] if out.is_dir() else []


@pytest.fixture
def tasks(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))
    write_task(tmp_path / "tasks" / "mc", "mc", ROWS, kind="multiple_choice", prompt="{question}")
    return tmp_path / "tasks"


def fake_run(capsys, tmp_path, tasks, model="m=py:fake_models:ShortestChoice", *extra) -> SimpleNamespace:
    proc = cli(capsys, "run", "--model", model, "--tasks-dir", str(tasks), "--tasks", "mc", *QUICK,
               "--out", str(tmp_path / "out"), *extra)
    (folder,) = folders(tmp_path / "out")
    proc.folder = folder
    return proc


def task_result(folder: Path, model="m", task="mc") -> dict:
    return json.loads((folder / "results.json").read_text())["models"][model]["tasks"][task]


# ------------------------------------------------------------------ zero-byte files


def test_a_zero_byte_history_index_is_an_empty_index_not_damaged(tmp_path, capsys):
    make_run(tmp_path, "r1", "2026-11-01T10:00:00+00:00")
    (tmp_path / "history.sqlite").write_bytes(b"")          # `touch`ed, or cut before its first commit
    proc = cli(capsys, "history", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "damaged" not in proc.stderr and "added 1 run folder" in proc.stderr
    from harness.history import HistoryIndex
    assert [r["run_id"] for r in HistoryIndex(tmp_path / "history.sqlite").runs()] == ["r1"]
    (tmp_path / "empty.sqlite").write_bytes(b"")
    assert HistoryIndex(tmp_path / "empty.sqlite").runs() == []     # the read path alone, too


def test_zero_byte_run_and_results_files_say_they_are_empty(tmp_path, capsys):
    make_run(tmp_path, "r1", "2026-11-01T10:00:00+00:00")
    (tmp_path / "r1" / "results.json").write_bytes(b"")
    assert_one_line_error(cli(capsys, "show", str(tmp_path / "r1")), "results.json is empty (0 bytes)")
    (tmp_path / "r1" / "run.json").write_bytes(b"")
    assert_one_line_error(cli(capsys, "run", "--resume", str(tmp_path / "r1")), "run.json is empty (0 bytes)")


def test_a_zero_byte_blessed_record_names_no_run_and_is_replaced_without_force(tmp_path, capsys):
    make_run(tmp_path, "r1", "2026-11-01T10:00:00+00:00")
    (tmp_path / ".blessed").mkdir()
    (tmp_path / ".blessed" / "release.json").write_bytes(b"")
    proc = cli(capsys, "bless", str(tmp_path / "r1"), "--as", "release")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / ".blessed" / "release.json").read_text())["run_id"] == "r1"
    proc = cli(capsys, "bless", str(tmp_path / "r1"), "--as", "release")     # a real record still needs --force
    assert_one_line_error(proc, "already blessed (run r1)")


# ------------------------------------------------------------------ options


@pytest.mark.parametrize("args,needle", [
    (("--tasks", ""), "--tasks '' names no tasks"),
    (("--tasks", ","), "--tasks ',' names no tasks"),
    (("--tasks", "mc", "--probes", ","), "--probes ',' names no probes"),
])
def test_a_name_list_that_names_nothing_is_refused_not_read_as_all(tmp_path, capsys, tasks, args, needle):
    proc = cli(capsys, "run", "--model", "py:fake_models:ShortestChoice", "--tasks-dir", str(tasks), "--no-meters",
               "--out", str(tmp_path / "out"), *args)
    assert_one_line_error(proc, needle)
    assert folders(tmp_path / "out") == []


def test_a_task_named_twice_is_evaluated_once(tmp_path, capsys, tasks):
    proc = cli(capsys, "run", "--model", "m=py:fake_models:ShortestChoice", "--tasks-dir", str(tasks), "--tasks", "mc,mc",
               *QUICK, "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    (folder,) = folders(tmp_path / "out")
    assert json.loads((folder / "run.json").read_text())["spec"]["tasks"] == ["mc"]
    assert task_result(folder)["n"] == len(ROWS)


def test_a_tasks_dir_that_is_a_file_or_holds_no_yaml_is_refused(tmp_path, capsys):
    (tmp_path / "file.yaml").write_text("name: x\n")
    (tmp_path / "empty").mkdir()
    base = ("run", "--model", "tiny-gpt2", "--no-meters", "--out", str(tmp_path / "out"), "--tasks-dir")
    assert_one_line_error(cli(capsys, *base, str(tmp_path / "file.yaml")), "is a file, not a folder")
    assert_one_line_error(cli(capsys, *base, str(tmp_path / "empty")), "holds no task or probe file")
    assert folders(tmp_path / "out") == []


@pytest.mark.parametrize("spec", ["=tiny-gpt2", " =tiny-gpt2"])
def test_an_empty_model_name_is_refused(tmp_path, capsys, spec):
    proc = cli(capsys, "run", "--model", spec, "--no-meters", "--out", str(tmp_path / "out"))
    assert_one_line_error(proc, "empty name")
    assert folders(tmp_path / "out") == []


# ------------------------------------------------------------------ edited run files


@pytest.mark.parametrize("edit,needle", [
    (lambda r: r.pop("index"), "index is missing"),
    (lambda r: r.pop("model"), "model is missing"),
    (lambda r: r.update(scores="garbage"), "scores is str, not an object"),
    (lambda r: r.update(scores={"accuracy": "1"}), "scores.accuracy is str, not a number"),
    (lambda r: r.update(id=7), "id is int, not a string"),
])
def test_a_samples_line_that_is_not_a_record_is_named_not_a_traceback(tmp_path, capsys, tasks, edit, needle):
    folder = fake_run(capsys, tmp_path, tasks).folder
    lines = (folder / "samples.jsonl").read_text().splitlines()
    record = json.loads(lines[2])
    edit(record)
    lines[2] = json.dumps(record)
    (folder / "samples.jsonl").write_text("\n".join(lines) + "\n")
    before = (folder / "results.json").read_bytes()
    assert_one_line_error(cli(capsys, "run", "--resume", str(folder)), "samples.jsonl:3 is not a harness record", needle)
    assert (folder / "results.json").read_bytes() == before          # nothing rewritten


def test_a_stray_record_for_an_item_the_run_does_not_hold_is_not_counted(tmp_path, capsys, tasks):
    folder = fake_run(capsys, tmp_path, tasks, "m=py:fake_models:ShortestChoice", "--limit", "4").folder
    before = task_result(folder)
    record = json.loads((folder / "samples.jsonl").read_text().splitlines()[0])
    stray = {**record, "id": "q5", "index": 5, "scores": {**record["scores"], "accuracy": 0.0, "correct": 0.0}}
    with (folder / "samples.jsonl").open("a") as fh:     # e.g. a record from a run with another --limit
        fh.write(json.dumps(stray) + "\n")
    assert cli(capsys, "run", "--resume", str(folder)).returncode == 0
    after = task_result(folder)
    assert after["n"] == before["n"] == 4
    assert after["metrics"]["accuracy"] == before["metrics"]["accuracy"]


def test_a_run_json_that_lists_no_model_is_refused_and_the_results_are_kept(tmp_path, capsys, tasks):
    folder = fake_run(capsys, tmp_path, tasks).folder
    run = json.loads((folder / "run.json").read_text())
    run["spec"]["models"] = []
    (folder / "run.json").write_text(json.dumps(run))
    before = (folder / "results.json").read_bytes()
    assert_one_line_error(cli(capsys, "run", "--resume", str(folder)), "lists no model")
    assert (folder / "results.json").read_bytes() == before


# ------------------------------------------------------------------ models that misbehave


@pytest.mark.parametrize("how,needle", [("exit0", "raised SystemExit"), ("exit1", "raised SystemExit"),
                                        ("base", "raised BaseException")])
def test_a_model_that_exits_is_a_recorded_failure_not_the_end_of_the_run(tmp_path, capsys, tasks, how, needle):
    proc = cli(capsys, "run", "--model", f"bad=py:attack_models:Exits,how={how},on=question 3", "--model",
               "good=py:fake_models:ShortestChoice", "--tasks-dir", str(tasks), "--tasks", "mc", "--batch-size", "1",
               *QUICK, "--out", str(tmp_path / "out"))
    assert_finished_with_errors(proc, "model 'bad'", needle)
    (folder,) = folders(tmp_path / "out")
    results = json.loads((folder / "results.json").read_text())
    assert results["run"]["status"] == "complete with errors"
    assert results["models"]["good"]["tasks"]["mc"]["n"] == len(ROWS)      # the next model still ran
    assert results["models"]["bad"]["tasks"]["mc"]["n"] == len(ROWS) - 1     # every item but the one it exits on


def test_a_model_that_exits_while_loading_is_a_load_failure(tmp_path, capsys, tasks):
    proc = cli(capsys, "run", "--model", "bad=py:attack_models:Exits,at=init", "--tasks-dir", str(tasks), "--tasks", "mc",
               *QUICK, "--out", str(tmp_path / "out"))
    assert_finished_with_errors(proc, "loading model 'bad'", "SystemExit")


def test_a_module_that_exits_on_import_is_one_line(tmp_path, capsys, tasks, monkeypatch):
    (tmp_path / "exits_on_import.py").write_text("import sys\nsys.exit('bye from the module')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    proc = cli(capsys, "run", "--model", "py:exits_on_import:X", "--tasks-dir", str(tasks), "--tasks", "mc", *QUICK,
               "--out", str(tmp_path / "out"))
    assert_one_line_error(proc, "importing exits_on_import", "SystemExit: bye from the module")


def test_sys_exit_with_a_message_outside_a_model_is_exit_1_with_the_message(capsys, monkeypatch):
    from support import add_command

    def execute(args, argv):
        raise SystemExit("a plugin said goodbye")
    add_command(monkeypatch, "boom", execute)
    proc = cli(capsys, "boom")
    assert proc.returncode == 1 and "a plugin said goodbye" in proc.stderr and "Traceback" not in proc.stderr


def test_a_positive_log_likelihood_is_stored_as_invalid_not_scored(tmp_path, capsys, tasks):
    proc = fake_run(capsys, tmp_path, tasks, "m=py:attack_models:Exits,how=positive,on=question 2", "--batch-size", "1")
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in (proc.folder / "samples.jsonl").read_text().splitlines()]
    (bad,) = [r for r in records if "invalid" in r]
    assert bad["id"] == "q2" and bad["invalid"].startswith("positive log-likelihood") and bad["scores"] == {}
    result = task_result(proc.folder)
    assert result["invalid"]["n"] == 1 and result["metrics"]["accuracy"]["n"] == len(ROWS) - 1


@pytest.mark.parametrize("args,needle", [
    (("--pue", "1e308", "--carbon-intensity", "1e308"), "--pue: 1e308 is not a finite number from 1 to 10"),
    (("--carbon-intensity", "1e308"), "--carbon-intensity: 1e308 is not a finite number from 0 to 5000"),
    (("--pue", "11"), "--pue: 11 is not a finite number from 1 to 10"),
])
def test_carbon_options_past_any_real_grid_are_refused_before_the_run(tmp_path, capsys, args, needle):
    """--pue 1e308 --carbon-intensity 1e308 made gCO2e infinite: results.json could not be written (a traceback)."""
    proc = cli(capsys, "run", "--model", "tiny-gpt2", "--out", str(tmp_path / "out"), *args)
    assert_one_line_error(proc, needle)
    assert folders(tmp_path / "out") == []


def test_a_resumed_run_json_with_an_impossible_pue_is_refused_before_anything_runs():
    from harness.errors import HarnessError
    from harness.meters.carbon import resolve_intensity
    with pytest.raises(HarnessError, match="outside 1 to 10"):
        resolve_intensity(None, 300.0, 1e308)
    with pytest.raises(HarnessError, match="outside 0 to 5000"):
        resolve_intensity(None, 1e308, 1.0)
    assert resolve_intensity(None, 1300.0, 1.58).g_per_kwh == 1300.0


def test_no_probes_with_probes_is_refused_not_silently_one_of_them(tmp_path, capsys, tasks):
    proc = cli(capsys, "run", "--model", "py:fake_models:ShortestChoice", "--tasks-dir", str(tasks), "--tasks", "mc",
               "--no-probes", "--probes", "robustness", "--no-meters", "--out", str(tmp_path / "out"))
    assert_one_line_error(proc, "--no-probes and --probes robustness contradict")
    assert folders(tmp_path / "out") == []


@pytest.mark.parametrize("name", [".lock", "samples.jsonl"])
def test_a_folder_in_place_of_a_run_file_is_one_line_and_keeps_the_run(tmp_path, capsys, tasks, name):
    folder = fake_run(capsys, tmp_path, tasks).folder
    kept = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and p.name != name}
    (folder / name).unlink(missing_ok=True)        # a finished run leaves no .lock
    (folder / name).mkdir()
    assert_one_line_error(cli(capsys, "run", "--resume", str(folder)), f"cannot use {folder / name} (Is a directory)")
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == kept


def killed_fake_run(capsys, tmp_path, tasks) -> Path:
    """A metered run of the fake model cut short: its last two records gone, as a kill leaves it."""
    proc = cli(capsys, "run", "--model", "m=py:fake_models:ShortestChoice", "--tasks-dir", str(tasks), "--tasks", "mc",
               "--no-probes", "--no-progress", "--idle-seconds", "0", "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    (folder,) = folders(tmp_path / "out")
    lines = (folder / "samples.jsonl").read_text().splitlines(keepends=True)
    (folder / "samples.jsonl").write_text("".join(lines[:-2]))
    return folder


@pytest.mark.parametrize("line,needle", [
    ("{}", "windows.jsonl:{n} is not a harness record (path is missing"),
    ('{"path": "run:x", "kind": "run", "duration_s": null, "figures": {}}', "duration_s is None"),
    ('{"path": "run:x", "kind": "run", "duration_s": 1.0}', "figures is missing"),
    ("{not json", "windows.jsonl:{n} is damaged"),
])
def test_a_bad_windows_line_is_refused_before_the_resume_computes_anything(tmp_path, capsys, tasks, line, needle):
    """It used to be met after the resume had computed the missing items: a KeyError traceback
    (or the error) in the energy sums, and no results.json for what was computed."""
    folder = killed_fake_run(capsys, tmp_path, tasks)
    windows = (folder / "windows.jsonl").read_text().splitlines(keepends=True)
    (folder / "windows.jsonl").write_text("".join([windows[0], line + "\n", *windows[1:]]))
    samples = (folder / "samples.jsonl").read_bytes()
    proc = cli(capsys, "run", "--resume", str(folder))
    assert_one_line_error(proc, needle.format(n=2))
    assert (folder / "samples.jsonl").read_bytes() == samples            # refused before anything ran
    if "damaged" not in needle:
        assert "energy of that stretch of work is then not counted" in proc.stderr


@pytest.mark.parametrize("name,needle", [
    ('""', "`name` '' is empty"), ("null", "`name` must be a string, got nothing (null)"), ('"a,b"', "holds a comma"),
    ('"probe:crows_pairs"', "starts with 'probe:'"), ('" mc"', "leading or trailing spaces"),
])
def test_a_task_name_no_option_can_select_or_that_poses_as_a_probe_is_refused(tmp_path, capsys, name, needle):
    """`name: null` ran as a task called "None"; "a,b" could not be chosen with --tasks; "probe:X" mixed its
    records with probe X's in samples.jsonl."""
    write_task(tmp_path / "t" / "x", "x", ROWS, yaml_text=f"name: {name}\nkind: multiple_choice\ndata: data.jsonl\n"
                                                       "prompt: '{question}'\n")
    proc = cli(capsys, "run", "--model", "py:fake_models:ShortestChoice", "--tasks-dir", str(tmp_path / "t"),
               "--no-meters", "--out", str(tmp_path / "out"))
    assert_one_line_error(proc, needle)
    assert folders(tmp_path / "out") == []


def test_a_probe_file_name_is_held_to_the_same_rule(tmp_path, capsys):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "probe.yaml").write_text("name: ''\nprobe: bbq\n")
    assert_one_line_error(cli(capsys, "list", "probes", "--tasks-dir", str(tmp_path / "p")), "`name` '' is empty")


@pytest.mark.parametrize("batch", [[], ["--batch-size", "1"], ["--batch-size", "4"]])
def test_one_item_that_makes_the_model_raise_costs_only_that_item(tmp_path, capsys, tasks, batch):
    """It used to end the task at the failing batch: with every item in one batch, nothing was scored."""
    proc = fake_run(capsys, tmp_path, tasks, "m=py:attack_models:RaisesOn,on=question 2", *batch)
    assert_finished_with_errors(proc, "model 'm'", "task 'mc'", "cannot answer 'question 2'")
    records = [json.loads(line) for line in (proc.folder / "samples.jsonl").read_text().splitlines()]
    assert sorted(r["id"] for r in records) == [f"q{i}" for i in range(6) if i != 2]
    result = task_result(proc.folder)
    assert result["n"] == 5 and result["complete"] is False
    assert result["metrics"]["accuracy"]["n"] == 5 and result["metrics"]["accuracy"]["value"] == 1.0
    failures = json.loads((proc.folder / "results.json").read_text())["run"]["failures"]
    assert [(f["kind"], f["piece"]) for f in failures] == [("task", "mc")]


def test_a_model_that_fails_on_everything_is_given_up_after_three_calls_in_a_row(tmp_path, capsys, tasks):
    from attack_models import RaisesOn
    proc = fake_run(capsys, tmp_path, tasks, "m=py:attack_models:RaisesOn", "--batch-size", "3")
    assert_finished_with_errors(proc, "model 'm'", "cannot answer ''")
    assert RaisesOn.calls == 3           # the batch, then two of its items alone: not every item of the task
    assert (proc.folder / "samples.jsonl").read_text() == ""


def test_a_resume_retries_the_item_that_failed(tmp_path, capsys, tasks):
    proc = fake_run(capsys, tmp_path, tasks, "m=py:attack_models:RaisesOn,on=question 2")
    assert proc.returncode == 3
    run = json.loads((proc.folder / "run.json").read_text())
    run["spec"]["models"][0]["options"] = {"on": "no such text"}            # the model, fixed
    (proc.folder / "run.json").write_text(json.dumps(run))
    assert cli(capsys, "run", "--resume", str(proc.folder)).returncode == 0
    result = task_result(proc.folder)
    assert result["n"] == 6 and result["complete"] is True
    assert json.loads((proc.folder / "results.json").read_text())["run"]["failures"] == []


def test_a_systemic_fault_is_not_retried_item_by_item(tmp_path, capsys, tasks):
    """A server still down after the adapter's own retries (openai_compat's Unreachable) stops the task at once."""
    from attack_models import RaisesOn
    from harness.models.openai_compat import RemoteError, Unreachable
    assert issubclass(Unreachable, RemoteError) and Unreachable.systemic
    proc = fake_run(capsys, tmp_path, tasks, "m=py:attack_models:RaisesOn,systemic=1", "--batch-size", "3")
    assert_finished_with_errors(proc, "model 'm'", "cannot answer ''")
    assert RaisesOn.calls == 1


def test_a_resume_whose_tasks_dir_is_gone_says_to_put_it_back_not_to_pass_tasks_dir(tmp_path, capsys, tasks):
    folder = fake_run(capsys, tmp_path, tasks).folder
    shutil.move(str(tasks), str(tmp_path / "moved"))
    proc = cli(capsys, "run", "--resume", str(folder))
    assert_one_line_error(proc, f"the tasks directory {tasks} run {folder.name} was started with is gone", "put it back")
    assert "--tasks-dir" not in proc.stderr.split("fix:")[1]        # which --resume would refuse


def test_over_long_inputs_cost_only_themselves_though_they_come_first(tmp_path, capsys, monkeypatch):
    """Batches run longest first, so the over-long items fail one after the other: they must not count as
    a model that fails on everything."""
    monkeypatch.syspath_prepend(str(TESTS))
    rows = [{**row, "id": f"long{i}", "question": "word " * 30 + str(i)} for i, row in enumerate(ROWS)] + ROWS
    write_task(tmp_path / "tasks" / "mix", "mix", rows, kind="multiple_choice", prompt="{question}")
    proc = cli(capsys, "run", "--model", "m=py:fake_models:ShortestChoice,max_length=10", "--tasks-dir",
               str(tmp_path / "tasks"), "--tasks", "mix", *QUICK, "--out", str(tmp_path / "out"), "--batch-size", "3")
    assert_finished_with_errors(proc, "task 'mix'", "tokens but model 'm' accepts 10")
    (folder,) = folders(tmp_path / "out")
    assert task_result(folder, task="mix")["n"] == len(ROWS)              # every short item was scored


def test_a_lone_surrogate_from_the_model_is_a_protocol_fault_not_a_crash_while_writing(tmp_path, capsys, monkeypatch):
    """It stopped the run with a UnicodeEncodeError traceback when the record was appended to samples.jsonl."""
    monkeypatch.syspath_prepend(str(TESTS))
    rows = [{"id": f"g{i}", "text": f"say word{i}", "target": f"word{i}"} for i in range(4)]
    write_task(tmp_path / "tasks" / "gen", "gen", rows, kind="generate", prompt="{text}", answer="target")
    proc = cli(capsys, "run", "--model", "m=py:attack_models:LoneSurrogate,on=word2", "--tasks-dir", str(tmp_path / "tasks"),
               "--tasks", "gen", *QUICK, "--out", str(tmp_path / "out"))
    assert_finished_with_errors(proc, "no lone surrogate")
    (folder,) = folders(tmp_path / "out")
    assert task_result(folder, task="gen")["n"] == 3                    # the other items are scored
    (folder / "samples.jsonl").read_text(encoding="utf-8")


def test_a_lone_surrogate_escape_in_task_data_is_refused_naming_the_line(tmp_path, capsys):
    write_task(tmp_path / "tasks" / "mc", "mc", None, kind="multiple_choice", prompt="{question}")
    (tmp_path / "tasks" / "mc" / "data.jsonl").write_text(
        '{"id": "q0", "question": "fine \\ud83d\\ude00", "choices": ["a", "b"], "answer": 0}\n'
        '{"id": "q1", "question": "bad \\ud800", "choices": ["a", "b"], "answer": 0}\n')
    proc = cli(capsys, "run", "--model", "tiny-gpt2", "--tasks-dir", str(tmp_path / "tasks"), "--tasks", "mc",
               "--no-meters", "--out", str(tmp_path / "out"))
    assert_one_line_error(proc, "data.jsonl:2 holds a lone surrogate escape (\\ud800)")
    assert folders(tmp_path / "out") == []


def test_the_store_refuses_a_record_no_utf8_file_can_hold_and_stays_readable(tmp_path):
    """The safety net under probe data and plugins: a failed piece (HarnessError), not a crash mid-line."""
    from harness.errors import HarnessError
    from harness.store import SampleStore
    store = SampleStore(tmp_path / "samples.jsonl")
    good = {"model": "m", "task": "probe:mine", "id": "a", "index": 0, "input": "fine", "scores": {}}
    with store:
        store.append(good)
        with pytest.raises(HarnessError, match=r"'probe:mine' item 'b' holds a lone surrogate \(\\ud800\)"):
            store.append({**good, "id": "b", "input": "bad \ud800"})
    assert store.records() == [good]


def test_a_resume_that_recovers_task_items_runs_the_probes_on_them_too(tmp_path, capsys, tasks):
    """The probes read the task records: after the first run (q2 failed) robustness covered q0, q1, q3-q5
    and was done; the resume scored q2 but robustness never perturbed it (complete, exit 0, a hole)."""
    proc = cli(capsys, "run", "--model", "m=py:attack_models:RaisesOn,on=question 2", "--tasks-dir", str(tasks),
               "--tasks", "mc", "--probes", "robustness", "--no-meters", "--no-progress", "--out", str(tmp_path / "out"))
    assert proc.returncode == 3, proc.stderr
    (folder,) = folders(tmp_path / "out")

    def probed() -> list[str]:
        records = [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]
        return sorted({r["id"].rsplit("|", 1)[1] for r in records if r["task"].startswith("probe:")})
    assert probed() == ["q0", "q1", "q3", "q4", "q5"]
    before = len((folder / "samples.jsonl").read_text().splitlines())
    run = json.loads((folder / "run.json").read_text())
    run["spec"]["models"][0]["options"] = {"on": "no such text"}              # the model, fixed
    (folder / "run.json").write_text(json.dumps(run))
    assert cli(capsys, "run", "--resume", str(folder)).returncode == 0
    assert probed() == [f"q{i}" for i in range(6)]
    records = [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]
    assert len({(r["task"], r["id"]) for r in records}) == len(records)          # nothing computed twice
    per_item = (before - 5) // 5                                               # the probe records of one item
    assert len(records) == before + 1 + per_item


def test_a_resume_preloads_its_models_libraries_too(tmp_path, capsys, tasks, monkeypatch):
    import harness.preload as preload
    started = []
    monkeypatch.setattr(preload, "start", lambda models: started.append([m.name for m in models]))
    proc = fake_run(capsys, tmp_path, tasks, "m=py:attack_models:RaisesOn,on=question 2")
    assert proc.returncode == 3 and started == [["m"]]
    assert cli(capsys, "run", "--resume", str(proc.folder)).returncode == 3      # the same model: the same failure
    assert started == [["m"], ["m"]]
