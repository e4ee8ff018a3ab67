"""Load-time checks of a task against its kind (harness/kinds/base.py check_fit, harness/kinds/classify.py):
metrics that do not fit the kind's predictions, kind-specific keys the kind never reads, a `tokenize`
no metric uses, and classify labels that are typos - each refused before the run (exit 2, naming the
file, the line and the close match), never a number built from the wrong thing or a silently skipped task."""
from __future__ import annotations

import json

import pytest

from support import assert_finished_with_errors, assert_one_line_error, run_cli, write_task
from harness.errors import HarnessError
from harness.prepared import prepare_task
from harness.spec import load_task_file

MC = [{"id": "1", "text": "q", "choices": ["a", "b"], "answer": 0}]
GEN = [{"id": "1", "text": "q", "answer": "a"}]
CLS = [{"id": "1", "text": "q", "label": "food"}]
DOC = [{"id": "1", "text": "a document"}]


def prepare(folder):
    return prepare_task(load_task_file(folder / "task.yaml"), None, 0)


@pytest.mark.parametrize("kind, rows, metric, fits", [
    ("perplexity", DOC, "accuracy", "classify, generate, multiple_choice"),
    ("perplexity", DOC, "exact_match", "classify, generate, multiple_choice"),
    ("multiple_choice", MC, "bleu", "generate"), ("multiple_choice", MC, "rouge1", "generate"),
    ("classify", CLS, "chrf", "generate"), ("generate", GEN, "word_perplexity", "perplexity"),
    ("classify", CLS, "bits_per_byte", "perplexity"), ("multiple_choice", MC, "meteor", "generate")])
def test_a_metric_that_does_not_fit_the_kind_is_refused_naming_the_kinds_it_fits(tmp_path, kind, rows, metric, fits):
    extra = {"answer": "label"} if kind == "classify" else {}
    folder = write_task(tmp_path / "t", "t", rows, kind=kind, metrics=[metric], **extra)
    with pytest.raises(HarnessError, match=f"metric '{metric}' does not fit a {kind} task") as caught:
        prepare(folder)
    assert f"{metric} fits {fits} tasks" in caught.value.problem
    assert "kind's metrics" in caught.value.fix


@pytest.mark.parametrize("kind, rows, metrics", [
    ("multiple_choice", MC, ["accuracy", "f1_macro", "exact_match"]), ("classify", CLS, ["accuracy", "f1_macro"]),
    ("generate", GEN, ["accuracy", "exact_match", "bleu", "chrf", "rouge1", "f1_macro"]),
    ("perplexity", DOC, ["word_perplexity", "byte_perplexity", "bits_per_byte"])])
def test_metrics_that_fit_are_taken(tmp_path, kind, rows, metrics):
    extra = {"answer": "label"} if kind == "classify" else {}
    folder = write_task(tmp_path / "t", "t", rows, kind=kind, metrics=metrics, **extra)
    assert [m.name for m in prepare(folder).metrics] == metrics


@pytest.mark.parametrize("kind, rows, key, value", [
    ("multiple_choice", MC, "tokenize", "zh"), ("multiple_choice", MC, "normalize", "NFKC"),
    ("classify", CLS, "tokenize", "char"), ("classify", CLS, "normalize", "NFC"),
    ("multiple_choice", MC, "stop", ["."]), ("classify", CLS, "max_tokens", 8), ("multiple_choice", MC, "stride", 4),
    ("generate", GEN, "labels", ["a"]), ("generate", GEN, "answer_type", "text"), ("perplexity", DOC, "normalize", "NFC"),
    ("generate", GEN, "tokenize", "zh")])              # a generate task whose metrics tokenize nothing
def test_an_option_the_task_never_uses_is_refused(tmp_path, kind, rows, key, value):
    extra = {"answer": "label"} if kind == "classify" else {}
    if kind == "generate" and key == "tokenize":
        extra["metrics"] = ["exact_match", "chrf"]
    folder = write_task(tmp_path / "t", "t", rows, kind=kind, **{key: value}, **extra)
    with pytest.raises(HarnessError, match=f"`{key}(: {value})?` does nothing") as caught:
        prepare(folder)
    assert str(folder / "task.yaml") in caught.value.fix or "bleu" in caught.value.fix


def test_a_mislabelled_row_is_an_input_error_naming_the_file_line_and_close_match(tmp_path):
    rows = [{"id": str(i), "text": f"t{i}", "label": label} for i, label in
            enumerate(["food", "sports", "weather", "weathr", "food", "spots"])]
    folder = write_task(tmp_path / "tasks" / "topic2", "topic2", rows, kind="classify", answer="label",
                        labels=["food", "sports", "technology", "weather"])
    with pytest.raises(HarnessError) as caught:
        prepare(folder)
    assert f"{folder / 'data.jsonl'}:4 is labelled 'weathr'" in caught.value.problem
    assert "(and 1 more example)" in caught.value.problem and caught.value.fix.startswith("did you mean 'weather'?")
    out = tmp_path / "out"
    proc = run_cli("run", "--model", "minilm", "--tasks-dir", str(tmp_path / "tasks"), "--tasks", "topic2",
                   "--no-probes", "--no-meters", "--out", str(out))
    assert_one_line_error(proc, "data.jsonl:4", "'weathr'", "did you mean 'weather'?")
    assert not out.exists() or not [p for p in out.iterdir() if p.is_dir()]


def test_labels_given_twice_or_empty_are_refused(tmp_path):
    folder = write_task(tmp_path / "t", "t", CLS, kind="classify", answer="label", labels=["food", "food"])
    with pytest.raises(HarnessError, match="'food' twice"):
        prepare(folder)


@pytest.mark.slow
def test_without_labels_a_few_labels_the_model_lacks_fail_the_task_and_another_label_set_is_skipped(tmp_path):
    rows = [{"id": str(i), "text": t, "label": label} for i, (t, label) in enumerate(
        [("The chef cooked soup.", "food"), ("It will rain tomorrow.", "weathr"), ("The match ended.", "sports")])]
    write_task(tmp_path / "tasks" / "typo", "typo", rows, kind="classify", answer="label")
    write_task(tmp_path / "tasks" / "other", "other", [{"id": "1", "text": "x", "label": "positive"}], kind="classify",
               answer="label")
    out = tmp_path / "out"
    proc = run_cli("run", "--model", "minilm", "--tasks-dir", str(tmp_path / "tasks"), "--tasks", "typo,other",
                   "--no-probes", "--no-meters", "--out", str(out))
    assert_finished_with_errors(proc)
    results = json.loads(next(out.glob("*/results.json")).read_text())
    [failure] = results["run"]["failures"]
    assert failure["piece"] == "typo" and "data.jsonl:2 is labelled 'weathr'" in failure["error"]
    assert "did you mean 'weather'?" in failure["fix"]
    assert "not among the model's labels" in results["models"]["minilm"]["skipped"]["other"]
