"""lm-eval tasks made ready to run, before any model loads: selected by lm-eval's TaskManager,
their requests built by lm-eval's own ``build_all_requests`` exactly as ``simple_evaluate`` builds
them, and wrapped as harness PreparedTasks named ``lm-eval:<task>``.

As ``simple_evaluate``: a task without ``num_fewshot`` gets 0; the few-shot sampler is seeded with
the run's ``--seed`` (1234 by default, lm-eval's default ``fewshot_random_seed``); ``--limit N``
keeps the first N documents (lm-eval's ``--limit N``); the global ``random`` and ``numpy`` seeds
are lm-eval's (0 and 1234) while the tasks build (and put back after). Chat templates are not
applied (lm-eval applies them only when asked with ``--apply_chat_template``).

Refused before any model loads (exit 2): tasks lm-eval marks ``unsafe_code`` (they run the
model's output) without ``--trust-task-code``, multimodal tasks, sampled generation
(``harness.lmeval.translate``), and a metric lm-eval could not load. The fingerprint that a resume
checks covers the task's full lm-eval configuration (with the source of its ``!function`` code),
lm-eval's version, every document and every rendered prompt.
"""
from __future__ import annotations

import json
import logging
import random
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Iterator, Sequence

from harness.data import Example
from harness.errors import HarnessError
from harness.lmeval import PREFIX, require
from harness.lmeval.index import check_folders, files_read, resolve
from harness.lmeval.kind import LmEvalKind
from harness.lmeval.offline import load_cache_first
from harness.lmeval.translate import generation_settings
from harness.lmeval import templates, trust
from harness.prepared import PreparedTask


@dataclass(frozen=True)
class LmEvalConfig:
    """What a run's numbers depend on besides the model (the fingerprint reads it)."""
    name: str
    kind: str
    task: str                        # lm-eval's task name
    output_type: str
    num_fewshot: int
    fewshot_seed: int
    limit: int | None
    lm_eval_version: str
    config: str                      # lm-eval's task config as canonical JSON (functions as their source)
    prompt: str = ""                 # our template fields: none (probes that perturb fields skip the task)
    answer: str = ""
    choices: str = ""
    source: str = ""                 # the task's YAML file (where, not what: left out of fingerprints)


@dataclass(frozen=True)
class Selection:
    """The groups lm-eval built for the names asked for (shared by their tasks)."""
    groups: dict                     # group name -> lm_eval.api.group.Group


@dataclass(frozen=True)
class LmEvalTask(PreparedTask):
    selection: Selection | None = None

    def context_for(self, example: Example) -> str:
        raise HarnessError(f"{self.name}: an lm-eval task renders its prompts with lm-eval, not for a changed example",
                           "leave lm-eval tasks out of the probe's `tasks:`")

    def own_result(self, records: Sequence[dict], seed: int, resamples: int) -> dict:
        from harness.lmeval.aggregate import task_result
        return task_result(self, records, seed, resamples)


@contextmanager
def _quiet_and_seeded() -> Iterator[None]:
    """lm-eval's log lines and progress bars off, and simple_evaluate's global seeds, for the block."""
    import datasets
    import numpy as np
    import lm_eval.api.task as task_module
    logger = logging.getLogger("lm_eval")
    level, bars = logger.level, datasets.is_progress_bar_enabled()
    saved_tqdm, py_state, np_state = task_module.tqdm, random.getstate(), np.random.get_state()
    logger.setLevel(logging.CRITICAL)
    datasets.disable_progress_bars()
    task_module.tqdm = partial(saved_tqdm, disable=True)
    random.seed(0)
    np.random.seed(1234)
    try:
        yield
    finally:
        logger.setLevel(level)
        if bars:
            datasets.enable_progress_bars()
        task_module.tqdm = saved_tqdm
        random.setstate(py_state)
        np.random.set_state(np_state)


def _load(index, names: Sequence[str]) -> dict:
    def build() -> dict:
        try:
            return index.manager.load(list(names))
        except HarnessError:
            raise
        except Exception as exc:
            from harness.lmeval.offline import missing_dataset
            if missing_dataset(exc) is not None:
                raise
            raise HarnessError(f"lm-eval could not build {', '.join(PREFIX + n for n in names)}: "
                               f"{type(exc).__name__}: {str(exc)[:300]}",
                               "fix the task YAML (lm-eval's own error above), or pick other tasks") from None
    return load_cache_first(build)


def _fingerprint_config(task) -> str:
    config = task.dump_config()
    metadata = dict(config.get("metadata") or {})
    metadata.pop("config_source", None)                 # where the YAML lives, not what it says
    config["metadata"] = metadata
    return json.dumps(config, sort_keys=True, ensure_ascii=False, default=str)


