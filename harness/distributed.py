"""Scale-out on torchrun: `torchrun --nproc-per-node N -m harness run ...` shards one run across ranks.

Nothing here is a cluster layer of its own: torchrun (single- or multi-node) starts the processes
and sets RANK, WORLD_SIZE, LOCAL_RANK, GROUP_RANK, MASTER_ADDR/PORT; torch.distributed (gloo: it
only carries a few small messages, so it works the same on CPU and GPU machines) carries the
few collectives a run needs: rank 0 tells the others which run folder to work in, the ranks
check that they hold one GPU each, and they wait for each other three times: once every rank has
read what is stored (the dealing depends on it), once per model (a model's probes read every
rank's task records), and at the end, before rank 0 merges. Each wait is polled with a timeout
(HARNESS_DIST_TIMEOUT_S, default 1800 s), so SIGTERM from torchrun's agent (another rank died)
is handled at once and a hung peer ends the wait with a message instead of hanging rank 0 forever.

The run folder (on a filesystem every node sees) holds one shard per rank, ranks/rank<k>/, laid
out like a run folder of its own: samples.jsonl, windows.jsonl, telemetry.csv and run.json (that
rank's models, skips and failures), plus shard.json (which rank, node and invocation wrote it,
the pieces it attempted, its meters). The runner stays rank-agnostic: it is handed a ``Shard``
(``WHOLE`` for an ordinary run) that says which items are this process's, where it appends, and
where it waits.

* Sharding: every task's examples and every probe's items still missing when an invocation
  starts are dealt round-robin across ranks, in dataset order (tasks) and in the order the probe
  asks about them (probes, through ``ProbeContext.done``). Every rank reads every shard, so what
  any rank stored counts as done for all: a resume with a different world size simply deals what
  is left among the ranks it has (re-sharding), and a folder sharded once can also be finished by
  one plain `harness run --resume DIR`.
* Merging (rank 0): samples.jsonl is every shard's records (each key once), in a canonical order
  (probe items by the position the probe asked for them, so ties in ``index`` fall as in a
  single-process run); results are assembled from it exactly as for one process (metrics
  recomputed from records sorted by index), so the metric values are the same, bit for bit where
  the batches are fixed (--batch-size); with automatic batching a rank's batches hold other items,
  padded otherwise, so continuous log-likelihoods may differ in float32's last digits (as after a
  single-process resume).
* Energy: each rank meters its own GPU (cuda:LOCAL_RANK, chosen by UUID); host CPU/RAM is metered
  by local rank 0 only, once per node. windows.jsonl is every shard's windows with a ``rank``;
  harness.meters.ranks sums energy across ranks and takes, per invocation, the slowest rank's time.
"""
from __future__ import annotations

import dataclasses
import json
import os
import secrets
import socket
import sys
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, Container, Iterator, Protocol, Sequence

from harness.errors import HarnessError, Terminated
from harness.run_dir import RunState, now
from harness.store import (SampleStore, dumps_strict, iter_jsonl, record_key, sample_problem, write_json_atomic,
                           write_text_atomic)

RANKS = "ranks"                       # RUN_DIR/ranks/rank<k>/
LAYOUT = "distributed.json"           # marks a sharded run folder; lists its invocations
TIMEOUT_ENV = "HARNESS_DIST_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 1800.0


# ------------------------------------------------------------------ what the runner is handed


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


# ------------------------------------------------------------------ ranks as torchrun sets them


@dataclass(frozen=True)
class Rank:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    node: int = 0
    nodes: int = 1

    @classmethod
    def from_env(cls, env: dict | None = None) -> "Rank":
        env = os.environ if env is None else env
        try:
            world = int(env.get("WORLD_SIZE", "1"))
            return cls(rank=int(env.get("RANK", "0")), world=world, local_rank=int(env.get("LOCAL_RANK", "0")),
                       node=int(env.get("GROUP_RANK", "0")), nodes=int(env.get("GROUP_WORLD_SIZE", "1")))
        except ValueError as exc:
            raise HarnessError(f"torchrun's environment is malformed ({exc})",
                               "start harness with torchrun, or unset RANK/WORLD_SIZE/LOCAL_RANK") from None


def launched(env: dict | None = None) -> bool:
    """Started by torchrun with more than one process."""
    return Rank.from_env(env).world > 1


def wanted(resume: Path | None) -> bool:
    """Whether this `harness run` goes through here: under torchrun, or resuming a sharded folder."""
    return launched() or (resume is not None and (resume / LAYOUT).is_file())


