"""KV caches of shared token prefixes: kept across batches, and stacked under a batch's rows.

``PrefixStore`` keeps the caches of the prefix-tree nodes (harness.models.prefix_tree) that
earlier batches encoded, least recently used dropped past a byte budget: a task whose contexts all
start with the same shots or instructions encodes them once for the whole task, and any prefix of
a kept node can be reused too (a causal model's cache of the first n tokens does not depend on
what follows them).

``stack`` lays the prefixes of a batch's rows under them: each row's prefix right-aligned in a
common width (the columns before it masked), so the rows' own tokens, left-padded after it, see
exactly their own prefix at its own positions. Rows that share one prefix share its tensors
(``expand``, no copy).
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Iterator, Sequence

import torch

from harness.models.prefix_tree import Ids, longest_match

Layers = list[tuple[torch.Tensor, torch.Tensor]]      # per layer (keys, values), each (1, heads, tokens, head_dim)


@dataclass(frozen=True)
class Prefix:
    """The first ``length`` tokens of a cached prefix (``layers`` may hold more)."""
    layers: Layers
    length: int

    def cropped(self) -> Layers:
        return [(k[:, :, :self.length], v[:, :, :self.length]) for k, v in self.layers]


def nbytes(layers: Layers) -> int:
    return sum(k.numel() * k.element_size() + v.numel() * v.element_size() for k, v in layers)


class PrefixStore:
    """Prefix caches kept across batches, by token ids; at most ``budget`` bytes in all."""

    def __init__(self, budget: int):
        self.budget = budget
        self._entries: OrderedDict[Ids, Layers] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Ids]:
        return iter(self._entries)

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0

    def match(self, ids: Ids, limit: int) -> Prefix | None:
        """The kept prefix sharing the most leading tokens with ``ids`` (at most ``limit``)."""
        best, n = longest_match(ids, self._entries, limit)
        if best is None:
            return None
        self._entries.move_to_end(best)
        return Prefix(self._entries[best], n)

    def put(self, ids: Ids, layers: Layers) -> None:
        size = nbytes(layers)
        if ids in self._entries or size > self.budget:
            return
        self._entries[ids] = layers
        self._bytes += size
        while self._bytes > self.budget:
            _, dropped = self._entries.popitem(last=False)
            self._bytes -= nbytes(dropped)


def stack(prefixes: Sequence[Prefix | None]) -> tuple[Layers | None, list[int]]:
    """Every row's prefix right-aligned in a common width (zeros before it), and each row's
    prefix length; None when no row has one."""
    lengths = [p.length if p else 0 for p in prefixes]
    width = max(lengths, default=0)
    if width == 0:
        return None, lengths
    some = next(p for p in prefixes if p is not None)
    if all(p is not None and p.layers is some.layers and p.length == width for p in prefixes):
        return [(k.expand(len(prefixes), -1, -1, -1), v.expand(len(prefixes), -1, -1, -1)) for k, v in some.cropped()], lengths
    slot_of: dict[tuple[int, int], int] = {}            # (id of its layers, length) -> its slot among the distinct ones
    chosen: list[Prefix] = []
    for p in prefixes:
        if p is not None and (id(p.layers), p.length) not in slot_of:
            slot_of[id(p.layers), p.length] = len(chosen)
            chosen.append(p)
    device = some.layers[0][0].device
    index = torch.tensor([slot_of[id(p.layers), p.length] if p else len(chosen) for p in prefixes], device=device)
    stacked = []
    for layer, (k0, v0) in enumerate(some.layers):     # slot len(chosen): zeros, for rows with no prefix
        keys = k0.new_zeros((len(chosen) + 1, k0.shape[1], width, k0.shape[3]))
        values = v0.new_zeros((len(chosen) + 1, v0.shape[1], width, v0.shape[3]))
        for slot, p in enumerate(chosen):
            k, v = p.layers[layer]
            keys[slot, :, width - p.length:] = k[0, :, :p.length]
            values[slot, :, width - p.length:] = v[0, :, :p.length]
        stacked.append((keys[index], values[index]))
    return stacked, lengths


def row_prefix(layers: Layers, row: int, past: int, width: int, own: int, own_width: int) -> Layers:
    """Row ``row``'s cache after a forward pass over stacked prefixes (``past`` of its ``width``
    columns) and left-padded own tokens (``own`` of ``own_width``): the whole prefix, compacted."""
    out = []
    for k, v in layers:
        end = width + own_width
        out.append(tuple(torch.cat([t[row:row + 1, :, width - past:width], t[row:row + 1, :, end - own:end]], dim=2)
                         for t in (k, v)))
    return out
