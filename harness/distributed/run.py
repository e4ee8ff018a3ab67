"""`harness run` on one rank of a torchrun job: rank 0 makes (or loads) the run folder and tells the
others; every rank runs its part (harness.distributed.sharded.Sharded); rank 0 merges and ends the
command exactly as a single process does (harness.finish)."""
from __future__ import annotations

import dataclasses
import os
import secrets
import socket
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Callable, Sequence

from harness.audit import prepare, prepare_probes, run_audit
from harness.distributed.group import Group, Rank, launched, timeout_s
from harness.distributed.merge import LAYOUT, merge_run_dir, read_layout
from harness.distributed.sharded import Sharded
from harness.distributed.store import RANKS, ShardState
from harness.errors import HarnessError, Terminated
from harness.finish import FinishedRun, finish
from harness.interrupts import sigterm_held
from harness.lock import run_lock
from harness.run_dir import RunState, now
from harness.spec import RunOptions
from harness.store import disk_full, write_json_atomic


def wanted(resume: Path | None) -> bool:
    """Whether this `harness run` goes through here: under torchrun, or resuming a sharded folder."""
    return launched() or (resume is not None and (resume / LAYOUT).is_file())


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


def _begin(rank: Rank, options: RunOptions, start: Callable[[], tuple]) -> tuple[RunState, list, list, str, ExitStack]:
    """Rank 0: the run folder (created, or checked for --resume), locked for this invocation, the
    previous invocation merged, and this invocation recorded."""
    stack = ExitStack()
    resume = options.resume
    try:
        if resume is not None and not (resume / LAYOUT).is_file() and (resume / "run.json").is_file():
            raise HarnessError(f"{resume} was started as one process; it cannot be resumed under torchrun",
                               f"finish it with `harness run --resume {resume}` (no torchrun), or start a new "
                               "run under torchrun")
        if options.spec is not None:
            _refuse_fixed_gpu(options.spec.runtime.device, rank)          # before a run folder exists
        state, tasks, probes = start()
        stack.enter_context(run_lock(state.dir))
        if resume is not None:
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


def _shard_state(rank: Rank, group: Group, state: RunState, shard: Sharded, invocation: str) -> ShardState:
    """This rank's device (its own GPU), checked against the others', and its shard state, saved."""
    spec, shard.gpu = _rank_runtime(state.spec, rank)
    _one_gpu_each(group.gather((socket.gethostname(), shard.gpu), "the start of the run (each rank's GPU)"))
    identity = {"rank": rank.rank, "world_size": rank.world, "local_rank": rank.local_rank, "node": rank.node,
                "host": socket.gethostname(), "pid": os.getpid(), "invocation": invocation,
                "device": spec.runtime.device}
    shard.dir.mkdir(parents=True, exist_ok=True)
    mine = ShardState(dir=shard.dir, id=state.id, spec=spec, argv=state.argv, started=state.started,
                      models=state.models, skipped=state.skipped, fingerprints=state.fingerprints,
                      failures=state.failures, identity=identity)
    mine.save()                                 # this invocation's shard state, from the merged start
    return mine


def _write_stopped(rank: Rank, state: RunState, tasks: list, probes: list, status: str) -> None:
    """Rank 0, stopped before this invocation's run began (torchrun's SIGTERM, or a rank lost or silent at
    the first gather: another rank died): results.json and report.html from what the shards already hold,
    marked incomplete, as the README promises."""
    from harness.audit import write_outputs
    from harness.distributed.merge import describe
    from harness.meters.carbon import resolve_intensity
    meters = state.spec.meters
    stopped = "the run was stopped before its meters were built"
    with sigterm_held():
        merged, environments = merge_run_dir(state.dir, tasks, probes)
        write_outputs(merged, tasks, status,
                      resolve_intensity(meters.country, meters.carbon_intensity, meters.pue),
                      {"disabled": stopped, "by_rank": environments}, stopped, probes,
                      run_extra={"distributed": describe(state.dir, rank)})


def execute(options: RunOptions, start: Callable[[], tuple]) -> int:
    """`harness run` as one rank of a torchrun job (or one process finishing a sharded folder);
    ``start`` makes or loads the run folder (rank 0 only: harness.commands.run.start)."""
    rank = Rank.from_env()
    group = Group(rank, timeout_s())
    try:
        return _execute(rank, group, options, start)
    finally:
        group.close()


def _execute(rank: Rank, group: Group, options: RunOptions, start: Callable[[], tuple]) -> int:
    with ExitStack() as stack:
        if rank.rank == 0:
            try:
                state, tasks, probes, invocation, lock = _begin(rank, options, start)
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
        try:
            mine = _shard_state(rank, group, state, shard, invocation)
            shard.begin()
        except (Terminated, HarnessError) as exc:   # stopped before the run began: what the shards hold is written
            if rank.rank == 0:
                why = exc.problem if isinstance(exc, HarnessError) else "terminated"
                _write_stopped(rank, state, tasks, probes, f"incomplete: {why}")
            raise
        progress = rank.rank == 0 and options.progress
        try:
            results = run_audit(mine, progress=progress, tasks=tasks, probes=probes, shard=shard)
        except Terminated:
            if rank.rank == 0 and rank.world > 1:
                print(f"harness: rank 0 was stopped: under torchrun another rank failed (torchrun's summary says which "
                      f"and why); every rank's finished work is kept in {state.dir}; finish with the same torchrun "
                      f"command and `-m harness run --resume {state.dir}`", file=sys.stderr)
            raise
        except OSError as exc:
            raise disk_full(exc, state.dir) or exc
    if rank.rank != 0:
        return 0
    return finish(options, FinishedRun(state.dir, state.spec, results),
                  note=f" (merged from {rank.world} shard{'s' * (rank.world > 1)} in {state.dir / RANKS})")
