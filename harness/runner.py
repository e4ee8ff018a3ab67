"""The run loop: for each model, for each task, requests -> Collator -> adapter -> scores -> store.

Batches never straddle two tasks, so every second of model time belongs to exactly one task
(the energy meters attribute by task). Each finished example is appended to samples.jsonl at
once; a resumed run computes only the examples missing there.
"""
from __future__ import annotations

import dataclasses
import importlib
from typing import Callable, Iterator, Sequence

from harness.batching import Pending, batches, group_requests, split_large
from harness.errors import HarnessError, ModelFault
from harness.failures import isolated
from harness.meters.memory import PeakMemory
from harness.meters.session import MeterSession
from harness.models.base import ModelAdapter
from harness.models.device import is_out_of_memory
from harness.calls import answer_method, guarded, invalid_response, token_counter
from harness.invalid import checked_record, scrubbed
from harness.plugins import MODELS
from harness.preload import factory_imports
from harness.prepared import PreparedTask
from harness.progress import Reporter
from harness.requests import (ClassifyRequest, GenerateRequest, LoglikelihoodRequest, LoglikelihoodRollingRequest, Request,
                              Response, request_text)
from harness.run_dir import RunState
from harness.shard import WHOLE, Shard
from harness.spec import ModelSpec, RuntimeOptions
from harness.store import SampleStore


