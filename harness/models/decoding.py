"""Greedy decoding with continuous batching.

At most ``rows`` requests decode at once. A row that finishes (end of text, a stop sequence, its
token cap) hands its slot to the next waiting request before the next step, so the batch stays
full while requests wait; once none wait, finished rows leave the batch. Each row computes what
it would alone: its own positions, its own columns of the cache (the rest masked), the argmax of
its own logits, so the tokens are those of plain greedy decoding up to float rounding.

Every row shares the column pointer: a new request's prompt is encoded apart (``prefill``) and
copied in right-aligned at the current column, the columns before it masked (a prompt longer than
the columns in use pads every row on the left); columns that no row uses any more are dropped from
the left. The cache stays transformers' DynamicLayer, one contiguous tensor per layer: a cache
written in place into preallocated buffers saved the per-token concatenation but made CPU
attention read strided keys, a wash at 26M parameters (measured), so it was not kept.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from transformers.cache_utils import Cache, DynamicLayer


@dataclass
class Prefilled:
    """The encoded prompts of newly admitted requests: the logits at each one's last position and
    every layer's (keys, values), the prompts left-padded to a common width."""
    logits: torch.Tensor                               # (k, vocab)
    layers: list[tuple[torch.Tensor, torch.Tensor]]    # (k, heads, width, head_dim) each
    lengths: list[int]


Prefill = Callable[[list[Sequence[int]]], Prefilled]
# (cache, input ids (rows, 1), attention mask (rows, width + 1), positions (rows, 1)) -> logits (rows, vocab)
Step = Callable[[Cache, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


class _Batch:
    """The rows in flight: every layer's cache (transformers' DynamicLayer: the attention kernels
    read it contiguous), the attention mask, each row's next position and token. All rows share
    the column pointer ``width``; a row's columns before its prompt are masked."""

    def __init__(self):
        self.owner: list[int | None] = []              # the request each row decodes (None: free)
        self.layers: list[DynamicLayer] = []
        self.mask = self.position = self.token = None

    @property
    def width(self) -> int:
        return self.mask.shape[1] if self.mask is not None else 0

    def _allocate(self, rows: int, like: Prefilled) -> None:
        keys = like.layers[0][0]
        for k, v in like.layers:
            layer = DynamicLayer()
            layer.lazy_initialization(k, v)
            layer.keys, layer.values = k.new_zeros((rows, k.shape[1], 0, k.shape[3])), v.new_zeros((rows, v.shape[1], 0, v.shape[3]))
            self.layers.append(layer)
        self.mask = torch.zeros((rows, 0), dtype=torch.long, device=keys.device)
        self.position = torch.zeros(rows, dtype=torch.long, device=keys.device)
        self.token = torch.zeros(rows, dtype=torch.long, device=keys.device)

    def _pad_left(self, columns: int) -> None:
        for layer in self.layers:
            layer.keys = torch.cat([layer.keys.new_zeros(layer.keys.shape[:2] + (columns,) + layer.keys.shape[3:]), layer.keys], 2)
            layer.values = torch.cat([layer.values.new_zeros(layer.values.shape[:2] + (columns,) + layer.values.shape[3:]),
                                      layer.values], 2)
        self.mask = torch.cat([self.mask.new_zeros((self.mask.shape[0], columns)), self.mask], 1)

    def drop_unused(self) -> None:
        """Drops the columns on the left that no row uses any more (once they are a quarter of the width)."""
        used = self.mask.any(0).nonzero()
        first = int(used[0]) if len(used) else self.width
        if first and first >= self.width // 4:
            for layer in self.layers:
                layer.keys, layer.values = layer.keys[:, :, first:], layer.values[:, :, first:]
            self.mask = self.mask[:, first:]

    def place(self, rows: list[int], pre: Prefilled) -> None:
        """Copies newly prefilled prompts into ``rows``, right-aligned at the current column."""
        if not self.layers:
            self._allocate(len(self.owner), pre)
        longest = max(pre.lengths)
        if longest > self.width:                        # a prompt longer than the columns in use
            self._pad_left(longest - self.width)
        width, pad = self.width, pre.layers[0][0].shape[2]
        for i, (row, length) in enumerate(zip(rows, pre.lengths)):
            for layer, (k, v) in zip(self.layers, pre.layers):
                layer.keys[row, :, width - length:] = k[i, :, pad - length:]
                layer.values[row, :, width - length:] = v[i, :, pad - length:]
            self.mask[row] = 0
            self.mask[row, width - length:] = 1
            self.position[row] = length

    def keep(self, rows: list[int]) -> None:
        index = torch.tensor(rows, dtype=torch.long, device=self.mask.device)
        for layer in self.layers:
            layer.keys, layer.values = layer.keys[index], layer.values[index]
        self.mask, self.position, self.token = self.mask[index], self.position[index], self.token[index]
        self.owner = [self.owner[r] for r in rows]


def greedy_decode(prompts: Sequence[Sequence[int]], rows: int, prefill: Prefill, step: Step,
                  finished: Callable[[int, list[int]], bool]) -> list[list[int]]:
    """The greedy continuation of every prompt, at most ``rows`` decoding at once, in the order
    given (a finished row's slot goes to the next prompt); ``finished(i, tokens)`` says whether
    request i is done."""
    out: list[list[int]] = [[] for _ in prompts]
    if not prompts:
        return out
    waiting = deque(range(len(prompts)))
    batch = _Batch()
    batch.owner = [None] * min(max(1, rows), len(prompts))

    def refill(free: list[int]) -> None:
        while free and waiting:
            taken = [waiting.popleft() for _ in range(min(len(free), len(waiting)))]
            slots, free[:] = free[:len(taken)], free[len(taken):]
            pre = prefill([prompts[i] for i in taken])
            batch.place(slots, pre)
            for row, index, token in zip(slots, taken, pre.logits.argmax(-1).tolist()):
                batch.owner[row] = index
                out[index].append(token)
                batch.token[row] = token
                if finished(index, out[index]):
                    free.append(row)
        if free:                                        # nothing waits: finished rows leave
            batch.keep([r for r in range(len(batch.owner)) if r not in set(free)])
        if batch.layers:
            batch.drop_unused()

    refill(list(range(len(batch.owner))))
    cache = Cache(layers=batch.layers)
    while batch.owner:
        batch.mask = torch.cat([batch.mask, batch.mask.new_ones((len(batch.owner), 1))], dim=1)
        logits = step(cache, batch.token[:, None], batch.mask, batch.position[:, None])
        batch.position += 1
        tokens = logits.argmax(-1)
        batch.token = tokens.clone()
        free = []
        for row, token in enumerate(tokens.tolist()):
            index = batch.owner[row]
            out[index].append(token)
            if finished(index, out[index]):
                free.append(row)
        if free:
            refill(free)
    return out
