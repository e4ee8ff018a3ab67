"""The Collator's prefix order: contexts sharing a prefix sit together, longest first otherwise."""
from __future__ import annotations

import random

from harness.batching import MIN_SHARED_CHARS, Pending, group_requests, prefix_order
from harness.requests import GenerateRequest, LoglikelihoodRequest


def _groups(contexts: list[str]):
    items = [Pending((i, c), LoglikelihoodRequest(ctx, f" choice {c}")) for i, ctx in enumerate(contexts) for c in range(2)]
    return group_requests(items, lambda r: len(r.context) + len(r.continuation))


def test_contexts_sharing_nothing_stay_longest_first():
    contexts = [f"{i} " + "word " * random.Random(i).randint(1, 30) for i in range(40)]
    order = [g[0].request.context for g in _groups(contexts)]
    assert order == sorted(contexts, key=lambda c: -len(c))


def test_items_with_the_same_first_shots_sit_together_and_the_longest_leads():
    shots = [f"Shot number {k}: a worked example long enough to matter. " for k in range(4)]
    rng = random.Random(0)
    contexts = ["".join(rng.sample(shots, 3)) + f"Question {i}? " + "x" * rng.randint(0, 40) for i in range(60)]
    groups = _groups(contexts)
    order = [g[0].request.context for g in groups]
    assert order[0] == max(contexts, key=len)
    assert sorted(order) == sorted(contexts) and all(len(g) == 2 for g in groups)
    firsts = [c[:len(shots[0])] for c in order]
    assert sum(a != b for a, b in zip(firsts, firsts[1:])) == 3         # one run per first shot
    for run in {f for f in firsts}:                                        # each run: by its second shot, then longest first
        members = [c for c in order if c.startswith(run)]
        seconds = [c[len(shots[0]):2 * len(shots[0])] for c in members]
        assert sum(a != b for a, b in zip(seconds, seconds[1:])) == len(set(seconds)) - 1


def test_a_shared_instruction_is_one_subtree_with_the_first_shots_below_it():
    head = "Answer every question with one word only, please. " * 2
    contexts = [head + f"Shot {i % 3} is a long worked example of the task. Question {i}" + "?" * (i % 7) for i in range(30)]
    contexts += [f"Something else entirely, number {i}, with no shared start" for i in range(5)]
    order = [g[0].request.context for g in _groups(contexts)]
    shot_of = [c[len(head):len(head) + 6] if c.startswith(head) else None for c in order]
    runs = [s for k, s in enumerate(shot_of) if k == 0 or s != shot_of[k - 1]]
    assert sorted(r for r in runs if r) == ["Shot 0", "Shot 1", "Shot 2"]   # each first shot one run
    assert runs.count(None) <= 2                                           # the lone ones before or after


def test_deep_nesting_and_other_request_kinds():
    deep = ["x" * (MIN_SHARED_CHARS + 1) * k for k in range(1, 300)]      # each a prefix of the next
    assert len(prefix_order(deep, lambda t: t)) == len(deep)
    items = [Pending(i, GenerateRequest("p" * i)) for i in (3, 9, 1)]
    assert [g[0].key for g in group_requests(items, lambda r: len(r.context))] == [9, 3, 1]
