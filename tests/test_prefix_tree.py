"""The prefix tree: which prefixes a batch shares (pure), and log-likelihoods that equal the
unshared computation when the shared prefixes' KV caches are reused, for several shapes of sharing."""
from __future__ import annotations

import json
import random

import pytest
import torch

from harness.models.embedded import tiny_gpt2
from harness.models.prefix_kv import PrefixStore
from harness.models.prefix_tree import common_prefix_length, longest_match, plan
from harness.requests import LoglikelihoodRequest
from harness.resources import builtin_dir
from harness.spec import ModelSpec

import causal_models
from causal_models import Forwards, scored


def test_common_prefix_length():
    assert common_prefix_length((1, 2, 3), (1, 2, 4)) == 2
    assert common_prefix_length((1, 2), (1, 2, 3)) == 2
    assert common_prefix_length((), (1,)) == 0
    assert common_prefix_length((5,), (1,)) == 0
    a = tuple(range(1000))
    for k in (0, 1, 499, 998, 999, 1000):
        b = a[:k] + (-1,) * (1000 - k)
        assert common_prefix_length(a, b) == k


def test_plan_nests_nodes_and_keeps_each_contexts_last_token():
    s = tuple(range(100, 110))            # 10 shared tokens
    t = tuple(range(200, 210))            # 10 more, shared by three of them
    contexts = [s + t + (1,), s + t + (2, 3), s + t + (4,), s + (5, 6), (7, 8, 9), s + t, s + t + (1,)]
    tree = plan(contexts, min_tokens=4)
    # s + t itself keeps its last token out, so the three-way node is s + t[:-1]; one token more
    # (the identical contexts' s + t) is a step shorter than min_tokens
    assert tree.nodes == (s, s + t[:-1])
    assert tree.parent == {s: None, s + t[:-1]: s}
    assert tree.deepest == (s + t[:-1],) * 3 + (s, None) + (s + t[:-1],) * 2
    assert plan(contexts, min_tokens=1).nodes == (s, s + t[:-1], s + t)
    assert plan(contexts, min_tokens=1).deepest[0] == plan(contexts, min_tokens=1).deepest[6] == s + t


def test_plan_prunes_steps_shorter_than_min_tokens():
    contexts = [(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11), (1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13), (1, 2, 3, 99)]
    tree = plan(contexts, min_tokens=8)
    assert tree.nodes == ((1, 2, 3, 4, 5, 6, 7, 8, 9),) and tree.deepest[2] is None
    assert plan(contexts, min_tokens=3).nodes == ((1, 2, 3), (1, 2, 3, 4, 5, 6, 7, 8, 9))
    assert plan([(1, 2, 3)], min_tokens=1).nodes == ()
    assert plan([], min_tokens=1).nodes == ()


def test_longest_match_and_the_store_budget():
    assert longest_match((1, 2, 3, 4), [(1, 2, 9), (1, 2, 3, 5), (7,)], limit=10) == ((1, 2, 3, 5), 3)
    assert longest_match((1, 2, 3, 4), [(1, 2, 3, 4, 5)], limit=2) == ((1, 2, 3, 4, 5), 2)
    assert longest_match((1,), [(2,)], limit=5) == (None, 0)
    store = PrefixStore(budget=3 * 2 * 4 * 10)                # three entries of 10 float32 keys + 10 values
    layers = lambda: [(torch.zeros(1, 1, 10, 1), torch.zeros(1, 1, 10, 1))]     # noqa: E731
    for i in range(3):
        store.put((i, 0), layers())
    assert store.match((0, 0, 1), limit=5).length == 2       # (0, 0) is now the most recently used
    store.put((3, 0), layers())
    assert sorted(store) == [(0, 0), (2, 0), (3, 0)]          # (1, 0), the least recently used, left
    store.put((9,) * 100, [(torch.zeros(1, 1, 100, 1), torch.zeros(1, 1, 100, 1))])
    assert len(store) == 3                                    # larger than the whole budget: not kept


@pytest.fixture(scope="module")
def tiny():
    return tiny_gpt2(ModelSpec("tiny-gpt2", "tiny-gpt2"), causal_models.CPU)


@pytest.fixture(scope="module")
def random_gpt2(tmp_path_factory):
    return causal_models.random_gpt2(tmp_path_factory.mktemp("random-gpt2"), layers=3, width=96, heads=4)


def _rows(split: str) -> list[dict]:
    return [json.loads(x) for x in (builtin_dir("tasks") / "facts_mc" / f"{split}.jsonl").read_text().splitlines()]