def timeout_s() -> float:
    raw = os.environ.get(TIMEOUT_ENV)
    if raw is None:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise HarnessError(f"{TIMEOUT_ENV}={raw!r} is not a positive number of seconds", f"set {TIMEOUT_ENV}=1800")
    return value


class Group:
    """The collectives of one run, over torch.distributed (gloo). With one process, no-ops."""

    def __init__(self, rank: Rank, timeout: float):
        self.rank, self.timeout = rank, timeout
        self._dist = None
        if rank.world > 1:
            import torch.distributed as dist
            if not dist.is_initialized():
                dist.init_process_group("gloo", timeout=timedelta(seconds=timeout + 60))
            self._dist = dist

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value`` on every rank."""
        if self._dist is None:
            return value
        box = [value]
        self._dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, value: Any) -> list:
        """Every rank's ``value``, in rank order, on every rank."""
        if self._dist is None:
            return [value]
        out = [None] * self.rank.world
        self._dist.all_gather_object(out, value)
        return out

    def barrier(self, what: str) -> None:
        """Wait until every rank gets here; polled, so signals are handled while waiting."""
        if self._dist is None:
            return
        work = self._dist.barrier(async_op=True)
        deadline = time.monotonic() + self.timeout
        while not work.is_completed():
            if time.monotonic() > deadline:
                raise HarnessError(f"rank {self.rank.rank} waited {self.timeout:.0f} s for the other ranks at {what}",
                                   f"see torchrun's summary for a rank that failed or hangs; raise {TIMEOUT_ENV} "
                                   "if ranks are just slow; then resume the run folder with the same torchrun command "
                                   "and --resume")
            time.sleep(0.02)
        try:
            work.wait()
        except RuntimeError as exc:
            raise HarnessError(f"rank {self.rank.rank} lost the other ranks at {what} ({str(exc).splitlines()[0]})",
                               "see torchrun's summary for the rank that failed; then resume the run folder with "
                               "the same torchrun command and --resume") from None

    def close(self) -> None:
        if self._dist is not None and self._dist.is_initialized():
            self._dist.destroy_process_group()


# ------------------------------------------------------------------ the items this rank computes


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


# ------------------------------------------------------------------ one rank's run state


@dataclass
class ShardState(RunState):
    """A rank's run.json in its shard folder, plus shard.json: who wrote it (rank, node, host,
    invocation) and which pieces it attempted (so a failure another rank cleared is not kept)."""
    identity: dict[str, Any] = field(default_factory=dict)
    attempted: set[tuple[str, str]] = field(default_factory=set)
    meters: dict[str, Any] = field(default_factory=dict)

    def clear_failure(self, model: str, what: str) -> None:
        self.attempted.add((model, what))          # called on every success, and by record_failure
        super().clear_failure(model, what)

    def save(self, directory: Path | None = None) -> None:
        super().save(directory)
        write_json_atomic((directory or self.dir) / "shard.json",
                          {**self.identity, "attempted": sorted(map(list, self.attempted)), "meters": self.meters})


def read_shard(path: Path) -> dict | None:
    """A shard folder's run.json and shard.json, or None when either is missing or damaged."""
    try:
        state = json.loads((path / "run.json").read_text(encoding="utf-8"))
        meta = json.loads((path / "shard.json").read_text(encoding="utf-8"))
        if not isinstance(state, dict) or not isinstance(meta, dict):
            return None
        attempted = {tuple(a) for a in meta.get("attempted", [])}
    except (OSError, ValueError, TypeError):          # TypeError: a hand-edited shard.json of the wrong shape
        return None
    return {**meta, "models": state.get("models", {}), "skipped": state.get("skipped", {}),
            "failures": state.get("failures", []), "attempted": attempted}


def merge_failures(start: Sequence[dict], shards: Sequence[dict]) -> list[dict]:
    """A piece some rank attempted in this invocation failed iff one that attempted it failed it;
    a piece no rank attempted keeps what the invocation started with."""
    attempted = set().union(*(s["attempted"] for s in shards)) if shards else set()
    out, seen = [], set()
    for shard in shards:
        for failure in shard["failures"]:
            key = (failure["model"], failure["what"])
            if key in shard["attempted"] and key not in seen:
                seen.add(key)
                out.append(failure)
    for failure in start:
        key = (failure["model"], failure["what"])
        if key not in attempted and key not in seen:
            seen.add(key)
            out.append(failure)
    return out


