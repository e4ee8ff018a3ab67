"""The seam between the runner and scale-out: a ``Shard`` says which part of a run this process does.

The runner stays rank-agnostic: it asks its shard which examples and probe items are this
process's, where it appends its records, and where it waits for other processes. ``WHOLE`` is an
ordinary run (all of the work, one process); a torchrun rank is handed
``harness.distributed.shards.Sharded``.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Container, Iterator, Protocol

from harness.store import SampleStore


class Shard(Protocol):
    """Which part of a run this process does. The runner asks it; it never asks for a rank."""

    def store(self, path: Path) -> SampleStore:
        """Where this process appends its records; reading it sees every process's records."""

    def part(self, task, model: str, done: set) -> Any:
        """The task with only the examples this process computes (``done``: what is stored)."""

    def probe_done(self, model: str, probe_task: str, stored: set[str]) -> Container[str]:
        """``ProbeContext.done``: the probe's items already stored or computed by another process."""

    def model(self, name: str):
        """A context around one model's work; yields ``tasks_stored()``, called before its probes
        (and on leaving, if it was not): every process's task records of the model are stored."""


class _Whole:
    """An ordinary run: all of the work, one process."""

    def store(self, path: Path) -> SampleStore:
        return SampleStore(path)

    def part(self, task, model: str, done: set):
        return task

    def probe_done(self, model: str, probe_task: str, stored: set[str]) -> Container[str]:
        return stored

    @contextmanager
    def model(self, name: str) -> Iterator[Callable[[], None]]:
        yield lambda: None


WHOLE: Shard = _Whole()
