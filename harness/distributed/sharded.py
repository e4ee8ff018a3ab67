"""One rank of a sharded run: ``Sharded`` is the runner's ``Shard`` (harness.shard) on a torchrun rank.
It deals the items, waits for the other ranks where the run needs them, builds this rank's meters and,
on rank 0, publishes the merged run."""
from __future__ import annotations

import dataclasses
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Container, Iterator, Sequence

from harness.distributed.group import Group, Rank
from harness.distributed.merge import describe, merge_run_dir
from harness.distributed.store import RANKS, ShardedDone, ShardState, ShardStore, owned_examples
from harness.errors import HarnessError, Terminated
from harness.interrupts import sigterm_held
from harness.meters import build_session
from harness.spec import MeterOptions
from harness.store import SampleStore, record_key


class Sharded:
    """This rank's part of a run in RUN_DIR (see harness.distributed): the runner's ``Shard`` on a rank."""

    def __init__(self, rank: Rank, group: Group, run_dir: Path, invocation: str):
        self.rank, self.group, self.run_dir, self.invocation = rank, group, run_dir, invocation
        self.dir = run_dir / RANKS / f"rank{rank.rank}"
        self.gpu: str | None = None            # this rank's GPU for the meter (a UUID), when it runs on one
        self._probes: dict[tuple[str, str], ShardedDone] = {}
        self._stored: set[tuple] | None = None

    def begin(self) -> None:
        """What is stored now, read by every rank before any rank computes (the dealing depends on it)."""
        self._stored = {record_key(r) for r in ShardStore(self.dir / "samples.jsonl", self.run_dir, 0, lambda r: None,
                                                          set()).records()}
        self.group.barrier("the start of the run")

    # what the runner asks
    def store(self, path: Path) -> SampleStore:
        if self._stored is None:
            raise RuntimeError("Sharded.begin() must come before the run")
        return ShardStore(path, self.run_dir, self.rank.rank, self._position, self._stored)

    def part(self, task, model: str, done: set):
        mine = owned_examples(task.examples, lambda ex: (model, task.name, ex.id) in done, self.rank.rank, self.rank.world)
        return dataclasses.replace(task, examples=mine)

    def probe_done(self, model: str, probe_task: str, stored: set[str]) -> Container[str]:
        done = self._probes[(model, probe_task)] = ShardedDone(stored, self.rank.rank, self.rank.world)
        return done

    @contextmanager
    def model(self, name: str) -> Iterator[Callable[[], None]]:
        waited = False

        def tasks_stored() -> None:
            nonlocal waited
            if not waited:
                waited = True
                self.group.barrier(f"the end of model {name!r}'s tasks")
        yield tasks_stored                  # a rank that raises does not wait for the others
        tasks_stored()

    def _position(self, record: dict) -> int | None:
        done = self._probes.get((record.get("model"), record.get("task")))
        return None if done is None else done.positions.get(record.get("id"))

    # what the audit asks
    def meter_options(self, options: MeterOptions) -> MeterOptions:
        """This rank's meters: its own GPU (on CPU runs, local rank 0 meters the node's GPUs, once);
        the host's CPU/RAM on local rank 0 only (once per node); any other meter on every rank."""
        first_on_node = self.rank.local_rank == 0
        names = tuple(n for n in options.names if n not in ("gpu", "host") or first_on_node
                      or (n == "gpu" and self.gpu is not None))
        return dataclasses.replace(options, names=names, gpu=self.gpu)

    def session(self, options: MeterOptions):
        """This rank's meter session, built as every run's is (harness.meters.build_session)."""
        session = build_session(self.meter_options(options), self.dir)
        session.invocation = self.invocation      # one id per invocation, shared by its ranks
        return session

    def publish(self, state: ShardState, tasks, status: str, intensity, meters_environment: dict,
                meters_disabled: str | None = None, probes: Sequence = ()) -> dict | None:
        """Every rank: wait for the others when it finished. Rank 0 then merges the shards into
        the run folder and writes results.json and report.html (also when stopped: what is there)."""
        state.meters = meters_environment
        state.save()
        stopped = None
        if status == "complete":
            try:
                self.group.barrier("the end of the run")
            except HarnessError as exc:
                if self.rank.rank != 0:
                    raise
                print(f"harness: error: {exc}", file=sys.stderr)
                status = f"incomplete: {exc.problem}"
            except (Terminated, KeyboardInterrupt) as exc:   # torchrun stops rank 0 while it waits (another
                if self.rank.rank != 0:                       # rank failed), or Ctrl-C reaches it there
                    raise
                why = "terminated" if isinstance(exc, Terminated) else "interrupted"
                status, stopped = f"incomplete: {why}", exc
        if self.rank.rank != 0:
            return None
        from harness.audit import write_outputs
        with sigterm_held():
            merged, environments = merge_run_dir(self.run_dir, tasks, probes)
            results = write_outputs(merged, tasks, status, intensity,
                                    {**meters_environment, "by_rank": environments}, meters_disabled, probes,
                                    run_extra={"distributed": describe(self.run_dir, self.rank)})
        if stopped is not None:
            raise stopped                      # written; the rank still ends as stopped
        return results
