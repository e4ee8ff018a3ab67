"""The Collator: orders requests longest first and packs them into batches, keeping the
log-likelihood requests that share a context together so the model can encode it once, and
contexts that share a prefix next to each other so the model can encode that once too.

Longest first means the first batch is the largest in memory: an out-of-memory error shows up
at once, and the batch size found then fits every later batch. Log-likelihood contexts go in a
prefix tree's order (``prefix_order``): contexts sharing at least MIN_SHARED_CHARS leading
characters - a task's instructions, fixed shots, the first shots of items that drew them alike -
form a subtree, and the subtrees go longest first, each its own longest first (contexts sharing
nothing are plain longest first). The longest context still leads the first batch.

Generation (harness.models.decoding): an adapter that refills a finished row's slot with the next
request (``refills``) gets calls of up to REFILL_CALLS batches' worth of generation requests and
keeps at most a batch of them decoding at once; each call's answers are stored when it returns.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Generic, Hashable, Iterator, Sequence, TypeVar

from harness.models.prefix_tree import MAX_LEVELS, common_prefix_length
from harness.requests import LoglikelihoodRequest, Request

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")
MIN_SHARED_CHARS = 32     # about 8 tokens: contexts sharing fewer leading characters are not kept together
REFILL_CALLS = 4          # generation calls to a refilling adapter hold up to this many batches' worth (stored on return)


@dataclass(frozen=True)
class Pending(Generic[K]):
    """A request and the key that routes its answer back (e.g. (example id, choice index))."""
    key: K
    request: Request


def _group_key(position: int, request: Request) -> Hashable:
    return ("ctx", request.context) if isinstance(request, LoglikelihoodRequest) else ("one", position)


def group_requests(items: Sequence[Pending], length: Callable[[Request], int]) -> list[list[Pending]]:
    """Groups of requests sharing a context, longest group first (stable for equal lengths);
    log-likelihood groups then in prefix order (``prefix_order``), the longest still first."""
    groups: dict[Hashable, list[Pending]] = {}
    for position, item in enumerate(items):
        groups.setdefault(_group_key(position, item.request), []).append(item)
    ordered = list(groups.values())
    longest = {id(g): max(length(item.request) for item in g) for g in ordered}
    ordered.sort(key=lambda g: -longest[id(g)])
    if ordered and all(isinstance(g[0].request, LoglikelihoodRequest) for g in ordered):
        ordered = prefix_order(ordered, lambda g: g[0].request.context)
    return ordered


def prefix_order(groups: Sequence[T], text: Callable[[T], str]) -> list[T]:
    """``groups`` (longest first) in a prefix tree's depth-first order: a run of texts sharing
    MIN_SHARED_CHARS more leading characters than their parent is a subtree; subtrees and lone
    texts go longest first (stable), each subtree its own longest first."""
    texts = [text(g) for g in groups]
    order = sorted(range(len(groups)), key=lambda i: texts[i])
    lcp = [common_prefix_length(texts[a], texts[b]) for a, b in zip(order, order[1:])]

    def visit(lo: int, hi: int, base: int, level: int) -> list[int]:
        """The indices of order[lo:hi] (texts sharing ``base`` characters), their longest first."""
        units: list[list[int]] = []
        i = lo
        while i < hi:
            j = i + 1
            while j < hi and lcp[j - 1] >= base + MIN_SHARED_CHARS:
                j += 1
            if j - i >= 2 and level < MAX_LEVELS:
                units.append(visit(i, j, min(lcp[i:j - 1]), level + 1))
            else:
                units += [[k] for k in order[i:j]]
            i = j
        units.sort(key=lambda unit: unit[0])     # each unit leads with its longest (lowest index)
        return [k for unit in units for k in unit]

    return [groups[i] for i in visit(0, len(groups), 0, 0)]


def split_large(groups: Sequence[Sequence[Pending]], batch_size: int) -> list[list[Pending]]:
    """Groups larger than a batch split into batch-size chunks (each still shares its context)."""
    out: list[list[Pending]] = []
    for group in groups:
        out += [list(group[i:i + batch_size]) for i in range(0, len(group), batch_size)]
    return out


def call_size(batch_size: int, groups: Sequence[Sequence[Pending]], refills: frozenset[type]) -> int:
    """How many requests the next call holds: a batch, or REFILL_CALLS batches' worth when the
    adapter refills finished rows' slots for this kind of request (its ``refills``)."""
    refilled = bool(groups) and type(groups[0][0].request) in refills
    return batch_size * REFILL_CALLS if refilled else batch_size


def batches(groups: Sequence[Sequence[Pending]], batch_size: int) -> Iterator[list[Pending]]:
    """Whole groups, packed up to ``batch_size`` requests (pass groups through split_large first)."""
    batch: list[Pending] = []
    for group in groups:
        if batch and len(batch) + len(group) > batch_size:
            yield batch
            batch = []
        batch.extend(group)
    if batch:
        yield batch


def shared_contexts(requests: Sequence[LoglikelihoodRequest]) -> tuple[list[str], list[int]]:
    """The distinct contexts of a batch in order (the Collator puts equal ones next to each other),
    and for each request the index of its context: what an adapter encodes once and reuses."""
    contexts: list[str] = []
    rows: list[int] = []
    for request in requests:
        if not contexts or request.context != contexts[-1]:
            contexts.append(request.context)
        rows.append(len(contexts) - 1)
    return contexts, rows
