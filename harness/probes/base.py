"""The Probe protocol. A probe is configured in YAML (``probe: NAME`` plus its parameters), yields
one record per item it scores (stored in samples.jsonl like task examples, so a resumed run skips
them), and summarizes its records into ``models.<m>.probes.<name>`` (a pure function)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Container, Iterator, Protocol, Sequence

from harness.errors import HarnessError
from harness.models.base import ModelAdapter
from harness.prepared import PreparedTask
from harness.requests import Request, Response
from harness.spec import ProbeConfig  # noqa: F401  (its home is harness.spec, with TaskConfig)


@dataclass
class ProbeContext:
    """What a probe may use while it runs: the model (through ``call``, which batches, guards and
    backs off on out-of-memory like tasks do), the model's finished task records, and the seed."""
    model: str
    adapter: ModelAdapter
    config: ProbeConfig
    tasks: Sequence[PreparedTask]
    task_records: Callable[[str], list[dict]]       # task name -> this model's records, in dataset order
    call: Callable[[list[Request]], list[Response]]
    done: Container[str]                             # item ids in the store (or another process's: harness.distributed)
    seed: int
    limit: int | None
    load_model: Callable[[Any], ModelAdapter] | None = None   # ModelSpec -> adapter, with the run's --device/--dtype

    def take(self, items: Sequence) -> list:
        return list(items) if not self.limit else list(items)[: self.limit]

    def fits(self, *texts: str) -> bool:
        """Whether the texts, joined, fit the model's input limit. Probes over fixed datasets skip the
        items that do not (and say how many) instead of stopping the run."""
        limit = self.adapter.info.max_length
        # counted as the adapters count (each part tokenized alone), plus one for a start token
        return not limit or 1 + sum(self.adapter.token_count(t) for t in texts) <= limit


def fraction_param(config: ProbeConfig, key: str, value: Any, low_open: bool = False) -> float:
    """A probe parameter that is a fraction: a number from 0 (exclusive when ``low_open``) to 1."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or not (0 < value <= 1 if low_open else 0 <= value <= 1):
        raise HarnessError(f"probe file {config.source}: `{key}` must be a number {'above' if low_open else 'from'} 0 "
                           f"to 1, got {value!r}", f"fix `{key}` under `params:`")
    return float(value)


class Probe(Protocol):
    name: ClassVar[str]
    params: ClassVar[tuple[str, ...]]        # the names its YAML `params:` may hold; any other is refused
    # optionally ``metrics``: the names (fnmatch patterns allowed) summarize may report under `metrics`,
    # which `harness gate` policies may then name (harness.gate.names)
    # optionally ``check_params(self, config)``: refuse bad values before the run starts
    # optionally ``planned(self, ctx) -> int``: how many records run() will yield (progress counts them
    # against it, with an ETA; without it, progress counts the requests of each ctx.call)

    def skip_reason(self, adapter: ModelAdapter, config: ProbeConfig) -> str | None:
        """Why this probe cannot run on this model, or None."""

    def run(self, ctx: ProbeContext) -> Iterator[dict]:
        """Records (each with a unique ``id``) for the items not yet in ``ctx.done``."""

    def summarize(self, records: Sequence[dict], config: ProbeConfig, seed: int) -> dict:
        """{metrics: {name: {value, stderr, ci95}}, subgroups, examples, notes}."""
