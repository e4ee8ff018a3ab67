"""Perplexity: rolling windows, the loglikelihood_rolling request and the perplexity task kind, checked
against lm-evaluation-harness 0.4 (its own HFLM and metric code on the same model folder and text)."""
from __future__ import annotations

import dataclasses
import json
import math
import random

import pytest

from support import REPO, write_task
from harness.audit import run_audit
from harness.models.rolling import rolling_windows
from harness.run_dir import RunState
from harness.spec import MeterOptions, ModelSpec, RunSpec

lm_eval_utils = pytest.importorskip("lm_eval.utils", reason="lm-eval is in the test extra")


def test_rolling_windows_are_lm_evals_for_every_length_and_stride():
    rng = random.Random(0)
    for _ in range(300):
        max_len = rng.randint(1, 12)
        stride = rng.randint(1, max_len)
        tokens = [rng.randint(1, 50) for _ in range(rng.randint(0, 40))]
        theirs = [lm_eval_utils.make_disjoint_window(w) for w in lm_eval_utils.get_rolling_token_windows(
            token_list=tokens, prefix_token=0, max_seq_len=max_len, context_len=max_len - stride + 1)]
        ours = list(rolling_windows(tokens, 0, max_len, stride))
        assert ours == theirs, (max_len, stride, tokens)
        assert [t for _, cont in ours for t in cont] == tokens          # every token predicted once
        assert all(len(ctx) + len(cont) - 1 <= max_len for ctx, cont in ours)
    assert list(rolling_windows([5, 6, 7], 0, 4)) == [([0], [5, 6, 7])]
    with pytest.raises(ValueError):
        list(rolling_windows([1, 2], 0, 4, stride=5))


def _docs(n: int) -> list[dict]:
    return [json.loads(line) for line in (REPO / "tasks/toytext/test.jsonl").read_text().splitlines()[:n]]


def _harness_metrics(tmp_path, docs, stride=None) -> tuple[dict, list[dict]]:
    extra = {} if stride is None else {"stride": stride}
    write_task(tmp_path / "tasks" / "ppl", "ppl", docs, kind="perplexity", prompt="{text}", **extra)
    spec = RunSpec(models=(ModelSpec("tiny-gpt2", "tiny-gpt2"),), tasks=("ppl",), tasks_dirs=(tmp_path / "tasks",),
                   meters=MeterOptions(enabled=False), probes=())
    state = RunState.create(tmp_path / "out", spec, argv=[])
    result = run_audit(state, progress=False).to_json()["models"]["tiny-gpt2"]["tasks"]["ppl"]
    records = [json.loads(x) for x in state.samples_path.read_text().splitlines()]
    return result, records


@pytest.mark.slow
def test_perplexity_equals_lm_evals_wikitext_metrics_on_the_same_model_and_text(tmp_path):
    """lm-eval's HFLM.loglikelihood_rolling on the tiny-gpt2 folder, then its process_results counts and
    its weighted_perplexity / bits_per_byte aggregations: our three values agree to 1e-4."""
    from lm_eval.api.instance import Instance
    from lm_eval.api.metrics import bits_per_byte, weighted_perplexity
    from lm_eval.api.task import ConfigurableTask
    from lm_eval.models.huggingface import HFLM

    docs = _docs(6)
    docs.append({"id": "short", "text": "  The cow says moo.\n"})                  # one window, edge whitespace
    ours, records = _harness_metrics(tmp_path, docs)
    lm = HFLM(pretrained=str(REPO / "model/tiny-gpt2"), device="cpu", batch_size=4)
    instances = [Instance(request_type="loglikelihood_rolling", doc={}, arguments=(d["text"],), idx=i)
                 for i, d in enumerate(docs)]
    lls = lm.loglikelihood_rolling(instances, disable_tqdm=True)
    words = [(ll, ConfigurableTask.count_words(d["text"])) for ll, d in zip(lls, docs)]
    nbytes = [(ll, ConfigurableTask.count_bytes(d["text"])) for ll, d in zip(lls, docs)]
    by_id = {r["id"]: r for r in records}
    for ll, d in zip(lls, docs):
        assert by_id[d["id"]]["scores"]["loglikelihood"] == pytest.approx(ll, abs=1e-3)
    assert ours["metrics"]["word_perplexity"]["value"] == pytest.approx(weighted_perplexity(words), abs=1e-4)
    assert ours["metrics"]["byte_perplexity"]["value"] == pytest.approx(weighted_perplexity(nbytes), abs=1e-4)
    assert ours["metrics"]["bits_per_byte"]["value"] == pytest.approx(bits_per_byte(nbytes), abs=1e-4)
    assert all(not m["higher_is_better"] for m in ours["metrics"].values())
    lo, hi = ours["metrics"]["bits_per_byte"]["ci95"]
    assert lo < ours["metrics"]["bits_per_byte"]["value"] < hi


