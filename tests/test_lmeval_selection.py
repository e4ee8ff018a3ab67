"""harness.lmeval's selection and refusals: the optional extra, unknown names, code in task files
(!function, metrics loaded by `evaluate.load`, Jinja), hub datasets offline, output types a model
cannot serve, and the inputs a resume checks."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from lmeval_tasks import write
from run_folders import in_process

pytest.importorskip("lm_eval", reason="lm-eval is in the test extra")

RUN = ("--no-probes", "--no-meters", "--no-progress")


@pytest.fixture(scope="module")
def include(tmp_path_factory):
    return write(tmp_path_factory.mktemp("lm_eval_tasks"), n_facts=6, n_gen=4, n_ppl=2)


def run(capsys, out: Path, tasks: str, *extra: str, model: str = "tiny-gpt2"):
    return in_process(capsys, "run", "--model", model, "--tasks", tasks, "--out", str(out), *RUN, *extra)


def one_line_error(proc, *needles: str) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    errors = [line for line in proc.stderr.splitlines() if line.startswith("harness: error:")]
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


def results_of(out: Path) -> dict:
    run_dir = next(p for p in out.iterdir() if p.is_dir())
    return json.loads((run_dir / "results.json").read_text())


def variant(folder: Path, include: Path, name: str, *swaps: tuple[str, str], base: str = "tl_sounds",
            extra: str = "") -> Path:
    """A copy of an include YAML in ``folder``, renamed ``name``, with text swapped and lines added."""
    folder.mkdir(exist_ok=True)
    text = (include / f"{base}.yaml").read_text().replace(f"task: {base}", f"task: {name}")
    for old, new in swaps:
        assert old in text, old
        text = text.replace(old, new)
    (folder / f"{name}.yaml").write_text(text + extra)
    return folder


def test_without_lm_eval_installed_lm_eval_tasks_are_exit_2_with_the_install_line(capsys, tmp_path, include,
                                                                                   monkeypatch):
    monkeypatch.setitem(sys.modules, "lm_eval", None)          # `import lm_eval` now raises ImportError
    proc = run(capsys, tmp_path / "out", "lm-eval:tl_facts", "--lm-eval-include", str(include))
    one_line_error(proc, "lm-eval tasks need the lm-eval package", "pip install -e '.[lm-eval]'")
    assert not (tmp_path / "out").exists()


def test_an_unknown_name_gets_close_matches_from_lm_evals_index(capsys, tmp_path, include):
    proc = run(capsys, tmp_path / "out", "lm-eval:tl_fact", "--lm-eval-include", str(include))
    one_line_error(proc, "unknown lm-eval task, tag or group 'tl_fact'", "did you mean lm-eval:tl_facts")
    proc = run(capsys, tmp_path / "out", "lm-eval:arc_easi")      # lm-eval's built-in index
    one_line_error(proc, "'arc_easi'", "lm-eval:arc_easy")


def test_empty_names_duplicates_and_an_include_without_lm_eval_tasks_are_refused(capsys, tmp_path, include):
    one_line_error(run(capsys, tmp_path / "o", "lm-eval:"), "names no lm-eval task")
    one_line_error(run(capsys, tmp_path / "o", "facts_mc", "--lm-eval-include", str(include)),
                   "--tasks names no lm-eval:NAME task")
    one_line_error(run(capsys, tmp_path / "o", "lm-eval:tl_facts", "--lm-eval-include", str(tmp_path / "nope")),
                   "not found")
    one_line_error(run(capsys, tmp_path / "o", "lm-eval:tl_group,lm-eval:tl_sounds", "--lm-eval-include", str(include)),
                   "lm-eval could not build", "Duplicate task 'tl_sounds'")


def _function_task(folder: Path, include: Path, marker: Path) -> Path:
    variant(folder, include, "tl_shout", extra="process_docs: !function utils.shout\n")
    (folder / "utils.py").write_text(f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n\n"
                                     "def shout(dataset):\n"
                                     "    return dataset.map(lambda d: {**d, 'question': d['question'].upper()})\n")
    return folder


def test_function_in_an_include_folder_runs_only_with_trust_task_code(capsys, tmp_path, include):
    marker = tmp_path / "ran.txt"
    folder = _function_task(tmp_path / "mine", include, marker)
    proc = run(capsys, tmp_path / "out", "lm-eval:tl_shout", "--lm-eval-include", str(folder))
    line = one_line_error(proc, str(folder / "tl_shout.yaml") + ":", "!function utils.shout", "--trust-task-code")
    assert not marker.exists(), line                        # refused before anything was imported
    proc = run(capsys, tmp_path / "out", "lm-eval:tl_shout", "--lm-eval-include", str(folder), "--trust-task-code")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert marker.read_text() == "ran"
    samples = (next(p for p in (tmp_path / "out").iterdir() if p.is_dir()) / "samples.jsonl").read_text()
    assert "WHAT DOES THE" in samples                        # process_docs ran


def test_lm_evals_own_function_tasks_are_library_code():
    from harness.lmeval.index import files_read, resolve
    from harness.lmeval.trust import check
    index = resolve(["hellaswag"], ())                      # hellaswag's process_docs is a !function in lm-eval
    files = files_read(index, ["hellaswag"])
    assert any("!function" in f.read_text() for f in files)
    check(files, trusted=False)                              # no refusal


def test_metrics_loaded_by_evaluate_and_jinja_code_are_refused_without_trust(capsys, tmp_path, include):
    folder = variant(tmp_path / "mine", include, "tl_metric", ("metric: acc", "metric: ./evil_metric.py"))
    one_line_error(run(capsys, tmp_path / "out", "lm-eval:tl_metric", "--lm-eval-include", str(folder)),
                   "tl_metric.yaml", "evaluate.load", "--trust-task-code")
    marker = tmp_path / "jinja.txt"
    evil = "{{ cycler.__init__.__globals__.os.system('touch " + str(marker) + "') }}{{question}}"
    variant(folder, include, "tl_jinja", ('"Question: {{question}}\\nAnswer:"', json.dumps(evil)))
    proc = run(capsys, tmp_path / "out", "lm-eval:tl_jinja", "--lm-eval-include", str(folder))
    one_line_error(proc, "lm-eval could not build", "SecurityError")
    assert not marker.exists()


def _hub_task(folder: Path, include: Path) -> Path:
    text = (include / "tl_sounds.yaml").read_text()
    local = text[text.index("dataset_path"):text.index("output_type")]
    return variant(folder, include, "tl_hub", (local, "dataset_path: harness-test/no-such-dataset\ndataset_name: main\n"))


def test_a_hub_dataset_missing_offline_is_exit_2_within_seconds_with_how_to_download_it(capsys, tmp_path, include,
                                                                                        monkeypatch):
    folder = _hub_task(tmp_path / "mine", include)
    started = time.perf_counter()
    line = one_line_error(run(capsys, tmp_path / "out", "lm-eval:tl_hub", "--lm-eval-include", str(folder)),
                          "'harness-test/no-such-dataset' is not in the local datasets cache",
                          "HF_DATASETS_OFFLINE", "datasets.load_dataset('harness-test/no-such-dataset'")
    assert time.perf_counter() - started < 20, line
    # no offline setting, no network: the 3-second probe says so (here: nothing listens on the port)
    monkeypatch.delenv("HF_DATASETS_OFFLINE")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_ENDPOINT", "https://127.0.0.1:9")
    started = time.perf_counter()
    one_line_error(run(capsys, tmp_path / "out", "lm-eval:tl_hub", "--lm-eval-include", str(folder)),
                   "the hub cannot be reached", "hf download --repo-type dataset harness-test/no-such-dataset")
    assert time.perf_counter() - started < 20


def test_a_sampling_task_is_refused_and_a_model_that_cannot_serve_the_output_type_skips_it(capsys, tmp_path, include):
    folder = variant(tmp_path / "mine", include, "tl_sampled", ("do_sample: false", "do_sample: true\n  temperature: 0.7"),
                     base="tl_gen")
    one_line_error(run(capsys, tmp_path / "o1", "lm-eval:tl_sampled", "--lm-eval-include", str(folder)),
                   "samples its generations", "decodes greedily")
    proc = run(capsys, tmp_path / "o2", "lm-eval:tl_facts", "--lm-eval-include", str(include), model="minilm")
    assert proc.returncode == 3, proc.stderr[-2000:]
    skipped = results_of(tmp_path / "o2")["models"]["minilm"]["skipped"]
    assert skipped == {"lm-eval:tl_facts": "encoder models cannot answer log-likelihood requests"}


@pytest.mark.slow
def test_a_resume_finishes_with_the_same_numbers_and_refuses_changed_task_files(capsys, tmp_path_factory):
    include = write(tmp_path_factory.mktemp("lm_eval_tasks"), n_facts=6, n_gen=4, n_ppl=2)
    out = tmp_path_factory.mktemp("out")
    names = "lm-eval:tl_facts,lm-eval:tl_gen,lm-eval:tl_group"
    assert run(capsys, out, names, "--lm-eval-include", str(include)).returncode == 0
    run_dir = next(p for p in out.iterdir() if p.is_dir())
    whole = json.loads((run_dir / "results.json").read_text())["models"]["tiny-gpt2"]["tasks"]
    lines = (run_dir / "samples.jsonl").read_text().splitlines(keepends=True)
    (run_dir / "samples.jsonl").write_text("".join(lines[::2]))        # half the documents lost
    proc = in_process(capsys, "run", "--resume", str(run_dir), "--no-progress")
    assert proc.returncode == 0, proc.stderr[-2000:]
    resumed = json.loads((run_dir / "results.json").read_text())["models"]["tiny-gpt2"]["tasks"]
    for task, entry in whole.items():
        for key, metric in entry["metrics"].items():
            assert resumed[task]["metrics"][key]["value"] == pytest.approx(metric["value"], rel=1e-6), (task, key)
            assert resumed[task]["metrics"][key]["ci95"] == pytest.approx(metric["ci95"], rel=1e-6), (task, key)
    yaml_file = include / "tl_facts.yaml"
    yaml_file.write_text(yaml_file.read_text().replace("num_fewshot: 3", "num_fewshot: 2"))
    one_line_error(in_process(capsys, "run", "--resume", str(run_dir), "--no-progress"),
                   "inputs of run", "task 'lm-eval:tl_facts'", "changed")
    yaml_file.write_text(yaml_file.read_text().replace("num_fewshot: 2", "num_fewshot: 3"))
    data = include / "data" / "facts_colours.jsonl"
    data.write_text(data.read_text().replace("What colour", "Which colour"))
    one_line_error(in_process(capsys, "run", "--resume", str(run_dir), "--no-progress"),
                   "task 'lm-eval:tl_colours': data, prompt changed")


def test_a_resume_refuses_the_lm_eval_flags_as_any_other_run_option(capsys, tmp_path, include):
    """--lm-eval-include and --trust-task-code are run options (RunSpec): the run.json of the run
    holds them, and a resume that gives them again would change the run half-way."""
    proc = in_process(capsys, "run", "--resume", str(tmp_path), "--lm-eval-include", str(include),
                      "--trust-task-code", "--no-progress")
    one_line_error(proc, "--resume", "--lm-eval-include", "--trust-task-code")
    assert list(tmp_path.iterdir()) == []


def test_the_lm_eval_flags_travel_in_the_typed_run_spec():
    from harness.spec import RunSpec
    spec = RunSpec.from_json({**RunSpec(models=(), tasks=("lm-eval:x",)).to_json(),
                              "lm_eval_include": ["/tmp/a", "/tmp/b"], "trust_task_code": True})
    assert spec.lm_eval_include == (Path("/tmp/a"), Path("/tmp/b")) and spec.trust_task_code is True
    assert RunSpec.from_json(spec.to_json()) == spec


def test_a_template_naming_a_missing_field_is_exit_2_and_a_raising_process_results_fails_only_its_task(
        capsys, tmp_path, include):
    folder = variant(tmp_path / "mine", include, "tl_missing", ("{{question}}", "{{no_such_field}}"))
    one_line_error(run(capsys, tmp_path / "o1", "lm-eval:tl_missing", "--lm-eval-include", str(folder)),
                   "lm-eval", "tl_missing", "no_such_field")
    (folder / "boom.py").write_text("def process(doc, results):\n"
                                    "    if 'crow' in doc['question']:\n        raise ValueError('no crows')\n"
                                    "    return {'acc': 1.0}\n")
    variant(folder, include, "tl_boom", extra="process_results: !function boom.process\n")
    proc = run(capsys, tmp_path / "o2", "lm-eval:tl_boom,lm-eval:tl_colours", "--lm-eval-include", str(folder),
               "--lm-eval-include", str(include), "--trust-task-code")
    assert proc.returncode == 3, proc.stderr[-2000:]
    results = results_of(tmp_path / "o2")
    (failure,) = results["run"]["failures"]
    assert "tl_boom" in failure["error"] and "no crows" in failure["error"] and "ValueError" in failure["error"]
    assert results["models"]["tiny-gpt2"]["tasks"]["lm-eval:tl_colours"]["complete"]


def test_a_tag_brings_its_tasks_without_an_aggregate(capsys, tmp_path, include):
    proc = run(capsys, tmp_path / "out", "lm-eval:tl_facts_by_relation", "--lm-eval-include", str(include),
               "--limit", "2")
    assert proc.returncode == 0, proc.stderr[-2000:]
    tasks = results_of(tmp_path / "out")["models"]["tiny-gpt2"]["tasks"]
    assert sorted(tasks) == ["lm-eval:tl_colours", "lm-eval:tl_sounds"]
    assert all(entry["n"] == 2 and entry["kind"] == "lm-eval:multiple_choice" for entry in tasks.values())