def merge_models(names: Sequence[str], shards: Sequence[dict]) -> dict:
    """Each model's info from the lowest rank that loaded it; a probe is done once every rank has
    done its part; the batch size is the smallest any rank settled on."""
    out = {}
    for name in names:
        infos = [s["models"][name] for s in shards if name in s["models"]]
        if not infos:
            continue
        merged = dict(infos[0])
        merged["probes_done"] = [p for p in infos[0].get("probes_done", [])
                                 if all(p in s["models"].get(name, {}).get("probes_done", []) for s in shards)]
        sizes = [i["batch_size"] for i in infos if i.get("batch_size") is not None]
        if sizes:
            merged["batch_size"] = min(sizes)
        out[name] = merged
    return out


def merge_skipped(shards: Sequence[dict]) -> dict:
    out: dict[str, dict[str, str]] = {}
    for shard in shards:
        for model, skips in shard["skipped"].items():
            for name, reason in skips.items():
                out.setdefault(model, {}).setdefault(name, reason)
    return out


def canonical_order(records: Sequence[dict], models: Sequence[str], groups: Sequence[str]) -> list[dict]:
    """Records by model, then task or probe (in run order), then the probe's asking order (tasks:
    index), so assembling them sorts ties in ``index`` as a single process stores them."""
    model_at = {m: i for i, m in enumerate(models)}
    group_at = {g: i for i, g in enumerate(groups)}
    inf = float("inf")
    return sorted(records, key=lambda r: (model_at.get(r["model"], inf), str(r["model"]),
                                          group_at.get(r["task"], inf), str(r["task"]),
                                          r.get("position", r.get("index", 0)), r.get("rank", 0)))


