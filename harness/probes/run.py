"""Running the probes for one model, after its tasks: each probe in its own measurement window,
its items appended to the sample store as they finish."""
from __future__ import annotations

from typing import Callable, Sequence

from harness.batching import Pending, group_requests
from harness.calls import GuardedAdapter, answer_method, guarded, token_counter
from harness.failures import isolated
from harness.invalid import checked_record
from harness.meters.session import MeterSession
from harness.models.base import ModelAdapter
from harness.plugins import PROBES
from harness.prepared import PreparedTask
from harness.probes.base import ProbeConfig, ProbeContext
from harness.progress import OFF, Piece, Reporter
from harness.requests import Request, Response, request_text
from harness.run_dir import RunState
from harness.spec import ModelSpec
from harness.store import SampleStore


def probe_task_name(config: ProbeConfig) -> str:
    return f"probe:{config.name}"


def batched_caller(adapter: ModelAdapter, sizer, model_name: str, what: str,
                   piece: Piece | None = None) -> Callable[[list[Request]], list[Response]]:
    """A call that takes requests of one kind in any order and answers them in that order, in batches
    (each batch counted on ``piece``: the requests, or when the piece counts items, beside them)."""
    def call(requests: list[Request]) -> list[Response]:
        if not requests:
            return []
        by_request = piece is not None and piece.unit == "req"
        if by_request:
            piece.grow(len(requests))
        pending = [Pending(i, r) for i, r in enumerate(requests)]
        count = token_counter(adapter, model_name, what)
        groups = group_requests(pending, lambda r: count(request_text(r)))
        out: list[Response | None] = [None] * len(requests)
        method = guarded(answer_method(adapter, type(requests[0])), model_name, what)
        for batch, responses in sizer.run(groups, method):
            for item, response in zip(batch, responses, strict=True):
                out[item.key] = response
            if by_request:
                piece.advance(len(batch))
            elif piece is not None:
                piece.count("requests", len(batch))
        return out
    return call


def run_probes(model_name: str, adapter: ModelAdapter, probes: Sequence[ProbeConfig], tasks: Sequence[PreparedTask],
               store: SampleStore, done: set[tuple[str, str, str]], state: RunState, session: MeterSession,
               sizer, shard=None, load_model: Callable[[ModelSpec], ModelAdapter] | None = None,
               progress: Reporter = OFF) -> None:
    """Runs ``probes`` for one model. ``load_model`` loads a model a probe needs besides this one (the
    safety probe's classifier) with the run's own runtime options (--device, --dtype, ...). Each probe
    is a piece of ``progress``: its items against ``probe.planned(ctx)`` when the probe says how many
    it will store, else its requests as each call makes them known."""
    records_by_task: dict[str, list[dict]] | None = None

    def task_records(name: str) -> list[dict]:
        nonlocal records_by_task
        if records_by_task is None:        # the tasks are finished by now: read the store once
            records_by_task = {}
            for r in store.records():
                if r["model"] == model_name and "invalid" not in r:     # probes perturb scored examples only
                    records_by_task.setdefault(r["task"], []).append(r)
            for rows in records_by_task.values():
                rows.sort(key=lambda r: r["index"])
        return records_by_task.get(name, [])

    model_state = state.models[model_name]
    for config in probes:
        probe = PROBES.get(config.probe)()
        reason = probe.skip_reason(adapter, config)
        if reason:
            state.skipped.setdefault(model_name, {})[probe_task_name(config)] = reason
            continue
        name = probe_task_name(config)
        done_ids = {item for (m, t, item) in done if m == model_name and t == name}
        limit = state.spec.probe_limit if state.spec.probe_limit is not None else config.limit
        what = f"probe {config.name!r}"
        ctx = ProbeContext(model=model_name, adapter=GuardedAdapter(adapter, model_name, what), config=config, tasks=tasks,
                           task_records=task_records, call=batched_caller(adapter, sizer, model_name, what),
                           done=shard.probe_done(model_name, name, done_ids) if shard else done_ids,
                           seed=state.spec.seed, limit=limit or None, load_model=load_model)
        with isolated(state, model_name, "probe", config.name) as attempt:
            planned = getattr(probe, "planned", None)
            total = planned(ctx) if planned is not None and progress.mode != "off" else None
            try:
                with progress.piece(f"{model_name} · probe {config.name}", total, "items" if total else "req") as piece, \
                        session.window("probe", config.name, model=model_name, probe=config.name, examples=0) as window:
                    ctx.call = batched_caller(adapter, sizer, model_name, what, piece)
                    for record in probe.run(ctx):
                        record = checked_record({**record, "model": model_name, "task": name})   # NaN: stored as invalid
                        store.append(record)
                        done.add((model_name, name, record["id"]))
                        window.attrs["examples"] += 1
                        if piece.unit == "items":
                            piece.advance()
                        else:
                            piece.count("items")
            finally:
                store.sync()
        if attempt.failed:
            continue                       # not done: a resume retries it, keeping the items stored
        if window.attrs["examples"] == 0 and not ctx.done:      # nothing stored before, nor another process's
            state.skipped.setdefault(model_name, {})[name] = "no applicable items among the tasks this model ran"
        elif config.name not in model_state.setdefault("probes_done", []):
            model_state["probes_done"].append(config.name)
        state.save()
