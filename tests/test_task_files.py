"""Task files, data files, probe data and templates attacked like a hostile or careless user would:
each case is one line `harness: error: ...; fix: ...` (exit 2) before any model loads, and metric
values on edge-case inputs equal the reference libraries'."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import sacrebleu
from rouge_score import rouge_scorer
from sklearn.metrics import f1_score

import results_builder as rb
from support import write_task
from harness import catalog
from harness.calls import blamed_on
from harness.errors import HarnessError, ModelFault
from harness.metrics import Bleu, Chrf, F1Macro, Rouge1, Rouge2, RougeL, RougeLsum, bootstrap
from harness.models.errors import InputTooLong
from harness.prepared import prepare_task
from harness.probes.stats import ratio_ci
from harness.prompts import Template
from harness.spec import load_task_file
from run_folders import in_process as cli

ROWS = [{"id": "a", "text": "hello", "answer": "world"}, {"id": "b", "text": "x", "answer": "y"}]
GEN = "kind: generate\ndata: data.jsonl\n"




def task_file(tmp_path: Path, yaml_text: str, rows=ROWS) -> Path:
    return write_task(tmp_path / "t", "t", rows, yaml_text=yaml_text) / "task.yaml"


def refused(call, *needles: str) -> str:
    with pytest.raises(HarnessError) as info:
        call()
    message = str(info.value)
    assert len(message) < 600 and "\n" not in message, message
    for needle in needles:
        assert needle in message, message
    return message


def prepared(path: Path):
    return prepare_task(load_task_file(path), None, 0)


# ------------------------------------------------------------------ task YAML


@pytest.mark.parametrize("text,needle", [
    ("name: t\n" + GEN + "prompt: '{text}'\nprompt: '{answer}'\n", "key 'prompt' is given twice (first at line 4)"),
    ("name: t\n" + GEN + "fewshot: {num: 1, num: 2}\n", "key 'num' is given twice"),
])
def test_a_key_given_twice_is_refused_not_silently_the_last(tmp_path, text, needle):
    refused(lambda: load_task_file(task_file(tmp_path, text)), needle, "task.yaml:")


@pytest.mark.parametrize("extra,needle", [
    ("prompt: 5\n", "`prompt` must be a string, got 5"),
    ("prompt: [a, b]\n", "`prompt` must be a string, got a list of 2 items"),
    ("answer: [answer]\n", "`answer` must be a string"),
    ("description: {a: 1}\n", "`description` must be a string, got a mapping"),
    ("target_delimiter: 0\n", "`target_delimiter` must be a string"),
])
def test_text_keys_of_the_wrong_type_are_refused_not_read_as_their_python_spelling(tmp_path, extra, needle):
    refused(lambda: load_task_file(task_file(tmp_path, "name: t\n" + GEN + extra)), needle)


@pytest.mark.parametrize("head,needle", [("name:\n", "`name` must be a string, got nothing (null)"),
                                         ("name: t\nkind: [generate]\ndata: data.jsonl\n", "`kind` must be a string"),
                                         ('name: "t\\e[2Jx"\n', "control character U+001B"),
                                         ('name: "\\u202etset"\n', "control character U+202E")])
def test_names_and_kinds_must_be_printable_text(tmp_path, head, needle):
    text = head if "kind" in head else head + GEN
    refused(lambda: load_task_file(task_file(tmp_path, text)), needle)


def test_an_alias_bomb_is_refused_at_once_with_a_short_message(tmp_path):
    """Each key aliases the one before nine times: `prompt` is a list of 9**6 strings, which str()
    used to spell out (megabytes, and a message as long)."""
    keys = ["target_delimiter", "description", "answer", "choices", "prompt"]
    text = "name: t\n" + GEN + "\n".join(["fewshot_delimiter: &a0 [lol,lol,lol,lol,lol,lol,lol,lol,lol]"] + [
        f"{key}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i, key in enumerate(keys, 1)]) + "\n"
    start = time.perf_counter()
    refused(lambda: load_task_file(task_file(tmp_path, text)), "must be a string, got a list of 9 items")
    assert time.perf_counter() - start < 5


def test_an_empty_stop_sequence_is_refused(tmp_path):
    refused(lambda: load_task_file(task_file(tmp_path, "name: t\n" + GEN + "stop: ['\\n', '']\n")),
            "`stop` holds an empty string", "stop: []")


def test_a_task_file_error_is_one_line_exit_2_before_a_run_folder(tmp_path, capsys):
    write_task(tmp_path / "tasks" / "t", "t", ROWS, yaml_text="name: t\n" + GEN + "prompt: '{text}'\nprompt: x\n")
    proc = cli(capsys, "run", "--tasks-dir", str(tmp_path / "tasks"), "--tasks", "t", "--model", "tiny-gpt2",
               "--no-probes", "--out", str(tmp_path / "out"), "--no-progress")
    assert proc.returncode == 2 and proc.stderr.count("harness: error:") == 1 and "given twice" in proc.stderr
    assert not (tmp_path / "out").exists() or not [p for p in (tmp_path / "out").iterdir() if p.is_dir()]


# ------------------------------------------------------------------ data files


@pytest.mark.parametrize("name,data,needle", [
    ("data.jsonl", '{"id": "a", "text": NaN, "answer": "w"}\n', "data.jsonl:1: NaN is not a JSON value"),
    ("data.jsonl", '{"id": "a", "text": "x", "text": "y", "answer": "w"}\n', "key 'text' is given twice"),
    ("data.json", '[{"id": "a", "text": "x", "answer": Infinity}]', "Infinity is not a JSON value"),
    ("data.csv", "id,text,text,answer\na,hi,ho,w\n", "data.csv:1: column 'text' is named twice"),
])
def test_data_that_json_or_csv_would_read_silently_wrong_is_refused(tmp_path, name, data, needle):
    folder = write_task(tmp_path / "t", "t", None, yaml_text=f"name: t\nkind: generate\ndata: {name}\nprompt: '{{text}}'\n")
    (folder / name).write_text(data)
    refused(lambda: prepared(folder / "task.yaml"), needle)


# ------------------------------------------------------------------ probe data


def probe_dir(tmp_path: Path, yaml_text: str, files: dict[str, str]) -> Path:
    folder = tmp_path / "probes" / "p"
    folder.mkdir(parents=True)
    (folder / "probe.yaml").write_text(yaml_text)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder.parent


BBQ_ITEM = {"answer_groups": ["old", "nonOld", "unknown"], "answers": ["A", "B", "C"], "category": "Age",
            "context": "c", "context_condition": "ambig", "id": "q1", "label": 2, "question": "q",
            "question_polarity": "neg", "stereotyped_groups": ["old"]}
CROWS = "name: mine\nprobe: crows_pairs\ndata: {pairs: pairs.jsonl}\n"


@pytest.mark.parametrize("yaml_text,files,needle", [
    (CROWS, {"pairs.jsonl": '{"id": "x", "sent_more": "a", "sent_less": "b", "stereo_antistereo": "stereo"}\n'},
     "pairs.jsonl:1 has no field 'bias_type'"),
    (CROWS, {"pairs.jsonl": "not json\n"}, "pairs.jsonl:1 is not valid JSON"),
    (CROWS, {}, "data file"),
    ("name: mine\nprobe: crows_pairs\n", {}, "`data` names no 'pairs' file"),
    ("name: mine\nprobe: bbq\ndata: {items: i.jsonl}\n", {"i.jsonl": json.dumps({**BBQ_ITEM, "label": 5}) + "\n"},
     "a `label` from 0 to 2"),
    ("name: mine\nprobe: bbq\ndata: {items: i.jsonl}\n", {"i.jsonl": json.dumps({**BBQ_ITEM, "label": "2"}) + "\n"},
     "field 'label' is a string, not a whole number"),
    ("name: mine\nprobe: winobias\ndata: {pro_type1: a.txt, anti_type1: a.txt, pro_type2: a.txt, anti_type2: b.txt}\n",
     {"a.txt": "1 The [doctor] ate\n", "b.txt": "oneword\n"}, "b.txt:1 is not `NUMBER SENTENCE`"),
    ("name: mine\nprobe: weat\ndata: {words: w.json}\n", {"w.json": "{oops"}, "w.json is not valid JSON"),
])
def test_probe_data_problems_are_found_before_the_run(tmp_path, yaml_text, files, needle):
    folder = probe_dir(tmp_path, yaml_text, files)
    refused(lambda: catalog.select_probes(catalog.discover_probes([folder]), ["mine"]), needle)


def test_bad_probe_data_is_exit_2_with_no_traceback(tmp_path, capsys):
    folder = probe_dir(tmp_path, CROWS, {"pairs.jsonl": '{"id": "x"}\n'})
    proc = cli(capsys, "run", "--tasks-dir", str(folder), "--tasks", "toylang", "--probes", "mine", "--model", "tiny-gpt2",
               "--limit", "1", "--out", str(tmp_path / "out"), "--no-progress")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "has no field 'sent_more'" in proc.stderr


def test_a_denominator_of_zero_reads_not_measured_with_its_reason():
    out = ratio_ci([0.0, 0.0], [0.0, 0.0], lambda x: 2 * x - 1, seed=0)
    assert out["value"] is None and out["reason"].startswith("no items in the denominator") and "not_measured" not in out


# ------------------------------------------------------------------ templates


B = 50_000_000      # over the prompt bound; small enough that building it before the fix did not exhaust memory


@pytest.mark.parametrize("prompt", [
    f"{{{{ text.center({B}) }}}}", f"{{{{ text|center({B}) }}}}", f"{{{{ text.zfill({B}) }}}}",
    f"{{{{ '{{:>{B}}}'.format(text) }}}}", f"{{{{ '%{B}s' % text }}}}", f"{{{{ '%*s' % ({B}, text) }}}}",
    f"{{{{ '%{B}s'|format(text) }}}}", f"{{{{ 'a\\nb'|indent({B}) }}}}", "{{ ('\\n' * 9000)|indent('x' * 9000, true) }}",
    "{{ ('a' * 9000).replace('a', 'b' * 9000) }}", "{{ ('a' * 9000)|replace('a', 'b' * 9000) }}",
    "{{ ('a' * 9000)|join('b' * 9000) }}", "{{ ('b' * 9000).join('a' * 9000) }}",
])
def test_padding_replacing_and_joining_past_the_bound_is_refused_before_it_builds(prompt):
    refused(lambda: Template(prompt, "task 't'").render({"text": "hello"}), "would build more than")


def test_nested_loops_stop_at_the_step_budget():
    prompt = ("{% for i in range(1000) %}{% for j in range(1000) %}{% for k in range(1000) %}"
              "{% endfor %}{% endfor %}{% endfor %}{{ text }}")
    start = time.perf_counter()
    refused(lambda: Template(prompt, "task 't'").render({"text": "hello"}), "steps")
    assert time.perf_counter() - start < 10


def test_many_big_literals_stop_at_the_total_budget():
    prompt = "{{ [" + ",".join(["'a' * 999999"] * 40) + "]|length }}"
    refused(lambda: Template(prompt, "task 't'").render({}), "built over")


def test_ordinary_loops_filters_and_formats_still_render():
    prompt = ("{% for x in xs %}{{ loop.index }}:{{ x|upper }} {% endfor %}{{ text|replace('l', 'L') }} "
              "{{ xs|join(', ') }} {{ '%5s|%-3d' % (text, 7) }} {{ '{:>7}'.format(text) }} {{ text|center(9) }}")
    expected = "1:P 2:Q heLLo p, q " + "%5s|%-3d" % ("hello", 7) + " " + "{:>7}".format("hello") + " " + "hello".center(9)
    assert Template(prompt, "t").render({"text": "hello", "xs": ["p", "q"]}) == expected
    assert Template("{{ text }}", "t").fields() == {"text"}


# ------------------------------------------------------------------ metrics against the reference libraries


@pytest.mark.parametrize("prediction,reference", [("a b", "a b"), ("the cat sat", "the cat sat on"), ("", "x y"),
                                                  ("héllo wörld 日本語", "héllo wörld 日本語"), ("", ""), ("a", "b")])
def test_one_examples_bleu_is_sacrebleus_sentence_bleu(prediction, reference):
    assert Bleu.example_value(prediction, reference) == pytest.approx(
        sacrebleu.sentence_bleu(prediction, [reference]).score, abs=1e-9)
    assert Chrf.example_value(prediction, reference) == pytest.approx(
        sacrebleu.sentence_chrf(prediction, [reference]).score, abs=1e-9)


def test_sentence_bleu_follows_the_tasks_tokenizer():
    zh = Bleu.configured(tokenize="zh")
    assert zh.example_value("我爱你", "我爱你") == pytest.approx(
        sacrebleu.sentence_bleu("我爱你", ["我爱你"], tokenize="zh").score)


@pytest.mark.parametrize("preds,refs", [(["", "a b"], ["x y", "a b"]), (["a b", "c"], ["", ""]), ([""], [""]),
                                        (["é ü 日本語 \u202eabc"], ["é ü 日本語 abc"])])
def test_corpus_metrics_on_empty_and_unicode_text_equal_the_libraries(preds, refs):
    assert Bleu.corpus_value(preds, refs) == pytest.approx(sacrebleu.corpus_bleu(preds, [refs]).score, abs=1e-9)
    assert Chrf.corpus_value(preds, refs) == pytest.approx(sacrebleu.corpus_chrf(preds, [refs]).score, abs=1e-9)
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"])
    for metric, kind in ((Rouge1, "rouge1"), (Rouge2, "rouge2"), (RougeL, "rougeL"), (RougeLsum, "rougeLsum")):
        expected = np.mean([scorer.score(r, p)[kind].fmeasure for p, r in zip(preds, refs)])
        assert metric.corpus_value(preds, refs) == pytest.approx(expected, abs=1e-12)


def test_f1_with_a_class_never_predicted_and_bootstraps_of_one_or_identical_items():
    preds, refs = ["a", "a", "a"], ["a", "b", "c"]
    assert F1Macro.corpus_value(preds, refs) == pytest.approx(f1_score(refs, preds, average="macro"))
    for stats in (np.array([[1.0, 1.0]]), np.array([[0.0, 1.0]] * 5)):
        value = bootstrap(stats, lambda t: float(t[0] / t[1]), 200, 0).to_json()
        json.dumps(value, allow_nan=False)
        assert value["stderr"] == 0.0 and value["ci95"][0] == value["ci95"][1] == value["value"]


# ------------------------------------------------------------------ generation budget


def test_max_tokens_past_the_context_is_named_as_such():
    with pytest.raises(ModelFault) as info:
        with blamed_on("tiny-gpt2", "task 't'"):
            raise InputTooLong(0, 205, 128, max_new_tokens=200)
    assert "a prompt of 5 tokens plus max_tokens 200" in info.value.problem and "max_tokens" in info.value.fix


def test_the_embedded_model_says_max_tokens_when_that_is_what_overflows(tmp_path, capsys):
    write_task(tmp_path / "tasks" / "t", "t", ROWS, kind="generate", prompt="{text}", max_tokens=500)
    proc = cli(capsys, "run", "--tasks-dir", str(tmp_path / "tasks"), "--tasks", "t", "--model", "tiny-gpt2", "--limit", "1",
               "--no-probes", "--no-meters", "--out", str(tmp_path / "out"), "--no-progress")
    assert proc.returncode == 3 and "plus max_tokens 500" in proc.stderr and "lower `max_tokens`" in proc.stderr


def test_the_terminal_summary_says_why_a_metric_has_no_value():
    from harness.report.terminal import summary_table
    reason = "no items (none applied, or all were too long for the model)"
    results = rb.results("R", {"m": rb.model(probes={"bbq": rb.probe("bbq", {
        "accuracy_ambiguous": rb.metric(0.5, n=3, ci=(0.3, 0.7), stderr=0.1),
        "accuracy_disambiguated": rb.metric(None, n=0, reason=reason)}, n=3)})})
    text = summary_table(results)
    assert f"not measured for m: probe:bbq accuracy_disambiguated: {reason}" in text
    assert "accuracy_ambiguous:" not in text


@pytest.mark.parametrize("fewshot,needle", [("{data: data.jsonl, num: 5}", "asked for 5 few-shot examples but the pool has 1"),
                                            ("{data: one.jsonl, num: 1, fixed: true}", "the pool has 0")])
def test_too_few_shots_names_the_task_and_the_example(tmp_path, fewshot, needle):
    path = task_file(tmp_path, "name: t\n" + GEN + f"prompt: '{{text}}'\nfewshot: {fewshot}\n")
    (path.parent / "one.jsonl").write_text(json.dumps(ROWS[0]) + "\n")
    refused(lambda: prepared(path), "task 't', example 'a'", needle, "never its own shot")


def test_a_choice_given_twice_is_refused(tmp_path):
    rows = [{"id": "a", "q": "x", "choices": ["yes", "no", "yes"], "answer": 2}]
    path = task_file(tmp_path, "name: t\nkind: multiple_choice\ndata: data.jsonl\nprompt: '{q}'\n", rows)
    refused(lambda: prepared(path), "the choice 'yes' is given twice")
