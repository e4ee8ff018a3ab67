"""Which token prefixes a batch of contexts shares, as a prefix tree, and in which forward passes
to encode them: pure functions on token ids.

A node is a prefix that at least two contexts start with; a child node extends its parent by at
least ``min_tokens`` tokens (a shorter step is not worth a forward pass of its own). Every context
keeps its last token out of every node: the logits at that position are what a log-likelihood
reads. Few-shot prompts whose shots are drawn per item still share the first shot (or the first
few) with the items that drew the same ones, and a task's fixed instructions or fixed shots are
one node every context sits under; the adapter encodes each node once, on top of its parent's
KV cache, and each context's own tail on top of its deepest node (harness.models.prefix_kv).

No node costs a forward pass of its own: the first context under a node that is not cached yet
encodes it on the way to its own last token (``next_wave``), and the node's cache is cut from that
context's; the others under it run in the next pass, on top of it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Container, Iterable, Sequence

Ids = tuple[int, ...]
MAX_LEVELS = 64          # deeper nesting is not split further (a crafted dataset cannot exhaust the stack)


def common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens ``a`` and ``b`` share (binary search over slice comparisons, which
    run in C: fast for long prompts)."""
    lo, hi = 0, min(len(a), len(b))
    if a[:hi] == b[:hi]:
        return hi
    while lo < hi:                                   # a[:lo] == b[:lo] and a[:hi] != b[:hi]
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


@dataclass(frozen=True)
class Plan:
    """``nodes`` shortest first (a parent before its children); ``parent[node]`` the longest node
    it extends (None: it starts at the first token); ``deepest[i]`` the longest node context i
    starts with (None: it shares nothing worth sharing with the others)."""
    nodes: tuple[Ids, ...]
    parent: dict[Ids, Ids | None]
    deepest: tuple[Ids | None, ...]


def plan(contexts: Sequence[Ids], min_tokens: int) -> Plan:
    """The prefix tree of ``contexts`` (token ids), pruned to steps of at least ``min_tokens``."""
    min_tokens = max(1, min_tokens)
    order = sorted(range(len(contexts)), key=lambda i: contexts[i][:-1])
    shareable = [tuple(contexts[i][:-1]) for i in order]           # each context keeps its last token
    lcp = [common_prefix_length(a, b) for a, b in zip(shareable, shareable[1:])]
    parent: dict[Ids, Ids | None] = {}
    deepest: list[Ids | None] = [None] * len(contexts)

    def visit(lo: int, hi: int, base: int, above: Ids | None, level: int) -> None:
        """shareable[lo:hi] all start with node ``above`` (``base`` tokens; None, 0: the root)."""
        if level >= MAX_LEVELS:
            return
        i = lo
        while i < hi:
            j = i + 1
            while j < hi and lcp[j - 1] >= base + min_tokens:
                j += 1
            if j - i >= 2:                          # these share at least min_tokens more: a child node
                node = shareable[i][:min(lcp[i:j - 1])]
                parent.setdefault(node, above)
                for k in range(i, j):
                    deepest[order[k]] = node
                visit(i, j, len(node), node, level + 1)
            i = j

    visit(0, len(shareable), 0, None, 0)
    nodes = tuple(sorted(parent, key=len))
    return Plan(nodes, parent, tuple(deepest))


def path(tree: Plan, i: int) -> list[Ids]:
    """The nodes context i sits under, the root's child first."""
    out, node = [], tree.deepest[i]
    while node is not None:
        out.append(node)
        node = tree.parent[node]
    return out[::-1]


def next_wave(pending: Sequence[int], paths: Sequence[Sequence[Ids]], cached: Container[Ids]
              ) -> tuple[list[int], dict[Ids, int], list[int]]:
    """The contexts to encode in the next forward pass, the nodes they will cache on the way (node ->
    the context that carries it), and the contexts that wait. A context whose nodes are all cached
    runs on its deepest; the first context under a node not yet cached carries it (its KV cache up
    to the node is the node's), and the other contexts under that node wait for the next pass, so
    no node is computed twice. Each pass caches at least one level more of the tree."""
    wave, carried, waiting = [], {}, []
    for i in pending:
        missing = [node for node in paths[i] if node not in cached]
        if any(node in carried for node in missing):
            waiting.append(i)
            continue
        carried.update((node, i) for node in missing)
        wave.append(i)
    return wave, carried, waiting


def longest_match(ids: Ids, candidates: Iterable[Ids], limit: int) -> tuple[Ids | None, int]:
    """The candidate sharing the longest prefix with ``ids`` (at most ``limit`` tokens), and how long."""
    best, best_n = None, 0
    for candidate in candidates:
        if candidate and ids and candidate[0] == ids[0]:
            n = min(common_prefix_length(candidate, ids), limit)
            if n > best_n:
                best, best_n = candidate, n
    return best, best_n


def width_groups(lengths: Sequence[int], overhead: int) -> list[list[int]]:
    """Rows split into forward passes so that padding costs least: each pass computes its rows
    times its longest row's positions, plus ``overhead`` positions' worth for the pass itself. Rows
    on top of a shared prefix are much shorter than rows that share nothing; one pass would pad
    them all to the longest. Groups of row indices, longest rows first (exact, by dynamic programming
    over the rows sorted by length)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    best = [0] + [0] * len(order)                    # best[k]: the cost of the first k rows
    cut = [0] * (len(order) + 1)
    for k in range(1, len(order) + 1):
        best[k], cut[k] = min((best[j] + (k - j) * lengths[order[j]] + overhead, j) for j in range(k))
    groups, k = [], len(order)
    while k:
        groups.append(order[cut[k]:k])
        k = cut[k]
    return groups[::-1]
