"""One rank's storage in a sharded run folder, RUN_DIR/ranks/rank<k>/: the items it computes, its
records (appended to its own samples.jsonl, read across every shard) and its run state (run.json
plus shard.json: which rank wrote it and which pieces it attempted)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from harness.run_dir import RunState
from harness.store import SampleStore, iter_jsonl, record_key, sample_problem, write_json_atomic

RANKS = "ranks"                       # RUN_DIR/ranks/rank<k>/


class ShardedDone:
    """``ProbeContext.done`` on one rank: an item is "done" when it is stored, or when it is another
    rank's. Items are dealt round-robin in the order the probe first asks about them, counting only
    those not stored (the same on every rank: each sees the same stored set and the same data).
    ``positions`` keeps each item's place in that order over all items, stored or not, which is
    the order a single process yields them in (merged records are put back in it)."""

    def __init__(self, stored: set[str], rank: int, world: int):
        self.stored, self.rank, self.world = stored, rank, world
        self.positions: dict[str, int] = {}
        self._turn: dict[str, int] = {}
        self._foreign = False

    def __contains__(self, item_id: object) -> bool:
        if item_id not in self.positions:
            self.positions[item_id] = len(self.positions)
            if item_id not in self.stored:
                self._turn[item_id] = len(self._turn)
        if item_id in self.stored:
            return True
        if self._turn[item_id] % self.world == self.rank:
            return False
        self._foreign = True
        return True

    def __bool__(self) -> bool:
        """Whether any item was stored before or is another rank's (so none here is not "no items")."""
        return bool(self.stored) or self._foreign


def owned_examples(examples: Sequence, stored: Callable[[Any], bool], rank: int, world: int) -> tuple:
    """The examples this rank computes: those not stored, dealt round-robin in dataset order."""
    missing = [ex for ex in examples if not stored(ex)]
    mine = {id(ex) for ex in missing[rank::world]}
    return tuple(ex for ex in examples if id(ex) in mine)


def shard_paths(run_dir: Path) -> dict[int, Path]:
    """rank -> RUN_DIR/ranks/rank<k>/, for every shard folder present."""
    root = run_dir / RANKS
    out = {}
    for path in root.glob("rank*") if root.is_dir() else ():
        suffix = path.name[4:]
        if path.is_dir() and suffix.isdigit():
            out[int(suffix)] = path
    return dict(sorted(out.items()))


class ShardStore(SampleStore):
    """Appends to this rank's samples.jsonl; reads every shard's (each key once, lower ranks first).
    ``done_keys`` is what was stored when the invocation started, read by every rank before any
    of them computed anything (so all deal the missing items alike)."""

    def __init__(self, path: Path, run_dir: Path, rank: int, position: Callable[[dict], int | None],
                 stored: set[tuple]):
        super().__init__(path)
        self.run_dir, self.rank, self._position, self._stored = run_dir, rank, position, stored

    def done_keys(self) -> set[tuple[str, str, str]]:
        return set(self._stored)

    def records(self) -> list[dict]:
        seen, out = set(), []
        for shard in shard_paths(self.run_dir).values():
            for record in iter_jsonl(shard / "samples.jsonl", sample_problem):
                key = record_key(record)
                if key not in seen:
                    seen.add(key)
                    out.append(record)
        return out

    def append(self, record: dict) -> None:
        position = self._position(record)
        super().append({**record, "rank": self.rank, **({"position": position} if position is not None else {})})


@dataclass
class ShardState(RunState):
    """A rank's run.json in its shard folder, plus shard.json: who wrote it (rank, node, host,
    invocation) and which pieces it attempted (so a failure another rank cleared is not kept)."""
    identity: dict[str, Any] = field(default_factory=dict)
    attempted: set[tuple[str, str, str | None]] = field(default_factory=set)   # harness.failures.key of each
    meters: dict[str, Any] = field(default_factory=dict)

    def clear_failure(self, model: str, kind: str, piece: str | None = None) -> None:
        self.attempted.add((model, kind, piece))          # called on every success, and by record_failure
        super().clear_failure(model, kind, piece)

    def save(self, directory: Path | None = None) -> None:
        super().save(directory)
        write_json_atomic((directory or self.dir) / "shard.json",
                          {**self.identity, "attempted": sorted(map(list, self.attempted), key=str), "meters": self.meters})
