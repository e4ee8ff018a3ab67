"""Inputs are checked before they are used, and fail cleanly: task files and data, answers, templates,
flags, model specs, probe parameters and what a model answers. Bad input gets exit 2 and one line naming
the problem and the fix, no traceback (task-file and data-file attacks: test_task_files.py; hostile run
options and run folders: test_run_command.py)."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

import results_builder as rb
from support import assert_one_line_error, run_cli, write_task
from harness.calls import guarded
from harness.data import DataSource, load_examples
from harness.errors import HarnessError, ModelFault
from harness.kinds.multiple_choice import MultipleChoice
from harness.prepared import prepare_task
from harness.prompts import Template
from harness.requests import (Classification, ClassifyRequest, Generation, GenerateRequest, Loglikelihood,
                              LoglikelihoodRequest)
from harness.spec import TaskConfig, load_task_file, task_from_mapping
from run_folders import in_process as cli

TESTS = Path(__file__).resolve().parent




def strict_lines(path: Path) -> list[dict]:
    def no_constants(name):
        raise AssertionError(f"{name} written into {path}")
    return [json.loads(line, parse_constant=no_constants) for line in path.read_text().splitlines()]


def one_folder(out: Path) -> Path:
    (folder,) = [p for p in out.iterdir() if not p.name.startswith(".") and p.is_dir()]
    return folder


def mc_task(tmp_path: Path, rows: list[dict], **fields) -> TaskConfig:
    folder = write_task(tmp_path / "t", "mc", rows, kind="multiple_choice", prompt="{question}", **fields)
    return load_task_file(folder / "task.yaml")


def task_error(task: TaskConfig) -> str:
    with pytest.raises(HarnessError) as info:
        prepare_task(task, None, 0)
    return str(info.value)


# ------------------------------------------------------------------ multiple-choice answers


def test_a_numeric_looking_answer_string_is_matched_against_the_choice_texts(tmp_path):
    rows = [{"id": "a", "question": "1+1?", "choices": ["1", "2", "3", "4"], "answer": "2"},
            {"id": "b", "question": "1+2?", "choices": ["1", "2", "3", "4"], "answer": 2}]
    task = mc_task(tmp_path, rows)
    prepared = prepare_task(task, None, 0)
    kind = MultipleChoice()
    assert [kind.target(task, ex) for ex in prepared.examples] == ["2", "3"]    # text "2"; index 2


def test_answer_type_index_reads_digit_strings_as_indexes_and_text_refuses_ints(tmp_path):
    rows = [{"id": "a", "question": "q", "choices": ["x", "y", "z"], "answer": "2"}]
    task = mc_task(tmp_path, rows, answer_type="index")
    assert MultipleChoice().target(task, prepare_task(task, None, 0).examples[0]) == "z"
    rows = [{"id": "a", "question": "q", "choices": ["x", "y", "z"], "answer": 1}]
    assert "answer_type: text" in task_error(mc_task(tmp_path, rows, answer_type="text"))
    with pytest.raises(HarnessError, match="answer_type"):
        task_from_mapping({"name": "t", "kind": "multiple_choice", "data": "d.jsonl", "answer_type": "label"}, tmp_path, "t.yaml")


@pytest.mark.parametrize("answer,needle", [
    (1.7, "float"), (True, "bool"), (None, "null"), ([1], "list"), (4, "out of range"), (-1, "out of range"),
    ("w", "not among"),
])
def test_bad_answers_are_refused_naming_the_task_and_line(tmp_path, answer, needle):
    rows = [{"id": "ok", "question": "q", "choices": ["x", "y", "z", "w2"], "answer": 0},
            {"id": "bad", "question": "q", "choices": ["x", "y", "z", "w2"], "answer": answer}]
    message = task_error(mc_task(tmp_path, rows))
    assert needle in message and "task 'mc'" in message and "'bad'" in message and "data.jsonl:2" in message, message


def test_choices_must_be_texts(tmp_path):
    rows = [{"id": "a", "question": "q", "choices": ["x", None], "answer": 0}]
    assert "data.jsonl:1" in task_error(mc_task(tmp_path, rows))


def test_csv_multiple_choice_holds_its_choices_as_a_json_list(tmp_path):
    folder = tmp_path / "t"
    folder.mkdir()
    (folder / "data.csv").write_text('id,question,choices,answer\nq1,2+2?,"[""3"", ""4"", ""5""]",4\n'
                                     'q2,1+1?,"[""1"", ""2""]",2\n')
    (folder / "task.yaml").write_text("name: csvmc\nkind: multiple_choice\ndata: data.csv\nprompt: '{question}'\n")
    task = load_task_file(folder / "task.yaml")
    prepared = prepare_task(task, None, 0)
    assert [MultipleChoice().target(task, ex) for ex in prepared.examples] == ["4", "2"]
    (folder / "data.csv").write_text('id,question,choices,answer\nq1,2+2?,"[""3"", oops",4\n')
    assert "data.csv:2" in task_error(task)


# ------------------------------------------------------------------ null and missing fields


def test_a_null_reference_is_refused_not_scored_against_the_text_none(tmp_path):
    rows = [{"id": "a", "text": "x", "ref": "y"}, {"id": "b", "text": "x", "ref": None}]
    folder = write_task(tmp_path / "t", "gen", rows, kind="generate", prompt="{text}", answer="ref")
    message = task_error(load_task_file(folder / "task.yaml"))
    assert "'b'" in message and "data.jsonl:2" in message and "null" in message, message


@pytest.mark.parametrize("prompt", ["Q: {text}", "Q: {{ text }}"])
def test_a_null_prompt_field_is_refused(tmp_path, prompt):
    rows = [{"id": "a", "text": "x", "ref": "y"}, {"id": "b", "text": None, "ref": "y"}]
    folder = write_task(tmp_path / "t", "gen", rows, kind="generate", prompt=prompt, answer="ref")
    message = task_error(load_task_file(folder / "task.yaml"))
    assert "data.jsonl:2" in message and "'text'" in message and "null" in message, message


def test_a_short_csv_row_is_refused_naming_its_line(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("id,text,label\na,hello,x\nb,world\n")
    with pytest.raises(HarnessError, match=r"d\.csv:3"):
        load_examples(DataSource(path=path), "task 't'")


def test_a_null_id_is_refused(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"id": null, "text": "x"}\n')
    with pytest.raises(HarnessError, match=r"d\.jsonl:1"):
        load_examples(DataSource(path=path), "task 't'")


# ------------------------------------------------------------------ encodings and file forms


def test_a_csv_with_a_byte_order_mark_keeps_its_id_column(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes("id,text\nfirst,hello\nsecond,world\n".encode("utf-8-sig"))
    assert [ex.id for ex in load_examples(DataSource(path=path), "task 't'")] == ["first", "second"]


@pytest.mark.parametrize("name,data,offset", [
    ("d.jsonl", '{"id": "a", "text": "x"}\n'.encode("utf-16"), 0),
    ("d.csv", "id,text\na,caf\u00e9\n".encode("latin-1"), 13),
    ("d.jsonl", b'{"id": "a"}\n\x89PNG\r\n\x1a\n\x00\x00', 12),
])
def test_text_that_is_not_utf8_names_the_file_and_byte_offset(tmp_path, name, data, offset):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(HarnessError) as info:
        load_examples(DataSource(path=path), "task 't'")
    assert str(path) in str(info.value) and f"offset {offset}" in str(info.value) and "UTF-8" in info.value.fix


def test_a_latin1_task_file_is_exit_2_with_no_traceback(tmp_path):
    folder = write_task(tmp_path / "t", "latin", None, kind="classify", prompt="{text}", answer="label")
    (folder / "data.jsonl").write_bytes('{"id": "a", "text": "caf\u00e9", "label": "x"}\n'.encode("latin-1"))
    proc = run_cli("run", "--tasks-dir", str(tmp_path), "--tasks", "latin", "--out", str(tmp_path / "out"))
    assert_one_line_error(proc, "data.jsonl", "offset 24")
    assert not (tmp_path / "out").exists()


def test_a_json_file_holding_an_array_is_read(tmp_path):
    path = tmp_path / "d.json"
    path.write_text(json.dumps([{"id": "a", "text": "x"}, {"id": "b", "text": "y"}], indent=2))
    assert [ex.id for ex in load_examples(DataSource(path=path), "task 't'")] == ["a", "b"]
    path.write_text(json.dumps([{"id": "a"}, 3]))
    with pytest.raises(HarnessError, match=r"item 1 is not a JSON object"):
        load_examples(DataSource(path=path), "task 't'")


def test_datasets_data_files_resolve_against_the_yaml_folder(tmp_path, monkeypatch):
    folder = tmp_path / "tasks" / "hf"
    folder.mkdir(parents=True)
    (folder / "rows.jsonl").write_text('{"id": "a", "text": "x", "label": "p"}\n')
    (folder / "task.yaml").write_text("name: hf\nkind: classify\nprompt: '{text}'\nanswer: label\n"
                                      "data: {datasets: {path: json, data_files: rows.jsonl, split: train}}\n")
    monkeypatch.chdir(tmp_path)                    # not the YAML's folder
    task = load_task_file(folder / "task.yaml")
    assert task.data.hf["data_files"] == str(folder / "rows.jsonl")
    assert [ex.id for ex in load_examples(task.data, "task 'hf'")] == ["a"]


# ------------------------------------------------------------------ templates


@pytest.mark.parametrize("prompt,needle", [
    ("{{ 1/0 }}", "ZeroDivisionError"),
    ("{{ text + 1 }}", "TypeError"),
    ("{% for i in range(1000000) %}.{% endfor %}", "range"),
    ("{{ 'x' * 10000000 }}", "characters"),
    ("{{ text * 10000000 }}", "characters"),
    ("{% for i in range(9000) %}{{ text * 1000 }}{% endfor %}", "characters"),
    ("{{ 10 ** 100000000 }}", "too large a number"),
    ("{text:>100000000}", "characters"),
])
def test_template_failures_and_limits_name_the_task_and_example_quickly(tmp_path, prompt, needle):
    rows = [{"id": "first", "text": "hello", "label": "a"}]
    folder = write_task(tmp_path / "t", "tpl", rows, kind="classify", prompt=prompt, answer="label")
    started = time.monotonic()
    message = task_error(load_task_file(folder / "task.yaml"))
    assert time.monotonic() - started < 5
    assert needle in message and "task 'tpl'" in message and "'first'" in message and "data.jsonl:1" in message, message


def test_an_ordinary_jinja_template_still_renders():
    source = "{% for c in choices %}{{ loop.index }}. {{ c }}\n{% endfor %}{{ q | upper }}"
    assert Template(source, "t").render({"choices": ["a", "b"], "q": "why"}) == "1. a\n2. b\nWHY"


# ------------------------------------------------------------------ task options


@pytest.mark.parametrize("fields,needle", [
    ({"max_tokens": 0}, "max_tokens"), ({"max_tokens": -5}, "max_tokens"), ({"max_tokens": 2.5}, "max_tokens"),
    ({"max_tokens": True}, "max_tokens"), ({"fewshot": {"num": -1}}, "fewshot.num"),
    ({"fewshot": {"num": 1.9}}, "fewshot.num"), ({"fewshot": {"num": True}}, "fewshot.num"),
])
def test_bad_counts_in_a_task_are_refused(tmp_path, fields, needle):
    raw = {"name": "t", "kind": "generate", "data": "d.jsonl", **fields}
    with pytest.raises(HarnessError, match=needle):
        task_from_mapping(raw, tmp_path, "t.yaml")


def test_unknown_kind_hint_names_a_real_command(tmp_path, capsys):
    write_task(tmp_path / "t", "odd", [{"id": "a", "text": "x"}], kind="banana")
    proc = cli(capsys, "run", "--tasks-dir", str(tmp_path), "--tasks", "odd", "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "unknown task kind 'banana'" in proc.stderr and "list task kinds" not in proc.stderr
    assert "classify, generate, multiple_choice" in proc.stderr


def test_unknown_probe_params_are_refused_with_close_matches(tmp_path, capsys):
    (tmp_path / "p.yaml").write_text("name: myattack\nprobe: word_substitution_attack\nparams: {budjet: 0.2}\n")
    proc = cli(capsys, "run", "--tasks-dir", str(tmp_path), "--tasks", "topic", "--probes", "myattack",
               "--out", str(tmp_path / "out"))
    assert proc.returncode == 2, proc.stderr
    assert "budjet" in proc.stderr and "did you mean 'budget'" in proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("probe,params,needle", [
    ("word_substitution_attack", {"budget": 2}, "budget"), ("word_substitution_attack", {"budget": 0}, "budget"),
    ("robustness", {"perturbations": {"typo": "high"}}, "perturbations.typo"),
    ("robustness", {"perturbations": {"tpyo": 0.1}}, "did you mean typo"),
    ("bbq", {"limit": 3}, "takes none"), ("weat", {"test": ["x"]}, "did you mean 'tests'"),
])
def test_probe_params_are_checked_before_the_run(probe, params, needle):
    from harness.catalog import check_params
    from harness.plugins import PROBES
    from harness.probes.base import ProbeConfig
    with pytest.raises(HarnessError) as info:
        check_params(ProbeConfig(name="p", probe=probe, params=params, source="p.yaml"), PROBES.get(probe))
    assert needle in str(info.value) and "p.yaml" in str(info.value), str(info.value)


# ------------------------------------------------------------------ command-line options


@pytest.mark.parametrize("flag,value", [
    ("--carbon-intensity", "nan"), ("--carbon-intensity", "inf"), ("--carbon-intensity", "-1"), ("--pue", "nan"),
    ("--pue", "0.5"), ("--sample-period-ms", "nan"), ("--sample-period-ms", "0"), ("--idle-seconds", "nan"),
    ("--idle-seconds", "-inf"), ("--idle-seconds", "1e309"),
])
def test_float_options_must_be_finite_and_in_range(tmp_path, capsys, flag, value):
    proc = cli(capsys, "run", "--tasks", "facts_mc", "--limit", "1", "--no-probes", flag, value,
               "--out", str(tmp_path / "out"))
    assert proc.returncode == 2, proc.stderr
    assert flag in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args,needle", [
    (["--model", "tiny-gtp2"], "unknown model 'tiny-gtp2'"),
    (["--model", "tiny-gpt2", "--device", "cuda"], "no CUDA GPU"),
    (["--model", "tiny-gpt2", "--dtype", "float7"], "unknown dtype 'float7'"),
    (["--model", "hf-causal:/no/such/folder"], "/no/such/folder not found"),
    (["--model", "hf-causal"], "no folder or hub name"),
    (["--model", "py:no_such_module_here:Model"], "cannot import no_such_module_here"),
    (["--model", "py:fake_models:NoSuchClass"], "NoSuchClass"),
    (["--model", "tiny-gpt2,revison=main"], "unknown option 'revison'"),
    (["--model", "hf-causal:/tmp,revison=main"], "did you mean 'revision'"),
    (["--model", "py:fake_models:ShortestChoice,oom_abov=2"], "did you mean 'oom_above'"),
    (["--model", "encoder:/tmp,head=/no/such/head"], "/no/such/head"),
    (["--model", "ev\x1b[2Jil=tiny-gpt2"], "control character U+001B"),      # an ANSI escape in the summary
    (["--model", "ev\nil=tiny-gpt2"], "control character U+000A"),          # a name over two log lines
    (["--model", "\u202eevil=tiny-gpt2"], "control character U+202E"),      # reversed text in CI logs
])
def test_model_spec_errors_come_before_a_run_folder(tmp_path, capsys, monkeypatch, args, needle):
    if needle == "no CUDA GPU":
        import torch
        if torch.cuda.is_available():
            pytest.skip("this machine has a GPU")
    monkeypatch.syspath_prepend(str(TESTS))
    proc = cli(capsys, "run", *args, "--tasks", "facts_mc", "--limit", "1", "--no-probes", "--no-meters",
               "--out", str(tmp_path / "out"))
    assert proc.returncode == 2, proc.stderr
    assert needle in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()


def test_show_into_a_closed_pipe_exits_quietly(tmp_path):
    metrics = {"accuracy": rb.metric(0.5, ci=(0.3, 0.7), stderr=0.1)}
    rb.write(tmp_path, rb.results("r", {"m": rb.model(tasks={f"task{i}": rb.task(metrics, n=1) for i in range(5000)})}))
    proc = subprocess.Popen([sys.executable, "-m", "harness", "show", str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()                    # as `| head -1` does
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err


# ------------------------------------------------------------------ what a model answers


def _fault(call, requests) -> ModelFault:
    with pytest.raises(ModelFault) as info:
        guarded(call, "mymodel", "task 'x'")(requests)
    assert info.value.model == "mymodel" and info.value.what == "task 'x'" and "'mymodel'" in info.value.problem
    return info.value


@pytest.mark.parametrize("answer,needle", [
    (None, "NoneType"), ("text", "str"), ([Generation("x", 1)], "Generation"),
    ([Loglikelihood(None, False, 1)], "logprob"), ([Loglikelihood("-1", False, 1)], "logprob"),
    ([Loglikelihood(-1.0, False, None)], "n_tokens"), ([Loglikelihood(-1.0, "yes", 1)], "is_greedy"),
])
def test_loglikelihood_answers_are_checked_against_the_protocol(answer, needle):
    assert needle in _fault(lambda rs: answer, [LoglikelihoodRequest("c", " x")]).problem


@pytest.mark.parametrize("request_,answer,needle", [
    (GenerateRequest("c"), [Generation(None, 1)], "text"),
    (GenerateRequest("c"), [Generation("x", 1.5)], "n_tokens"),
    (ClassifyRequest("c"), [Classification(1)], "label"),
    (ClassifyRequest("c"), [Classification("a", probs=[0.1])], "probs"),
    (ClassifyRequest("c"), [Classification("a", probs={"a": "high"})], "probs"),
])
def test_generation_and_classification_answers_are_checked(request_, answer, needle):
    assert needle in _fault(lambda rs: answer, [request_]).problem


def test_a_model_exception_is_a_model_fault():
    def raises(requests):
        raise KeyError("boom")
    assert "KeyError" in _fault(raises, [ClassifyRequest("c")]).problem


def test_a_harness_error_raised_by_a_model_is_a_model_fault():
    def raises(requests):
        raise HarnessError("my adapter gave up", "ask its author")
    assert "my adapter gave up" in _fault(raises, [ClassifyRequest("c")]).problem


def test_what_probes_call_directly_is_guarded_too():
    from harness.calls import GuardedAdapter

    class Encoder:
        info, supports = "info", frozenset()

        def token_count(self, text):
            return 1.5

        def embed(self, texts):
            raise RuntimeError("bad weights")

        def classify(self, requests):
            return [Classification(3)]
    guarded_encoder = GuardedAdapter(Encoder(), "enc", "probe 'weat'")
    assert guarded_encoder.info == "info" and guarded_encoder.supports == frozenset()
    for call, needle in [(lambda: guarded_encoder.embed(["x"]), "RuntimeError in embed"),
                         (lambda: guarded_encoder.token_count("x"), "token_count gave 1.5"),
                         (lambda: guarded_encoder.classify([ClassifyRequest("x")]), "label=3")]:
        with pytest.raises(ModelFault) as info:
            call()
        assert needle in info.value.problem and info.value.model == "enc" and info.value.what == "probe 'weat'"


def test_numpy_numbers_in_answers_become_plain_json_numbers():
    import numpy as np
    (answer,) = guarded(lambda rs: [Loglikelihood(np.float32(-1.5), np.bool_(True), np.int64(2))], "m", "t")(
        [LoglikelihoodRequest("c", " x")])
    assert type(answer.logprob) is float and type(answer.is_greedy) is bool and type(answer.n_tokens) is int
    json.dumps([answer.logprob, answer.is_greedy, answer.n_tokens])


MIXED = [{"id": f"q{i}", "question": f"{'poison ' if i == 1 else ''}question {i}", "choices": ["aa", "b", "ccc"],
          "answer": 1} for i in range(4)]


@pytest.mark.parametrize("how", ["nan", "inf"])
def test_non_finite_log_likelihoods_are_counted_per_task_not_scored(tmp_path, capsys, monkeypatch, how):
    monkeypatch.syspath_prepend(str(TESTS))
    write_task(tmp_path / "t", "mixed", MIXED, kind="multiple_choice", prompt="{question}")
    proc = cli(capsys, "run", "--model", f"m=py:fake_models:Misbehaves,how={how}", "--tasks-dir", str(tmp_path),
               "--tasks", "mixed", "--no-probes", "--no-meters", "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    folder = one_folder(tmp_path / "out")
    records = strict_lines(folder / "samples.jsonl")
    (bad,) = [r for r in records if r["id"] == "q1"]
    assert bad["invalid"].startswith("non-finite log-likelihood") and bad["scores"] == {}
    assert all("invalid" not in r for r in records if r["id"] != "q1")
    result = json.loads((folder / "results.json").read_text())["models"]["m"]["tasks"]["mixed"]
    assert result["invalid"] == {"n": 1, "reasons": {bad["invalid"]: 1}}
    assert result["n"] == 3 and result["complete"] is True
    assert result["metrics"]["accuracy"]["n"] == 3 and result["metrics"]["accuracy"]["value"] == 1.0
    assert f"invalid for m: mixed: 1 not scored ({bad['invalid']}: 1)" in proc.stdout


def test_a_task_whose_every_answer_is_non_finite_reads_not_measured(tmp_path, capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))
    rows = [{**row, "question": "poison " + row["question"]} for row in MIXED]
    write_task(tmp_path / "t", "allbad", rows, kind="multiple_choice", prompt="{question}")
    proc = cli(capsys, "run", "--model", "m=py:fake_models:Misbehaves", "--tasks-dir", str(tmp_path),
               "--tasks", "allbad", "--no-probes", "--no-meters", "--out", str(tmp_path / "out"))
    assert proc.returncode == 3, proc.stderr                # scored nothing: a failure (issue 19), results still written
    assert "m/allbad scored no item" in proc.stderr
    result = json.loads((one_folder(tmp_path / "out") / "results.json").read_text())["models"]["m"]["tasks"]["allbad"]
    assert result["invalid"]["n"] == 4 and result["n"] == 0
    assert all(m["value"] is None and m["reason"] for m in result["metrics"].values())


def test_non_finite_scores_in_a_probe_are_counted_and_results_stay_json(tmp_path, capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))
    write_task(tmp_path / "tasks" / "t", "mixed", MIXED, kind="multiple_choice", prompt="{question}")
    item = {"context": "A and B met.", "question": "Who?", "answers": ["A", "B", "unknown"],
            "answer_groups": ["x", "y", "unknown"], "label": 2, "category": "Age", "context_condition": "ambig",
            "question_polarity": "neg", "stereotyped_groups": ["x"]}
    items = [{**item, "id": "i0"}, {**item, "id": "i1", "context": "poison A and B met."}]
    folder = tmp_path / "tasks" / "mybbq"
    folder.mkdir()
    (folder / "items.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    (folder / "probe.yaml").write_text("name: mybbq\nprobe: bbq\ndata: {items: items.jsonl}\n")
    proc = cli(capsys, "run", "--model", "m=py:fake_models:Misbehaves", "--tasks-dir", str(tmp_path / "tasks"),
               "--tasks", "mixed", "--probes", "mybbq", "--no-meters", "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    out = one_folder(tmp_path / "out")
    records = [r for r in strict_lines(out / "samples.jsonl") if r["task"] == "probe:mybbq"]
    assert [("invalid" in r) for r in sorted(records, key=lambda r: r["id"])] == [False, True]
    probe = json.loads((out / "results.json").read_text())["models"]["m"]["probes"]["mybbq"]
    assert probe["invalid"]["n"] == 1 and probe["metrics"]["accuracy_ambiguous"]["n"] == 1


@pytest.mark.parametrize("how,needle", [
    ("none", "NoneType"), ("string", "str"), ("int_label", "label"), ("wrong_type", "Generation"),
    ("count_none", "token_count"), ("raise", "KeyError"),
])
def test_a_misbehaving_model_is_a_recorded_failure_naming_it(tmp_path, capsys, monkeypatch, how, needle):
    monkeypatch.syspath_prepend(str(TESTS))
    rows = [{"id": "a", "text": "a b", "label": "a"}, {"id": "b", "text": "c d", "label": "b"}]
    write_task(tmp_path / "t", "cls", rows, kind="classify", prompt="{text}", answer="label")
    proc = cli(capsys, "run", "--model", f"bad=py:fake_models:Misbehaves,how={how}", "--tasks-dir", str(tmp_path),
               "--tasks", "cls", "--no-probes", "--no-meters", "--out", str(tmp_path / "out"))
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr
    (failure,) = json.loads((one_folder(tmp_path / "out") / "results.json").read_text())["run"]["failures"]
    assert failure["model"] == "bad" and (failure["kind"], failure["piece"]) == ("task", "cls")
    assert "'bad'" in failure["error"] and needle in failure["error"], failure


@pytest.mark.parametrize("reader", ["data.jsonl", "data.json", "run.json", "history run.json"])
def test_json_nested_past_the_parser_stack_is_one_line(tmp_path, reader):
    from harness.data import DataSource, load_examples
    from harness.errors import HarnessError
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(HarnessError):
        if reader.startswith("data"):
            (tmp_path / reader).write_text(deep + "\n")
            load_examples(DataSource(path=tmp_path / reader), "task 't'")
        elif reader == "run.json":
            from harness.run_dir import RunState
            (tmp_path / "run.json").write_text(deep)
            RunState.load(tmp_path)
        else:
            from harness.history import read_entry
            rb.write(tmp_path, rb.results("r"), samples=None)
            (tmp_path / "run.json").write_text(deep)
            read_entry(tmp_path)


# --- bad input at the command line: one line, exit 2 -----------------------------------------------
MC_ROWS = [{"id": "a", "question": "2+2?", "choices": ["3", "4"], "answer": 1}]


def test_malformed_yaml(tmp_path):
    write_task(tmp_path / "t", "broken", MC_ROWS, yaml_text="name: broken\nkind: [multiple_choice\ndata: data.jsonl\n")
    proc = run_cli("run", "--tasks-dir", str(tmp_path), "--model", "tiny-gpt2", "--out", str(tmp_path / "out"))
    assert_one_line_error(proc, "malformed YAML", "task.yaml:")
    assert not (tmp_path / "out").exists()     # nothing half-made


def test_unknown_task_suggests_close_names(tmp_path):
    proc = run_cli("run", "--tasks", "facts_mcq", "--out", str(tmp_path))
    assert_one_line_error(proc, "unknown task 'facts_mcq'", "did you mean facts_mc")


def test_unknown_model_adapter_suggests_close_names(tmp_path):
    proc = run_cli("run", "--model", "tiny-gtp2", "--out", str(tmp_path))
    assert_one_line_error(proc, "unknown model 'tiny-gtp2'", "tiny-gpt2")


def test_missing_data_file(tmp_path):
    write_task(tmp_path / "t", "nodata", None, kind="multiple_choice")
    proc = run_cli("run", "--tasks-dir", str(tmp_path), "--tasks", "nodata", "--out", str(tmp_path / "out"))
    assert_one_line_error(proc, "data file", "data.jsonl not found")


def test_empty_dataset(tmp_path):
    write_task(tmp_path / "t", "empty", [], kind="multiple_choice")
    proc = run_cli("run", "--tasks-dir", str(tmp_path), "--tasks", "empty", "--out", str(tmp_path / "out"))
    assert_one_line_error(proc, "is empty")


@pytest.mark.parametrize("fields,needle", [
    ({"kind": "multiple_choice", "promt": "{question}"}, "unknown key 'promt'"),
    ({"kind": "multiple_chioce"}, "unknown task kind 'multiple_chioce'"),
    ({"kind": "multiple_choice", "metrics": ["acuracy"]}, "unknown metric 'acuracy'"),
    ({"kind": "multiple_choice", "prompt": "{question.__class__}"}, "template"),
    ({"kind": "multiple_choice", "prompt": "{questoin}"}, "template"),
    ({"kind": "multiple_choice", "answer": "gold"}, "no field 'gold'"),
])
def test_task_definition_mistakes(tmp_path, fields, needle):
    write_task(tmp_path / "t", "bad", MC_ROWS, **{"prompt": "{question}", **fields})
    proc = run_cli("run", "--tasks-dir", str(tmp_path), "--tasks", "bad", "--out", str(tmp_path / "out"))
    assert_one_line_error(proc, needle)


def test_bad_jsonl_line_is_named(tmp_path):
    folder = write_task(tmp_path / "t", "badjson", MC_ROWS, kind="multiple_choice")
    (folder / "data.jsonl").write_text('{"id": "a", "question": "q", "choices": ["x", "y"], "answer": 0}\n{oops\n')
    proc = run_cli("run", "--tasks-dir", str(tmp_path), "--tasks", "badjson", "--out", str(tmp_path / "out"))
    assert_one_line_error(proc, "data.jsonl:2 is not valid JSON")


def test_bad_flags(tmp_path):
    assert_one_line_error(run_cli("run", "--limit", "-1"), "--limit", "is not a whole number at least 1")
    assert_one_line_error(run_cli("run", "--bogus"), "unknown option '--bogus' of `harness run`")
    assert_one_line_error(run_cli("show", str(tmp_path)), "no results.json")
    assert_one_line_error(run_cli("run", "--resume", str(tmp_path)), "not a run folder")
    assert_one_line_error(run_cli("run", "--model", "hf-causal:/no/such/folder", "--tasks", "facts_mc",
                                  "--out", str(tmp_path)), "not found")


def test_unknown_probe_suggests_close_names(tmp_path):
    proc = run_cli("run", "--probes", "crows_pair", "--out", str(tmp_path))
    assert_one_line_error(proc, "unknown probe 'crows_pair'", "did you mean crows_pairs")
    assert_one_line_error(run_cli("run", "--probe-limit", "-1"), "--probe-limit: -1 is not a whole number at least 1")