def read_layout(run_dir: Path) -> dict:
    try:
        layout = json.loads((run_dir / LAYOUT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"invocations": []}
    return layout if isinstance(layout, dict) and isinstance(layout.get("invocations", []), list) else {"invocations": []}


# ------------------------------------------------------------------ one rank of a sharded run


class Sharded:
    """This rank's part of a run in RUN_DIR (see the module docstring)."""

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
    def session(self, options):
        """This rank's meters: its own GPU; the host's CPU/RAM on local rank 0 only (once per node)."""
        from harness.meters.nvml import NvmlMeter
        from harness.meters.session import MeterSession
        from harness.plugins import METERS
        if not options.enabled:
            session = MeterSession([], self.dir, disabled_reason="meters were off (--no-meters)")
        else:
            meters = []
            for name in options.names:
                if name == "gpu":
                    if self.gpu is not None or self.rank.local_rank == 0:    # on CPU runs: the node's GPUs, once
                        meters.append(NvmlMeter(period_s=options.period_s, idle_s=options.idle_s, visible=self.gpu,
                                                 background_baseline=True))
                elif name == "host":
                    if self.rank.local_rank == 0:
                        meters.append(METERS.get("host")(options))
                else:
                    meters.append(METERS.get(name)(options))
            session = MeterSession(meters, self.dir)
        session.invocation = self.invocation      # one id per invocation, shared by its ranks
        return session

    def publish(self, state: ShardState, tasks, status: str, intensity, meters_environment: dict,
                meters_disabled: str | None = None, probes: Sequence = ()) -> dict | None:
        """Every rank: wait for the others when it finished. Rank 0 then merges the shards into
        the run folder and writes results.json and report.html (also when stopped: what is there)."""
        state.meters = meters_environment
        state.save()
        if status == "complete":
            try:
                self.group.barrier("the end of the run")
            except HarnessError as exc:
                if self.rank.rank != 0:
                    raise
                print(f"harness: error: {exc}", file=sys.stderr)
                status = f"incomplete: {exc.problem}"
        if self.rank.rank != 0:
            return None
        from harness.audit import write_outputs
        merged, environments = merge_run_dir(self.run_dir, tasks, probes)
        return write_outputs(merged, tasks, status, intensity,
                             {**meters_environment, "by_rank": environments}, meters_disabled, probes,
                             run_extra={"distributed": describe(self.run_dir, self.rank)})


def describe(run_dir: Path, rank: Rank) -> dict:
    layout = read_layout(run_dir)
    return {"world_size": rank.world, "nodes": rank.nodes, "backend": "gloo (torch.distributed, control only)",
            "sharding": "round-robin over the items missing at each invocation's start (tasks: dataset order; "
                        "probes: the order the probe asks for them)",
            "shards": f"{RANKS}/rank<k>/", "invocations": layout.get("invocations", [])}


def merge_run_dir(run_dir: Path, tasks: Sequence = (), probes: Sequence = ()) -> tuple[RunState, dict]:
    """Rank 0: the shards of the latest invocation folded into RUN_DIR/run.json, and every shard's
    records and windows into RUN_DIR/samples.jsonl and windows.jsonl (telemetry.csv: rank 0's).
    Idempotent, so it is run at the end of an invocation and again at the start of a resume (a
    killed rank 0 never merged). Returns the merged state and each rank's meters."""
    from harness.meters.session import WINDOW_FIX, window_problem
    start = RunState.load(run_dir)
    layout = read_layout(run_dir)
    latest = layout["invocations"][-1] if layout["invocations"] else {"id": None, "world_size": 0}
    paths = shard_paths(run_dir)
    shards = []
    for rank, path in paths.items():
        shard = read_shard(path)
        if shard is not None and rank < latest["world_size"] and shard.get("invocation") == latest["id"]:
            shards.append(shard)
    names = [m.name for m in start.spec.models]
    if shards:
        start.models = merge_models(names, shards)
        start.skipped = merge_skipped(shards)
        start.failures = merge_failures(start.failures, shards)
        start.save()
    seen, records = set(), []
    windows = []
    for rank, path in paths.items():
        for record in iter_jsonl(path / "samples.jsonl", sample_problem):
            if record_key(record) not in seen:
                seen.add(record_key(record))
                records.append(record)
        windows += [{**w, "rank": w.get("rank", rank)}
                    for w in iter_jsonl(path / "windows.jsonl", window_problem, WINDOW_FIX)]
    groups = [t.name for t in tasks] + [f"probe:{p.name}" for p in probes]
    write_text_atomic(run_dir / "samples.jsonl", "".join(dumps_strict(r) + "\n" for r in canonical_order(records, names, groups)))
    write_text_atomic(run_dir / "windows.jsonl", "".join(dumps_strict(w) + "\n" for w in windows))
    telemetry = paths.get(0, run_dir / RANKS / "rank0") / "telemetry.csv"
    if telemetry.is_file():
        write_text_atomic(run_dir / "telemetry.csv", telemetry.read_text(encoding="utf-8", errors="replace"))
    return start, {str(s["rank"]): s.get("meters", {}) for s in shards}


# ------------------------------------------------------------------ `harness run` on a rank


def _rank_runtime(spec, rank: Rank):
    """The spec this rank runs with: cuda means its own GPU, cuda:LOCAL_RANK (and the meter's UUID)."""
    import torch
    device = spec.runtime.device
    _refuse_fixed_gpu(device, rank)
    if (device is None or device == "cuda") and torch.cuda.is_available():
        count = torch.cuda.device_count()
        index = rank.local_rank if rank.local_rank < count else 0 if count == 1 else None   # 1: one GPU per process
        if index is None:
            raise HarnessError(f"local rank {rank.local_rank} has no GPU: torch sees {count}",
                               "start at most one process per GPU (torchrun --nproc-per-node)")
        torch.cuda.set_device(index)
        uuid = str(torch.cuda.get_device_properties(index).uuid)
        runtime = dataclasses.replace(spec.runtime, device=f"cuda:{index}")
        return dataclasses.replace(spec, runtime=runtime), (uuid if uuid.startswith("GPU-") else f"GPU-{uuid}")
    return spec, None


def _refuse_fixed_gpu(device: str | None, rank: Rank) -> None:
    if rank.world > 1 and device not in (None, "cuda") and device.startswith("cuda"):
        raise HarnessError(f"--device {device} under torchrun would put every rank on one GPU",
                           "pass --device cuda or leave --device out: each rank uses cuda:LOCAL_RANK")


def _one_gpu_each(gpus: Sequence[tuple[str, str | None]]) -> None:
    """Two ranks on one GPU would each meter all of it (and fight for its memory): refused."""
    first: dict = {}
    for k, (host, uuid) in enumerate(gpus):
        if uuid is not None and (host, uuid) in first:
            raise HarnessError(f"ranks {first[host, uuid]} and {k} share the GPU {uuid} on {host}",
                               "start one process per GPU (torchrun --nproc-per-node = the number of GPUs)")
        first.setdefault((host, uuid), k)


def _begin(rank: Rank, args, start: Callable[[], tuple]) -> tuple[RunState, list, list, str, ExitStack]:
    """Rank 0: the run folder (created, or checked for --resume), locked for this invocation, the
    previous invocation merged, and this invocation recorded."""
    from harness.lock import run_lock
    stack = ExitStack()
    try:
        if args.resume is not None and not (args.resume / LAYOUT).is_file() and (args.resume / "run.json").is_file():
            raise HarnessError(f"{args.resume} was started as one process; it cannot be resumed under torchrun",
                               f"finish it with `harness run --resume {args.resume}` (no torchrun), or start a new "
                               "run under torchrun")
        _refuse_fixed_gpu(getattr(args, "device", None), rank)          # before a run folder exists
        state, tasks, probes = start()
        stack.enter_context(run_lock(state.dir))
        if args.resume is not None:
            merge_run_dir(state.dir, tasks, probes)
            state = RunState.load(state.dir)
        layout = read_layout(state.dir)
        invocation = secrets.token_hex(4)
        layout["invocations"] = [*layout.get("invocations", []),
                                 {"id": invocation, "world_size": rank.world, "nodes": rank.nodes, "started": now()}]
        layout["world_size"] = rank.world
        write_json_atomic(state.dir / LAYOUT, layout)
        return state, tasks, probes, invocation, stack
    except BaseException:
        stack.close()
        raise


def execute(args, argv: list[str], start: Callable[[], tuple]) -> int:
    """`harness run` as one rank of a torchrun job (or one process finishing a sharded folder)."""
    rank = Rank.from_env()
    group = Group(rank, timeout_s())
    try:
        return _execute(rank, group, args, start)
    finally:
        group.close()


def _execute(rank: Rank, group: Group, args, start: Callable[[], tuple]) -> int:
    from harness.audit import prepare, prepare_probes, run_audit
    with ExitStack() as stack:
        if rank.rank == 0:
            try:
                state, tasks, probes, invocation, lock = _begin(rank, args, start)
            except BaseException as exc:
                group.broadcast({"error": str(exc) or type(exc).__name__})
                raise
            stack.enter_context(lock)
            group.broadcast({"dir": str(state.dir), "invocation": invocation})
            print(f"run folder: {state.dir} ({rank.world} rank{'s' * (rank.world > 1)}, {rank.nodes} "
                  f"node{'s' * (rank.nodes > 1)})", file=sys.stderr)
        else:
            message = group.broadcast(None)
            if "error" in message:
                return 2                         # rank 0 printed the one-line error
            run_dir = Path(message["dir"])
            if not (run_dir / "run.json").is_file():
                raise HarnessError(f"rank {rank.rank} on {socket.gethostname()} cannot see the run folder {run_dir} "
                                   "that rank 0 created",
                                   "put --out on a filesystem every node mounts at the same path (NFS, Lustre, ...)")
            state, invocation = RunState.load(run_dir), message["invocation"]
            tasks, probes = prepare(state.spec), prepare_probes(state.spec)
        shard = Sharded(rank, group, state.dir, invocation)
        spec, shard.gpu = _rank_runtime(state.spec, rank)
        _one_gpu_each(group.gather((socket.gethostname(), shard.gpu)))
        identity = {"rank": rank.rank, "world_size": rank.world, "local_rank": rank.local_rank, "node": rank.node,
                    "host": socket.gethostname(), "pid": os.getpid(), "invocation": invocation,
                    "device": spec.runtime.device}
        shard.dir.mkdir(parents=True, exist_ok=True)
        mine = ShardState(dir=shard.dir, id=state.id, spec=spec, argv=state.argv, started=state.started,
                          models=state.models, skipped=state.skipped, fingerprints=state.fingerprints,
                          failures=state.failures, identity=identity)
        mine.save()                                 # this invocation's shard state, from the merged start
        shard.begin()
        progress = rank.rank == 0 and not args.no_progress and sys.stderr.isatty()
        try:
            results = run_audit(mine, progress=progress, tasks=tasks, probes=probes, shard=shard)
        except Terminated:
            if rank.rank == 0 and rank.world > 1:
                print(f"harness: rank 0 was stopped: under torchrun another rank failed (torchrun's summary says which "
                      f"and why); every rank's finished work is kept in {state.dir}; finish with the same torchrun "
                      f"command and `-m harness run --resume {state.dir}`", file=sys.stderr)
            raise
        except OSError as exc:
            from harness.store import disk_full
            raise disk_full(exc, state.dir) or exc
    if rank.rank != 0:
        return 0
    from harness.commands.run import after_run, finished
    from harness.report import summary_table
    results = after_run(args, results, state.dir)
    print(summary_table(results))
    print(f"wrote {state.dir}/results.json, samples.jsonl, report.html (merged from {rank.world} "
          f"shard{'s' * (rank.world > 1)} in {state.dir / RANKS})")
    return finished(results, state.dir)
