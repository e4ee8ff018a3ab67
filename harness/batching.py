"""The Collator: orders requests longest first and packs them into batches, keeping the
log-likelihood requests that share a context together so the model can encode it once.

Longest first means the first batch is the largest in memory: an out-of-memory error shows up
at once, and the batch size found then fits every later batch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Generic, Hashable, Iterator, Sequence, TypeVar

from harness.requests import LoglikelihoodRequest, Request

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Pending(Generic[K]):
    """A request and the key that routes its answer back (e.g. (example id, choice index))."""
    key: K
    request: Request


def _group_key(position: int, request: Request) -> Hashable:
    return ("ctx", request.context) if isinstance(request, LoglikelihoodRequest) else ("one", position)


def group_requests(items: Sequence[Pending], length: Callable[[Request], int]) -> list[list[Pending]]:
    """Groups of requests sharing a context, longest group first (stable for equal lengths)."""
    groups: dict[Hashable, list[Pending]] = {}
    for position, item in enumerate(items):
        groups.setdefault(_group_key(position, item.request), []).append(item)
    ordered = list(groups.values())
    ordered.sort(key=lambda g: -max(length(item.request) for item in g))
    return ordered


def split_large(groups: Sequence[Sequence[Pending]], batch_size: int) -> list[list[Pending]]:
    """Groups larger than a batch split into batch-size chunks (each still shares its context)."""
    out: list[list[Pending]] = []
    for group in groups:
        out += [list(group[i:i + batch_size]) for i in range(0, len(group), batch_size)]
    return out


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
