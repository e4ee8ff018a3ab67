"""torchrun's ranks and the collectives of one run, over torch.distributed (gloo: it only carries a few
small messages, so it works the same on CPU and GPU machines). Every wait is polled with a timeout
(HARNESS_DIST_TIMEOUT_S), so a signal is handled at once and a hung peer ends the wait with a message."""
from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Iterator

from harness.errors import HarnessError

TIMEOUT_ENV = "HARNESS_DIST_TIMEOUT_S"
LOST_FIX = ("see torchrun's summary for the rank that failed; then resume the run folder with the same torchrun "
            "command and --resume")
DEFAULT_TIMEOUT_S = 1800.0
# gloo's own timeout: just past ours, so our polled wait gives the message, and the wait it leaves pending
# ends moments later (until it does, destroying the process group - and so exiting - blocks)
GLOO_GRACE_S = 2.0


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
                dist.init_process_group("gloo", timeout=timedelta(seconds=timeout + GLOO_GRACE_S))
            self._dist = dist

    def broadcast(self, value: Any, what: str = "the start of the run") -> Any:
        """Rank 0's ``value`` on every rank. The ranks meet at a polled barrier first: a rank that is
        stopped or gone makes the others give up after HARNESS_DIST_TIMEOUT_S with a message, not
        after gloo's own timeout with a traceback (the object collectives cannot be polled)."""
        if self._dist is None:
            return value
        self.barrier(what)
        box = [value]
        with self._lost_at(what):
            self._dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, value: Any, what: str = "the start of the run") -> list:
        """Every rank's ``value``, in rank order, on every rank (after a polled barrier, as ``broadcast``)."""
        if self._dist is None:
            return [value]
        self.barrier(what)
        out = [None] * self.rank.world
        with self._lost_at(what):
            self._dist.all_gather_object(out, value)
        return out

    @contextmanager
    def _lost_at(self, what: str) -> Iterator[None]:
        """A peer that died inside a collective: one line naming the wait, never a traceback."""
        try:
            yield
        except RuntimeError as exc:
            raise HarnessError(f"rank {self.rank.rank} lost the other ranks at {what} "
                               f"({(str(exc).splitlines() or [type(exc).__name__])[0]})", LOST_FIX) from None

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
        with self._lost_at(what):
            work.wait()

    def close(self) -> None:
        if self._dist is not None and self._dist.is_initialized():
            self._dist.destroy_process_group()