def _shot(r: dict) -> str:
    return f"Question: {r['question']}\nAnswer: {r['choices'][r['answer']]}"


def _items(n: int, shots, head: str = "", choices=None) -> list[LoglikelihoodRequest]:
    """n facts_mc items, each with the shots ``shots(i)`` before it and ``head`` before those."""
    out = []
    for i, r in enumerate(_rows("test")[:n]):
        context = head + "".join(_shot(s) + "\n\n" for s in shots(i)) + f"Question: {r['question']}\nAnswer:"
        out += [LoglikelihoodRequest(context, " " + c) for c in (choices or r["choices"])]
    return out


POOL = _rows("train")


def _drawn(pool_size: int, k: int):
    """Shots drawn per item from a pool of ``pool_size`` (a small pool: items share first shots)."""
    return lambda i: random.Random(i).sample(POOL[:pool_size], k)


SHAPES = {
    # per-item shots from a pool of 3: items share their first one, two or all three shots
    "drawn-per-item": lambda: _items(16, _drawn(3, 3)),
    # fixed instructions, then per-item shots: a root node and first-shot nodes below it
    "instructions-then-drawn": lambda: _items(12, _drawn(4, 2), head="Answer each question with one word. " * 3),
    # a context that is a prefix of others, and contexts that share nothing with anything
    "nested-and-lonely": lambda: (
        [LoglikelihoodRequest(SHOTS, " x y")] + _items(4, lambda i: POOL[:3])
        + [LoglikelihoodRequest(SHOTS + "\n\nQuestion: the first shots again", " z")]
        + [LoglikelihoodRequest(f"Unrelated text number {i}.", " ok") for i in range(3)]),
    # multi-token continuations on top of shared prefixes
    "multi-token": lambda: _items(6, _drawn(2, 2), choices=["the cow says moo", "a", "neigh neigh", "hoot hoot hoot"]),
}
SHOTS = "".join(_shot(s) + "\n\n" for s in POOL[:3]).rstrip()


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("which", ["tiny", "random_gpt2"])
def test_shared_prefixes_give_the_unshared_loglikelihoods(which, shape, request):
    adapter = request.getfixturevalue(which)
    requests = SHAPES[shape]()
    alone = [scored(adapter, [r], 1, prefix_caching=False)[0] for r in requests]     # each request by itself
    with Forwards(adapter.model) as plain:
        scored(adapter, requests, 16, prefix_caching=False)
    for batch in (16, 40):
        with Forwards(adapter.model) as shared:
            got = scored(adapter, requests, batch, prefix_caching=True)
        for r, a, g in zip(requests, alone, got):
            assert g.logprob == pytest.approx(a.logprob, abs=2e-5 * max(1.0, abs(a.logprob))), (r.context, r.continuation)
            assert (g.is_greedy, g.n_tokens) == (a.is_greedy, a.n_tokens)
        if shape != "nested-and-lonely" or batch == 40:
            assert shared.positions < plain.positions                      # the shared prefixes ran once


def test_a_later_batch_reuses_and_crops_what_an_earlier_batch_encoded(tiny):
    """Two items sharing their first two shots make a node; later batches of one item each, sharing
    only the first shot with them, run on that node cropped to what they share."""
    first = lambda i: [POOL[0], POOL[1], POOL[2 + i]]                       # noqa: E731
    later = lambda i: [POOL[0], POOL[5 + i], POOL[9]]                       # noqa: E731
    pair, singles = _items(2, first), _items(4, later)
    tiny.prefix_store.clear()
    with Forwards(tiny.model) as shared:
        got = tiny.loglikelihood(pair) + [x for i in range(0, len(singles), 4) for x in tiny.loglikelihood(singles[i:i + 4])]
    kept = [tiny.tokenizer.decode(ids) for ids in tiny.prefix_store]
    assert sum(k.startswith(_shot(POOL[0]) + "\n\n" + _shot(POOL[1])) for k in kept) == 3   # the node, both pair items
    with Forwards(tiny.model) as plain:
        alone = scored(tiny, pair + singles, 4, prefix_caching=False)
    shot = len(tiny._encode(_shot(POOL[0]) + "\n\n"))
    assert shared.positions <= plain.positions - 4 * (shot - 2)             # each single skipped (almost) the whole first shot
    assert [g.logprob for g in got] == pytest.approx([a.logprob for a in alone], abs=2e-5)
