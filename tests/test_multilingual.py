"""BLEU with sacrebleu's Chinese and Japanese tokenizers chosen per task, recorded in results; Unicode
normalization of predictions and references."""
from __future__ import annotations

import pytest
import sacrebleu

from support import REPO, write_task
from harness.audit import run_audit
from harness.errors import HarnessError
from harness.kinds.base import MetricSpec
from harness.prepared import prepare_task
from harness.run_dir import RunState
from harness.spec import MeterOptions, ModelSpec, RunSpec, load_task_file

ZH_HYP = ["猫坐在垫子上。", "大红的猫看见狗。", "老师帮助孩子"]
ZH_REF = ["猫坐在垫子上了。", "红的猫看见大狗。", "老师帮助了孩子。"]
JA_HYP = ["猫がマットの上に座った。", "今日は雨が降っています。"]
JA_REF = ["猫はマットの上に座っていた。", "今日は雨が降っている。"]


@pytest.mark.parametrize("tokenize, hyps, refs", [("zh", ZH_HYP, ZH_REF), ("char", ZH_HYP, ZH_REF),
                                                   ("ja-mecab", JA_HYP, JA_REF), ("char", JA_HYP, JA_REF)])
def test_bleu_with_a_tokenizer_equals_sacrebleu(tokenize, hyps, refs):
    if tokenize == "ja-mecab":
        pytest.importorskip("MeCab", reason="mecab-python3 + ipadic")
    metric = MetricSpec("bleu", "bleu", options=(("tokenize", tokenize),)).resolve()
    expected = sacrebleu.corpus_bleu(hyps, [refs], tokenize=tokenize).score
    assert metric.corpus_value(hyps, refs) == pytest.approx(expected)
    assert metric.example_value(hyps[0], refs[0]) == pytest.approx(
        sacrebleu.corpus_bleu(hyps[:1], [refs[:1]], tokenize=tokenize).score)
    # the default 13a tokenizer sees one "word" per Chinese sentence: a different, much lower number
    assert metric.corpus_value(hyps, refs) != pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score)
    assert metric.describe()["tokenizer"].startswith(tokenize)


def test_unknown_or_unloadable_tokenizers_are_refused_before_the_run(tmp_path):
    folder = write_task(tmp_path / "t", "t", [{"id": "1", "text": "a", "answer": "a"}], kind="generate",
                        tokenize="zhh")
    with pytest.raises(HarnessError, match="unknown BLEU tokenizer 'zhh'") as err:
        prepare_task(load_task_file(folder / "task.yaml"), None, 0)
    assert "'zh'" in err.value.fix
    folder = write_task(tmp_path / "n", "n", [{"id": "1", "text": "a", "answer": "a"}], kind="generate",
                        normalize="NFD")
    with pytest.raises(HarnessError, match="normalize"):
        load_task_file(folder / "task.yaml")
    folder = write_task(tmp_path / "r", "r", [{"id": "1", "text": "a", "answer": "a"}], kind="generate",
                        tokenize="zh", metrics=["rouge1", "chrf", "bleu"])   # metrics that take no tokenizer keep theirs
    assert [s.options for s in prepare_task(load_task_file(folder / "task.yaml"), None, 0).metrics] == \
        [(), (), (("tokenize", "zh"),)]


def _run(tmp_path, rows, **fields):
    write_task(tmp_path / "tasks" / "g", "g", rows, kind="generate", prompt="{text}", **fields)
    spec = RunSpec(models=(ModelSpec("m", "py", "fake_models:ShortestChoice"),), tasks=("g",),
                   tasks_dirs=(tmp_path / "tasks",), meters=MeterOptions(enabled=False), probes=())
    return run_audit(RunState.create(tmp_path / "out", spec, argv=[]), progress=False).to_json()["models"]["m"]["tasks"]["g"]


@pytest.mark.parametrize("normalize, expected", [("", 0.0), ("NFC", 0.5), ("NFKC", 1.0)])
def test_unicode_normalization_of_predictions_and_references(tmp_path, monkeypatch, normalize, expected):
    monkeypatch.syspath_prepend(str(REPO / "tests"))
    # ShortestChoice generates the context's last word. Row 1: decomposed e + U+0301 vs composed é (NFC and
    # NFKC make them equal); row 2: full-width ＡＢＣ vs ASCII ABC (only NFKC folds them).
    rows = [{"id": "1", "text": "say cafe\u0301", "answer": "caf\u00e9"},
            {"id": "2", "text": "say \uff21\uff22\uff23", "answer": "ABC"}]
    extra = {"normalize": normalize} if normalize else {}
    result = _run(tmp_path, rows, metrics=["exact_match", "bleu"], tokenize="char", **extra)
    assert result["metrics"]["exact_match"]["value"] == expected
    assert result["metrics"]["bleu"]["tokenizer"] == "char" and result["tokenize"] == "char"
    assert result.get("normalize", "") == normalize


def test_the_built_in_bilingual_task_uses_the_chinese_tokenizer():
    task = prepare_task(load_task_file(REPO / "tasks/toyzh/task.yaml"), 3, 0)
    assert task.config.tokenize == "zh" and task.config.normalize == "NFKC"
    bleu = next(s for s in task.metrics if s.name == "bleu").resolve()
    assert bleu.describe() == {"tokenizer": "zh"}
    reference = task.examples[0].fields["chinese"]
    assert bleu.example_value(reference, reference) == pytest.approx(100.0)
    assert " " not in reference and reference.endswith("。")