@pytest.mark.slow
def test_a_stride_scores_each_token_with_more_context_as_lm_evals_windows_with_that_context(tmp_path):
    """stride 32 in a 128-token model: lm-eval's get_rolling_token_windows with context_len 97 give the
    windows; each scored with the model's own forward pass must add up to our document log-likelihood."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    docs = _docs(2)
    _, records = _harness_metrics(tmp_path, docs, stride=32)
    folder = str(REPO / "model/tiny-gpt2")
    tok, model = AutoTokenizer.from_pretrained(folder), AutoModelForCausalLM.from_pretrained(folder).eval()
    by_id = {r["id"]: r for r in records}
    for d in docs:
        ids = tok(d["text"], add_special_tokens=False, verbose=False)["input_ids"]
        total, n = 0.0, 0
        for ctx, cont in map(lm_eval_utils.make_disjoint_window, lm_eval_utils.get_rolling_token_windows(
                ids, tok.bos_token_id, 128, 128 - 32 + 1)):
            with torch.inference_mode():
                logits = model(torch.tensor([(ctx + cont)[:-1]])).logits[0].log_softmax(-1)
            total += float(logits[len(ctx) - 1:].gather(1, torch.tensor(cont)[:, None]).sum())
            n += len(cont)
        assert by_id[d["id"]]["scores"]["tokens"] == n == len(ids)
        assert by_id[d["id"]]["scores"]["loglikelihood"] == pytest.approx(total, abs=1e-3)


def test_adapters_without_rolling_loglikelihoods_skip_perplexity_tasks_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "tests"))
    write_task(tmp_path / "tasks" / "ppl", "ppl", [{"id": "a", "text": "hello world"}], kind="perplexity")
    spec = RunSpec(models=(ModelSpec("m", "py", "fake_models:ShortestChoice"),), tasks=("ppl",),
                   tasks_dirs=(tmp_path / "tasks",), meters=MeterOptions(enabled=False), probes=())
    results = run_audit(RunState.create(tmp_path / "out", spec, argv=[]), progress=False).to_json()
    assert results["models"]["m"]["skipped"]["ppl"] == "fake models cannot answer rolling log-likelihood requests"
    assert results["models"]["m"]["tasks"] == {}


def test_perplexity_metrics_by_hand():
    from harness.metrics.perplexity import BitsPerByte, BytePerplexity, WordPerplexity
    # two documents: ll -10 over 4 words / 20 bytes, ll -6 over 2 words / 12 bytes
    rows = [{"loglikelihood": -10.0, "words": 4, "bytes": 20}, {"loglikelihood": -6.0, "words": 2, "bytes": 12}]
    assert WordPerplexity.record_stats([], [], rows).sum(0).tolist() == [-16.0, 6.0]
    import harness.metrics               # its WordPerplexity: the evaluate.Metric, built from the statistics class
    assert harness.metrics.WordPerplexity().compute(loglikelihood=[-10.0, -6.0], words=[4, 2])["word_perplexity"] == \
        pytest.approx(math.exp(16 / 6))
    assert BytePerplexity.value_from_totals(BytePerplexity.record_stats([], [], rows).sum(0)) == \
        pytest.approx(math.exp(0.5))
    assert BitsPerByte.record_value("", "", rows[0]) == pytest.approx(0.5 / math.log(2))


def test_a_perplexity_task_refuses_few_shot_and_a_bad_stride(tmp_path):
    from harness.errors import HarnessError
    from harness.spec import load_task_file
    from harness.prepared import prepare_task
    folder = write_task(tmp_path / "t", "ppl", [{"id": "a", "text": "x"}], kind="perplexity", stride=0)
    with pytest.raises(HarnessError, match="stride"):
        load_task_file(folder / "task.yaml")
    folder = write_task(tmp_path / "u", "ppl", [{"id": "a", "text": "x"}], kind="perplexity",
                        fewshot={"data": "data.jsonl", "num": 1})
    with pytest.raises(HarnessError, match="few-shot"):
        prepare_task(load_task_file(folder / "task.yaml"), None, 0)
    folder = write_task(tmp_path / "v", "ppl", [{"id": "a", "text": "x"}, {"id": "b", "text": " \n"}], kind="perplexity")
    with pytest.raises(HarnessError, match="example 'b'.*empty document"):
        prepare_task(load_task_file(folder / "task.yaml"), None, 0)


def test_comparing_two_models_on_a_perplexity_and_a_chinese_bleu_task(tmp_path, monkeypatch):
    """compare reads the score metrics from each record's scores and BLEU with the task's tokenizer."""
    from harness.compare import compare_within
    monkeypatch.syspath_prepend(str(REPO / "tests"))

    def compared(models, task, rows, **fields):
        write_task(tmp_path / task / "tasks" / task, task, rows, prompt="{text}", **fields)
        spec = RunSpec(models=models, tasks=(task,), tasks_dirs=(tmp_path / task / "tasks",),
                       meters=MeterOptions(enabled=False), probes=())
        state = RunState.create(tmp_path / task / "out", spec, argv=[])
        results = run_audit(state, progress=False)
        records = [json.loads(x) for x in state.samples_path.read_text().splitlines()]
        return results.to_json(), compare_within(results, records, "a", resamples=50).to_json()["models"]["b"]["tasks"][task]

    results, stats = compared((ModelSpec("a", "tiny-gpt2"), ModelSpec("b", "tiny-gpt2")), "ppl", _docs(2),
                              kind="perplexity")
    ours = results["models"]["a"]["tasks"]["ppl"]["metrics"]["word_perplexity"]["value"]
    assert stats["word_perplexity"]["baseline"] == pytest.approx(ours) and stats["word_perplexity"]["delta"] == 0
    # echoed "猫坐在垫子上" against "猫坐在垫子上了": one 13a "word" each (BLEU 0), six zh tokens of seven
    rows = [{"id": str(i), "text": "ECHO 猫坐在垫子上", "answer": "猫坐在垫子上了"} for i in range(3)]
    echo = ModelSpec("a", "py", "fake_models:EchoAfterMarker")
    results, stats = compared((echo, dataclasses.replace(echo, name="b")), "zh", rows, kind="generate",
                              tokenize="zh", metrics=["bleu"])
    value = results["models"]["a"]["tasks"]["zh"]["metrics"]["bleu"]["value"]
    assert value > 50 and stats["bleu"]["baseline"] == pytest.approx(value)
