"""The safety probe's checks (harness/probes/safety.py): a probe that could only score against nothing is
refused before the run - empty `classifier_labels`, labels the classifier does not have, a classifier that
does not classify or does not load (misspelt), an empty profanity word list (as a pattern it matched
between every two characters) - instead of reporting a flag rate of 0.0 (or 54%) after the tasks ran."""
from __future__ import annotations

import json
import re

import pytest

from support import REPO, assert_one_line_error, run_cli
from harness import catalog
from harness.errors import HarnessError
from harness.probes.detectors import find_profanity

WORDLIST = REPO / "tasks" / "safety" / "profanity_wordlist.txt"


def probe_dir(tmp_path, params: dict | None = None, wordlist: str | None = None):
    folder = tmp_path / "tasks" / "s"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "prompts.jsonl").write_text(json.dumps({"id": "1", "prompt": "hello"}) + "\n")
    data = {"prompts": "prompts.jsonl", "wordlist": wordlist or str(WORDLIST)}
    (folder / "probe.yaml").write_text(f"name: s\nprobe: safety\ndata: {json.dumps(data)}\n"
                                       f"params: {json.dumps(params or {})}\n")
    return tmp_path / "tasks"


def select(tasks_dir):
    return catalog.select_probes(catalog.discover_probes([tasks_dir]), ["s"])


@pytest.mark.parametrize("params, needle", [
    ({"classifier": "minilm", "classifier_labels": []}, "must be a non-empty list of labels"),
    ({"classifier": "minilm", "classifier_labels": ["toxic"]},
     r"\['toxic'\] are not labels of the classifier 'minilm' \(food, sports, technology, weather\)"),
    ({"classifier": "minilm", "classifier_labels": ["wether"]}, "did you mean 'weather'"),
    ({"classifier": "minilm"}, r"\['toxic'\] are not labels"),                     # the default label
    ({"classifier": "tiny-gpt2", "classifier_labels": ["toxic"]}, "the classifier 'tiny-gpt2' does not classify"),
    ({"classifier": "hf-clasifier:/models/x"}, "unknown model adapter 'hf-clasifier'|did you mean hf-classifier"),
    ({"classifier": "encoder:/no/such/model"}, "folder /no/such/model not found"),
    ({"classifier": "minilm,head=/no/such/head"}, "head /no/such/head not found"),
    ({"classifier_labels": ["toxic"]}, "`classifier_labels` is given without `classifier`"),
    ({"classifier_threshold": 0.4}, "`classifier_threshold` is given without `classifier`")])
def test_a_classifier_that_could_flag_nothing_is_refused_before_the_run(tmp_path, params, needle):
    with pytest.raises(HarnessError) as caught:
        select(probe_dir(tmp_path, params))
    assert re.search(needle, str(caught.value)), str(caught.value)


def test_a_classifier_with_the_labels_asked_for_is_taken(tmp_path):
    [config] = select(probe_dir(tmp_path, {"classifier": "minilm", "classifier_labels": ["weather"]}))
    assert config.params["classifier"] == "minilm"


@pytest.mark.parametrize("content", ["", "\n  \n\n"])
def test_an_empty_word_list_is_refused(tmp_path, content):
    (tmp_path / "empty.txt").write_text(content)
    with pytest.raises(HarnessError, match="holds no word"):
        select(probe_dir(tmp_path, wordlist=str(tmp_path / "empty.txt")))
    assert find_profanity("a. b, c!", tmp_path / "empty.txt") == []          # and would match nothing anyway


def test_a_word_list_that_is_a_folder_is_named_so(tmp_path):
    with pytest.raises(HarnessError, match="is a folder"):
        select(probe_dir(tmp_path, wordlist=str(tmp_path)))


def test_a_classifier_known_only_once_loaded_is_checked_then(tmp_path, monkeypatch):
    """A py: classifier's labels are known only once it loads: labels it lacks fail the probe, naming them."""
    from harness.audit import run_audit
    from harness.run_dir import RunState
    from harness.spec import MeterOptions, ModelSpec, RunSpec
    from support import write_task
    monkeypatch.syspath_prepend(str(REPO / "tests"))
    tasks = probe_dir(tmp_path, {"classifier": "py:fake_models:FemaleFlipClassifier", "classifier_labels": ["toxic"]})
    write_task(tasks / "gen", "gen", [{"id": "1", "text": "ECHO fine"}], kind="generate", answer="text")
    spec = RunSpec(models=(ModelSpec("m", "py", "fake_models:EchoAfterMarker"),), tasks=("gen",), tasks_dirs=(tasks,),
                   meters=MeterOptions(enabled=False), probes=("s",))
    results = run_audit(RunState.create(tmp_path / "out", spec, argv=[]), progress=False).to_json()
    [failure] = results["run"]["failures"]
    assert failure["piece"] == "s" and "['toxic'] are not labels of the classifier" in failure["error"]
    assert "s" not in results["models"]["m"]["probes"]


def test_a_misspelt_classifier_exits_2_before_a_run_folder_exists(tmp_path):
    tasks = probe_dir(tmp_path, {"classifier": "tiny-gpt2", "classifier_labels": ["toxic"]})
    out = tmp_path / "out"
    proc = run_cli("run", "--model", "tiny-gpt2", "--tasks", "toylang", "--tasks-dir", str(tasks), "--probes", "s",
                   "--no-meters", "--out", str(out))
    assert_one_line_error(proc, "does not classify")
    assert not out.exists()
