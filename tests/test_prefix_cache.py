"""Prefix caching and single-pass multiple choice give the plain path's numbers; fixed shots are shared.
(The greedy loop's tokens are checked in tests/test_continuous_batching.py.)"""
from __future__ import annotations

import json

import pytest
import torch

from harness.data import Example
from harness.errors import HarnessError
from harness.models.embedded import tiny_gpt2
from harness.prompts import fixed_fewshot
from harness.requests import LoglikelihoodRequest
from harness.resources import builtin_dir
from harness.spec import ModelSpec, RuntimeOptions, task_from_mapping

import causal_models  # noqa: E402  (tests/ helper module)
from causal_models import Forwards, scored  # noqa: E402

CPU = RuntimeOptions(device="cpu")


@pytest.fixture(scope="module")
def tiny():
    return tiny_gpt2(ModelSpec("tiny-gpt2", "tiny-gpt2"), CPU)


@pytest.fixture(scope="module")
def random_gpt2(tmp_path_factory):
    """A small random-init GPT-2 (2 layers, width 64) with the tiny-gpt2 tokenizer and 512 positions."""
    return causal_models.random_gpt2(tmp_path_factory.mktemp("random-gpt2"))


def _rows(name: str, split: str) -> list[dict]:
    return [json.loads(line) for line in (builtin_dir("tasks") / name / f"{split}.jsonl").read_text().splitlines()]


SHOTS = "\n\n".join(f"Question: {r['question']}\nAnswer: {r['choices'][r['answer']]}" for r in _rows("facts_mc", "train")[:5])


def _requests(shots: str, n_items: int) -> list[LoglikelihoodRequest]:
    return [LoglikelihoodRequest(f"{shots}\n\nQuestion: {r['question']}\nAnswer:", " " + c)
            for r in _rows("facts_mc", "test")[:n_items] for c in r["choices"]]


@pytest.mark.parametrize("which", ["tiny", "random_gpt2"])
def test_prefix_cached_loglikelihoods_equal_the_plain_path(which, request):
    adapter = request.getfixturevalue(which)
    # 12 items x 4 choices in batches of 8 and 20: the kept prefix is reused and cropped across batches
    requests = _requests(SHOTS, 12) + [LoglikelihoodRequest(SHOTS + "\n\nQuestion: x", " y z w")]
    plain = scored(adapter, requests, 64, prefix_caching=False)
    for batch in (4, 8, 20):          # 4: one context a batch, so only what earlier batches kept is shared
        with Forwards(adapter.model) as cached_calls:
            cached = scored(adapter, requests, batch, prefix_caching=True)
        with Forwards(adapter.model) as plain_calls:
            scored(adapter, requests, batch, prefix_caching=False)
        assert cached_calls.positions < plain_calls.positions / 2      # the shots ran once, not per context
        for p, c in zip(plain, cached):
            assert c.logprob == pytest.approx(p.logprob, abs=1e-5)
            assert (c.is_greedy, c.n_tokens) == (p.is_greedy, p.n_tokens)


def test_a_kept_prefix_the_next_batch_does_not_share_is_not_used(tiny):
    first = _requests(SHOTS, 2)
    other = _requests("Some fixed instructions that differ from the shots entirely, said twice. " * 2, 2)
    tiny.prefix_store.clear()
    got = tiny.loglikelihood(first) + tiny.loglikelihood(other)
    kept = [tiny.tokenizer.decode(ids) for ids in tiny.prefix_store]
    assert any(k.startswith(SHOTS[:40]) for k in kept) and any(k.startswith("Some fixed") for k in kept)
    plain = scored(tiny, first + other, 64, prefix_caching=False)
    assert [g.logprob for g in got] == pytest.approx([p.logprob for p in plain], abs=1e-5)


@pytest.mark.parametrize("which", ["tiny", "random_gpt2"])
def test_single_token_choices_are_scored_from_one_forward_pass(which, request):
    adapter = request.getfixturevalue(which)
    context = "Question: What does the cow say?\nAnswer:"
    choices = [c for c in (" moo", " woof", " a", " the", " is") if len(adapter._encode(c)) == 1]
    assert len(choices) >= 3
    requests = [LoglikelihoodRequest(context, c) for c in choices]
    requests += [LoglikelihoodRequest("English: the cat sleeps .\nToylang:", c) for c in choices]
    with Forwards(adapter.model) as forwards:
        got = scored(adapter, requests, 64, prefix_caching=False)
    assert forwards.calls == 1
    for r, g in zip(requests, got):              # each alone, and the whole sequence through the model
        alone = scored(adapter, [r], 1, prefix_caching=False)[0]
        ids = list(adapter._context_ids(r.context)) + list(adapter._encode(r.continuation))
        with torch.no_grad():
            full = torch.log_softmax(adapter.model(torch.tensor([ids])).logits[0, -2].float(), -1)[ids[-1]]
        assert g.logprob == pytest.approx(alone.logprob, abs=1e-5)
        assert g.logprob == pytest.approx(float(full), abs=1e-5)


def test_fixed_shots_are_shared_and_never_the_example_itself(tmp_path):
    pool = [Example(id=str(i), index=i, fields={"q": str(i)}) for i in range(6)]
    shots = fixed_fewshot(pool, 3, seed=5)
    others = [fixed_fewshot(pool, 3, seed=5, exclude_id=str(i)) for i in range(6)]
    assert sum(o == shots for o in others) >= 6 - 3 - 1       # only an example among the draw sees other shots
    for i, o in enumerate(others):
        assert str(i) not in [s.id for s in o] and len(o) == 3
    with pytest.raises(HarnessError, match="pool has"):
        fixed_fewshot(pool[:3], 3, seed=0, exclude_id="0")
    base = {"name": "t", "kind": "multiple_choice", "data": "test.jsonl"}
    assert task_from_mapping({**base, "fewshot": {"num": 2, "fixed": True}}, tmp_path, "t.yaml").fewshot_fixed
    assert not task_from_mapping({**base, "fewshot": {"num": 2}}, tmp_path, "t.yaml").fewshot_fixed
    with pytest.raises(HarnessError, match="fewshot.fixed"):
        task_from_mapping({**base, "fewshot": {"num": 2, "fixed": "yes"}}, tmp_path, "t.yaml")
    with pytest.raises(HarnessError, match="did you mean 'fixed'"):
        task_from_mapping({**base, "fewshot": {"num": 2, "fxed": True}}, tmp_path, "t.yaml")


def test_a_fixed_shot_task_renders_one_shared_prefix(tmp_path):
    import yaml

    from harness.prepared import prepare_task
    from harness.spec import load_task_file
    folder = builtin_dir("tasks") / "facts_mc"
    (tmp_path / "t.yaml").write_text(yaml.safe_dump({
        "name": "fixed_mc", "kind": "multiple_choice", "data": str(folder / "test.jsonl"),
        "fewshot": {"data": str(folder / "train.jsonl"), "num": 3, "fixed": True},
        "prompt": "Question: {question}\nAnswer:"}))
    task = prepare_task(load_task_file(tmp_path / "t.yaml"), limit=8, seed=1234)
    prefixes = {ctx.rsplit("\n\n", 1)[0] for ctx in task.contexts.values()}
    assert len(prefixes) == 1 and prefixes.pop().count("Question:") == 3
