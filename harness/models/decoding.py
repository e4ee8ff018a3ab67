"""Greedy decoding with continuous batching, on a KV cache that grows in place.

At most ``rows`` requests decode at once. A row that finishes (end of text, a stop sequence, its
token cap) hands its slot to the next waiting request before the next step, so the batch stays
full while requests wait; once none wait, finished rows leave the batch. Each row computes what
it would alone: its own positions, its own columns of the cache (the rest masked), the argmax of
its own logits, so the tokens are those of plain greedy decoding up to float rounding.

The cache (``GrowingLayer``) keeps each layer's keys and values in buffers with room to grow: a
step writes one column in place, where transformers' DynamicLayer concatenates, copying the whole
cache once per token (a fifth of a decoding step's time on CPU for a 26M-parameter GPT-2). Every
row shares the column pointer: a new request's prompt is encoded apart (``prefill``) and copied
in right-aligned at the current column, with the columns before it masked; when the buffers are
full, columns that no row uses any more are dropped from the left, or the buffers grow.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from transformers.cache_utils import Cache, DynamicLayer


class GrowingLayer(DynamicLayer):
    """One layer's cache in buffers (rows, heads, capacity, head_dim); ``keys``/``values`` are views
    of the ``width`` columns in use, which every step extends in place."""

    def __init__(self, keys: torch.Tensor, values: torch.Tensor, width: int):
        super().__init__()
        self.key_buffer, self.value_buffer = keys, values
        self.device, self.is_initialized = keys.device, True
        self.set_width(width)

    def set_width(self, width: int) -> None:
        self.width = width
        self.keys, self.values = self.key_buffer[:, :, :width], self.value_buffer[:, :, :width]

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        end = self.width + key_states.shape[-2]
        self.key_buffer[:, :, self.width:end] = key_states
        self.value_buffer[:, :, self.width:end] = value_states
        self.set_width(end)
        return self.keys, self.values


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
    """The rows in flight: the cache buffers, the attention mask, each row's next position and token."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.owner: list[int | None] = []              # the request each row decodes (None: free)
        self.layers: list[GrowingLayer] = []
        self.width = 0
        self.mask = self.position = self.token = None

    def _allocate(self, rows: int, like: Prefilled) -> None:
        keys = like.layers[0][0]
        self.layers = [GrowingLayer(keys.new_zeros((rows, k.shape[1], self.capacity, k.shape[3])),
                                    keys.new_zeros((rows, v.shape[1], self.capacity, v.shape[3])), 0)
                       for k, v in like.layers]
        self.mask = torch.zeros((rows, self.capacity), dtype=torch.long, device=keys.device)
        self.position = torch.zeros(rows, dtype=torch.long, device=keys.device)
        self.token = torch.zeros(rows, dtype=torch.long, device=keys.device)

    def _relayout(self, shift: int, capacity: int) -> None:
        """Moves every row's columns ``shift`` to the right (negative: left; the columns that leave
        must be unused) into buffers of ``capacity`` columns."""
        keep = slice(max(0, -shift), self.width)
        new_width = self.width + shift
        start = max(0, shift)
        for layer in self.layers:
            for name in ("key_buffer", "value_buffer"):
                old = getattr(layer, name)
                new = old.new_zeros(old.shape[:2] + (capacity,) + old.shape[3:]) if capacity != self.capacity else old
                new[:, :, start:new_width] = old[:, :, keep].clone() if new is old else old[:, :, keep]
                if new is old and shift > 0:
                    new[:, :, :start] = 0
                setattr(layer, name, new)
        mask = self.mask.new_zeros((self.mask.shape[0], capacity))
        mask[:, start:new_width] = self.mask[:, keep]
        self.mask, self.capacity = mask, capacity
        self._set_width(new_width)

    def _set_width(self, width: int) -> None:
        self.width = width
        for layer in self.layers:
            layer.set_width(width)

    def make_room(self, columns: int) -> None:
        """Room for ``columns`` more columns: drops unused columns on the left, else grows."""
        if self.width + columns <= self.capacity:
            return
        used = self.mask[:, :self.width].any(0).nonzero()
        first = int(used[0]) if len(used) else self.width
        if first > 0 and self.width - first + columns <= self.capacity:
            self._relayout(-first, self.capacity)
        else:
            self._relayout(-first, max(2 * self.capacity, self.width - first + columns))

    def place(self, rows: list[int], pre: Prefilled) -> None:
        """Copies newly prefilled prompts into ``rows``, right-aligned at the current column."""
        if not self.layers:
            self._allocate(len(self.owner), pre)
        longest = max(pre.lengths)
        if longest > self.width:                        # a prompt longer than the columns in use
            grow = longest - self.width
            self._relayout(grow, max(self.capacity, self.width + grow))
        width, pad = self.width, pre.layers[0][0].shape[2]
        for i, (row, length) in enumerate(zip(rows, pre.lengths)):
            for layer, (k, v) in zip(self.layers, pre.layers):
                layer.key_buffer[row, :, width - length:width] = k[i, :, pad - length:]
                layer.value_buffer[row, :, width - length:width] = v[i, :, pad - length:]
            self.mask[row] = 0
            self.mask[row, width - length:width] = 1
            self.position[row] = length

    def keep(self, rows: list[int]) -> None:
        index = torch.tensor(rows, dtype=torch.long, device=self.mask.device)
        for layer in self.layers:
            layer.key_buffer, layer.value_buffer = layer.key_buffer[index], layer.value_buffer[index]
        self.mask, self.position, self.token = self.mask[index], self.position[index], self.token[index]
        self.owner = [self.owner[r] for r in rows]
        self._set_width(self.width)


def greedy_decode(prompts: Sequence[Sequence[int]], rows: int, budget: int, prefill: Prefill, step: Step,
                  finished: Callable[[int, list[int]], bool]) -> list[list[int]]:
    """The greedy continuation of every prompt, at most ``rows`` decoding at once, in the order
    given (a finished row's slot goes to the next prompt). ``budget`` is the most new tokens any
    request may take (sizes the buffers); ``finished(i, tokens)`` says whether request i is done."""
    out: list[list[int]] = [[] for _ in prompts]
    if not prompts:
        return out
    waiting = deque(range(len(prompts)))
    batch = _Batch(capacity=max(len(p) for p in prompts) + budget + 1)
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

    refill(list(range(len(batch.owner))))
    cache = Cache(layers=batch.layers)
    while batch.owner:
        batch.make_room(1)
        cache.layers = batch.layers
        batch.mask[:, batch.width] = 1
        logits = step(cache, batch.token[:, None], batch.mask[:, :batch.width + 1], batch.position[:, None])
        batch._set_width(batch.layers[0].width)
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