def _check(task, trusted: bool) -> None:
    name = PREFIX + task.task_name
    if getattr(task, "MULTIMODAL", False):
        raise HarnessError(f"{name} is multimodal (images or audio); the harness's adapters read text only",
                           "pick a text task")
    if getattr(task, "UNSAFE_CODE", False) and not trusted:
        raise HarnessError(f"{name} is marked unsafe_code by lm-eval: scoring it runs code the model writes",
                           f"pass {trust.FLAG} to run it (in a sandboxed machine), or pick another task")
    if task.config.process_results is None:
        broken = [m for m, fn in task._metric_fn_list.items() if fn is None]
        if broken:
            raise HarnessError(f"{name}: lm-eval could not load metric {broken[0]!r} (it is not one lm-eval registers, "
                               "and `evaluate.load` found no local copy)", "pick a task whose metrics lm-eval "
                               "registers, or load that metric into the `evaluate` cache ahead of time")


def _prepare_one(task, spec, selection: Selection, version: str) -> LmEvalTask:
    from lm_eval.evaluator_utils import get_sample_size
    _check(task, spec.trust_task_code)
    if task.get_config("num_fewshot") is None:
        task.set_config(key="num_fewshot", value=0)
    task.set_fewshot_seed(seed=spec.seed)
    stop, max_tokens = ((), 0)
    if task.OUTPUT_TYPE == "generate_until":
        stop, max_tokens = generation_settings(task.task_name, task.config.generation_kwargs)
    limit = get_sample_size(task, spec.limit)
    task.build_all_requests(limit=limit, rank=0, world_size=1)
    instances: dict[str, list] = {}
    for instance in task.instances:
        instances.setdefault(str(instance.doc_id), []).append(instance)
    examples, contexts = [], {}
    split = task.config.test_split or task.config.validation_split
    for doc_id, doc in task.doc_iterator(limit=limit):
        ex_id = str(doc_id)
        insts = sorted(instances[ex_id], key=lambda i: i.idx)
        instances[ex_id] = insts
        shown = list(dict.fromkeys(i.args[0] for i in insts))
        contexts[ex_id] = shown[0] if len(shown) == 1 else "\n\n---\n\n".join(shown)
        examples.append(Example(id=ex_id, index=int(doc_id), fields=doc,
                                where=f"{task.config.dataset_path} {split} document {doc_id}"))
    kind = LmEvalKind(task, instances, stop, max_tokens)
    config = LmEvalConfig(name=PREFIX + task.task_name, kind=kind.name, task=task.task_name,
                          output_type=task.OUTPUT_TYPE, num_fewshot=int(task.get_config("num_fewshot") or 0),
                          fewshot_seed=spec.seed, limit=limit, lm_eval_version=version,
                          config=_fingerprint_config(task),
                          source=str((task.config.metadata or {}).get("config_source", "")))
    return LmEvalTask(config=config, kind=kind, examples=tuple(examples), contexts=contexts, metrics=(),
                      seed=spec.seed, selection=selection)


def _settle_imports() -> None:
    """torch and transformers imported to the end first: the preload thread (harness.preload) may be
    importing them, and ``datasets`` hashes a task's functions with whatever half-built torch or
    transformers module it finds in sys.modules (AttributeError). An import waits for the other thread."""
    import importlib
    for name in ("torch", "transformers", "transformers.tokenization_utils_base"):
        importlib.import_module(name)


def _prepared(task, spec, selection: Selection, version: str) -> LmEvalTask:
    """_prepare_one, with lm-eval's own failures (a template naming a missing field, an empty split)
    as one line naming the task."""
    try:
        return _prepare_one(task, spec, selection, version)
    except HarnessError:
        raise
    except Exception as exc:
        raise HarnessError(f"lm-eval could not build the requests of {PREFIX}{task.task_name}: {type(exc).__name__}: "
                           f"{str(exc)[:300]}", "fix the task YAML or its data (lm-eval's own error above)") from None


def prepare(names: Sequence[str], spec) -> list[LmEvalTask]:
    """The lm-eval tasks (leaves of every group and tag) that ``names`` select, in lm-eval's order."""
    lm_eval = require()
    _settle_imports()
    version = getattr(lm_eval, "__version__", "?")
    include = check_folders(tuple(getattr(spec, "lm_eval_include", ()) or ()))
    index = resolve(names, include)
    trust.check(files_read(index, names), spec.trust_task_code)
    if not spec.trust_task_code:
        templates.sandbox_templates()
    templates.compile_once()
    with _quiet_and_seeded():
        loaded = _load(index, names)
        selection = Selection(groups=dict(loaded.get("groups") or {}))
        tasks = [_prepared(task, spec, selection, version) for task in loaded["tasks"].values()]
    if not tasks:
        raise HarnessError(f"{', '.join(PREFIX + n for n in names)} select no lm-eval task", "pick a task, tag or group "
                           "with tasks in it")
    return tasks