class BatchSizer:
    """Starts at the fixed --batch-size, or at max_batch_size when automatic, and halves on
    out-of-memory while automatic. The size that worked is kept for later tasks."""

    def __init__(self, runtime: RuntimeOptions):
        self.automatic = runtime.batch_size is None
        self.size = runtime.batch_size or runtime.max_batch_size

    def run(self, groups: Sequence[Sequence[Pending]], call: Callable[[list[Request]], list[Response]]
            ) -> Iterator[tuple[list[Pending], list[Response]]]:
        start, groups, size = 0, split_large(groups, self.size), self.size
        while start < len(groups):
            if self.size != size:                      # halved: re-split what is left
                groups, start, size = split_large(groups[start:], self.size), 0, self.size
            batch = next(batches(groups[start:], self.size))
            try:
                responses = call([item.request for item in batch])
            except Exception as exc:
                if not is_out_of_memory(exc):
                    raise
                if not self.automatic or len(batch) == 1 or self.size == 1:
                    raise ModelFault(f"out of memory on a batch of {len(batch)} requests",
                                     "lower --batch-size, use --dtype bfloat16, or --device cpu") from None
                self.size = max(1, min(self.size, len(batch)) // 2)
                _free_accelerator_memory()
                continue
            taken = 0
            while taken < len(batch):
                taken += len(groups[start])
                start += 1
            yield batch, responses


def _free_accelerator_memory() -> None:
    import torch
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def load_model(spec: ModelSpec, runtime: RuntimeOptions, before_device: Callable[[], None] = lambda: None) -> ModelAdapter:
    """The adapter, or ModelFault: a model that cannot load is one failed piece of the run.

    The factory's declared ``imports`` (the libraries it needs, seconds of CPU work) are imported
    first, then ``before_device`` runs (MeterSession.ready: a GPU idle baseline may still be
    running on its thread), and only then is the model built and moved to its device."""
    factory = MODELS.get(spec.adapter)
    try:
        for module in factory_imports(factory):
            importlib.import_module(module)
        before_device()
        return factory(spec, runtime)
    except ModelFault:
        raise
    except HarnessError as exc:
        raise ModelFault(exc.problem, exc.fix, spec.name, "load") from None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:             # SystemExit too: a model's sys.exit() is its failure, not the run's end
        if is_out_of_memory(exc):
            raise ModelFault(f"model {spec.name!r} does not fit in memory", "use --dtype bfloat16 or --device cpu",
                             spec.name, "load") from None
        fix = (f"install the package that provides {exc.name!r} into this Python environment"
               if isinstance(exc, ModuleNotFoundError) and exc.name else "check the model folder and adapter")
        raise ModelFault(f"model {spec.name!r} failed to load: {type(exc).__name__}: {exc}", fix,
                         spec.name, "load") from None


REQUEST_NAMES = {LoglikelihoodRequest: "log-likelihood", LoglikelihoodRollingRequest: "rolling log-likelihood",
                 GenerateRequest: "generation", ClassifyRequest: "classification"}


def skip_reason(adapter: ModelAdapter, task: PreparedTask) -> str | None:
    if task.kind.request_type not in adapter.supports:
        specific = getattr(adapter, "unsupported", {}).get(task.kind.request_type)    # e.g. a server without logprobs
        return specific or f"{adapter.info.kind} models cannot answer {REQUEST_NAMES[task.kind.request_type]} requests"
    if task.kind.request_type is ClassifyRequest and adapter.info.labels:
        missing = {task.kind.target(task.config, ex) for ex in task.examples} - set(adapter.info.labels)
        if missing:
            return f"task labels {sorted(missing)} are not among the model's labels {list(adapter.info.labels)}"
    return None


def example_metric_scores(task: PreparedTask, prediction_views: dict[str, str], reference: str,
                          scores: dict[str, float] | None = None) -> dict[str, float]:
    """Each metric on this one example alone (sentence BLEU for bleu, 0/1 for accuracy, ...)."""
    metrics = {spec: spec.resolve() for spec in task.metrics}
    return {spec.name: metric.record_value(prediction_views[spec.view], reference, scores or {})
            for spec, metric in metrics.items() if not metric.unavailable()}     # unavailable: not_measured in results


def evaluate_task(model_name: str, adapter: ModelAdapter, task: PreparedTask, store: SampleStore,
                  done: set[tuple[str, str, str]], sizer: BatchSizer, progress: Reporter, session: MeterSession) -> int:
    examples = {ex.id: ex for ex in task.examples if (model_name, task.name, ex.id) not in done}
    pending = [Pending((ex.id, pos), request) for ex in examples.values()
               for pos, request in enumerate(task.kind.requests(task.config, ex, task.contexts[ex.id]))]
    if not pending:
        return 0
    expected: dict[str, int] = {}
    for item in pending:
        expected[item.key[0]] = expected.get(item.key[0], 0) + 1
    answers: dict[str, dict[int, Response]] = {}
    count = token_counter(adapter, model_name, f"task {task.name!r}")
    groups = group_requests(pending, lambda r: count(request_text(r)))
    call = answer_method(adapter, task.kind.request_type)
    with progress.piece(f"{model_name} · task {task.name}", len(pending), "req") as bar, \
            session.window("task", task.name, model=model_name, task=task.name, task_kind=task.kind.name,
                           examples=0, generated_tokens=0) as window:
        def answered(batch: list[Pending], responses: list[Response]) -> None:
            for item, response in zip(batch, responses, strict=True):
                ex_id, pos = item.key
                answers.setdefault(ex_id, {})[pos] = response
                if len(answers[ex_id]) == expected[ex_id]:
                    record = _record(model_name, task, examples[ex_id], answers.pop(ex_id))
                    store.append(record)
                    done.add((model_name, task.name, ex_id))
                    window.attrs["examples"] += 1
                    window.attrs["generated_tokens"] += int(record["scores"].get("generated_tokens", 0))
            bar.advance(len(batch))

        try:
            fault = answer_isolated(groups, sizer, guarded(call, model_name, f"task {task.name!r}"), answered)
        finally:
            store.sync()
    if fault is not None:
        raise fault           # the task is a failed piece; every example the model could answer is stored
    return len(examples)


MAX_FAULTS_IN_A_ROW = 3     # calls that fail one after the other: the model, not an item, is at fault


def answer_isolated(groups: Sequence[Sequence[Pending]], sizer: BatchSizer,
                    call: Callable[[list[Request]], list[Response]],
                    answered: Callable[[list[Pending], list[Response]], None]) -> ModelFault | None:
    """Every group answered through ``sizer``, a fault kept to the items that cause it: when a batch
    fails (the model raised, broke the protocol, ran out of memory at batch size 1, got an
    over-long input), its groups are retried one at a time and the rest go on, so one bad item
    costs its own answer, not the rest of the task. Returns the first fault (None when every group
    was answered); raises it once MAX_FAULTS_IN_A_ROW calls failed in a row, or at once for a
    systemic fault (a server still unreachable after its own retries): a model that fails on
    everything is not retried item by item."""
    done: set[int] = set()                      # id() of every answered Pending
    first: ModelFault | None = None
    in_a_row = 0

    def record(batch: list[Pending], responses: list[Response]) -> None:
        nonlocal in_a_row
        answered(batch, responses)
        done.update(id(item) for item in batch)
        in_a_row = 0

    def failed(exc: ModelFault) -> None:
        nonlocal first, in_a_row
        first, in_a_row = first or exc, in_a_row + (not exc.one_item)    # longest first: over-long items come in a row
        if in_a_row >= MAX_FAULTS_IN_A_ROW or exc.systemic:
            raise first

    remaining = [list(g) for g in groups]
    while remaining:
        sent: list[list[Request]] = []

        def tracked(requests: list[Request]) -> list[Response]:
            sent[:] = [requests]
            return call(requests)
        try:
            for batch, responses in sizer.run(remaining, tracked):
                record(batch, responses)
            return first
        except ModelFault as exc:
            failed(exc)
        in_batch = {id(r) for r in (sent[0] if sent else ())}
        left = [[i for i in g if id(i) not in done] for g in remaining]
        left = [g for g in left if g]
        suspects = [g for g in left if any(id(i.request) in in_batch for i in g)]
        remaining = [g for g in left if not any(id(i.request) in in_batch for i in g)]
        if len(suspects) > 1:                   # which of them is it? each alone
            for group in suspects:
                try:
                    record(group, call([i.request for i in group]))
                except ModelFault as exc:
                    failed(exc)
                except Exception as exc:
                    if not is_out_of_memory(exc):
                        raise
                    failed(ModelFault(f"out of memory on a batch of {len(group)} requests",
                                      "lower --batch-size, use --dtype bfloat16, or --device cpu"))
    return first


def warm_up(model_name: str, adapter: ModelAdapter, tasks: Sequence[PreparedTask], session: MeterSession) -> None:
    """On a GPU, one request answered and thrown away in a "warmup" window before the first task:
    the first call pays for CUDA context and kernel selection, allocator growth and lazy
    initialization, which would otherwise be charged to whichever task runs first. Its energy
    counts in the model's and the run's totals, never in a task's."""
    if not str(adapter.info.device).startswith("cuda"):
        return
    task = next((t for t in tasks if t.examples and skip_reason(adapter, t) is None), None)
    if task is None:
        return
    example = task.examples[0]
    request = task.kind.requests(task.config, example, task.contexts[example.id])[0]
    with session.window("warmup", model_name, model=model_name, on=task.name):
        guarded(answer_method(adapter, task.kind.request_type), model_name, f"the warm-up on task {task.name!r}")([request])


def _record(model_name: str, task: PreparedTask, example, answers: dict[int, Response]) -> dict:
    """The example's record; answers holding a NaN or infinity are stored as invalid, not scored."""
    responses = [answers[i] for i in range(len(answers))]
    base = {"model": model_name, "task": task.name, "id": example.id, "index": example.index,
            "input": task.contexts[example.id]}
    reason = invalid_response(responses)
    if reason:
        return {**base, "prediction": "", "reference": task.kind.target(task.config, example), "invalid": reason,
                "scores": {}, "views": {}, "details": {"responses": scrubbed([dataclasses.asdict(r) for r in responses])}}
    scored = task.kind.score(task.config, example, responses)
    views = {"prediction": scored.prediction, **scored.views}
    return checked_record({**base, "prediction": scored.prediction, "reference": scored.reference,
                           "scores": {**scored.scores,
                                      **example_metric_scores(task, views, scored.reference, dict(scored.scores))},
                           "views": dict(scored.views), "details": dict(scored.details)})


def run_models(state: RunState, tasks: Sequence[PreparedTask], progress: Reporter, session: MeterSession,
               probes: Sequence = (), shard: Shard = WHOLE) -> None:
    """``shard`` says which examples and probe items are this process's when several share the run
    (harness.shard; harness.distributed); the default is all of them."""
    from harness.probes.run import probe_task_name, run_probes
    spec = state.spec
    with shard.store(state.samples_path) as store:
        done = store.done_keys()
        for number, model_spec in enumerate(spec.models, 1):
            with shard.model(model_spec.name) as tasks_stored:
                skipped = state.skipped.get(model_spec.name, {})
                previous = state.models.get(model_spec.name, {})
                parts = {t.name: shard.part(t, model_spec.name, done) for t in tasks}
                remaining = [t for t in tasks if t.name not in skipped
                             and any((model_spec.name, t.name, ex.id) not in done for ex in parts[t.name].examples)]
                # a probe reads the task records: when task items are computed now (a resume retrying the
                # items a model failed on), a probe done before runs again for the items it lacks
                pending_probes = [p for p in probes if (remaining or p.name not in previous.get("probes_done", []))
                                  and probe_task_name(p) not in skipped]
                if not remaining and not pending_probes and previous:
                    continue
                with session.window("model", model_spec.name, model=model_spec.name):
                    memory = PeakMemory()
                    memory.reset()
                    with isolated(state, model_spec.name, "load") as loading, \
                            progress.piece(f"{model_spec.name} · load (model {number} of {len(spec.models)})",
                                           unit="weight tensors") as piece:
                        piece.at("importing its libraries")

                        def ready() -> None:
                            session.ready()
                            piece.at("building the model")
                            piece.watch_library_bars()          # transformers' weight-loading count, into the piece
                        adapter = load_model(model_spec, spec.runtime, ready)
                    if loading.failed:
                        continue
                    sizer = BatchSizer(spec.runtime)
                    from harness.models.footprint import for_adapter      # torch: imported with the model (load_model)
                    state.models[model_spec.name] = {
                        "spec": model_spec.adapter + (f":{model_spec.location}" if model_spec.location else ""),
                        "kind": adapter.info.kind, "dtype": adapter.info.dtype, "device": adapter.info.device,
                        "parameters": adapter.info.parameters, "max_length": adapter.info.max_length,
                        **(adapter.info.variant if getattr(adapter.info, "variant", None) is not None
                           else for_adapter(adapter, model_spec)),
                        **({"remote": True} if adapter.info.extra.get("remote") else {}),
                        "probes_done": previous.get("probes_done", [])}
                    state.save()
                    with isolated(state, model_spec.name, "load"):      # not ready on its device: a load failure
                        warm_up(model_spec.name, adapter, remaining, session)
                    for task in remaining:
                        reason = skip_reason(adapter, task)
                        if reason:
                            state.skipped.setdefault(model_spec.name, {})[task.name] = reason
                            continue
                        with isolated(state, model_spec.name, "task", task.name):
                            evaluate_task(model_spec.name, adapter, parts[task.name], store, done, sizer, progress,
                                          session)
                    tasks_stored()            # the probes read every process's task records
                    run_probes(model_spec.name, adapter, pending_probes, tasks, store, done, state, session, sizer,
                               shard, lambda spec: load_model(spec, state.spec.runtime), progress=progress)
                    state.models[model_spec.name]["batch_size"] = sizer.size
                    state.models[model_spec.name]["peak_memory"] = memory.read(adapter.info.device)
                    state.save()
                    del adapter
