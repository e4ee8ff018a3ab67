"""lm-evaluation-harness tasks run inside the harness (``--tasks lm-eval:NAME``).

lm-eval's own ``TaskManager`` selects the tasks, tags and groups; its ``ConfigurableTask`` builds
every request (few-shot sampler and seed, delimiters, ``--limit``); our Collator and adapters
answer them; lm-eval's own filters, ``process_results`` and aggregations score them. On top come
our per-item records, bootstrap intervals, paired comparison, gate, history and energy windows.

The package is laid out by job:

| module      | job                                                                         |
|-------------|-----------------------------------------------------------------------------|
| (this one)  | names (``lm-eval:`` prefix), the optional import with its install line       |
| ``index``   | the TaskManager, name resolution with close matches, what a name brings in   |
| ``trust``   | ``!function`` in a ``--lm-eval-include`` folder only with ``--trust-task-code`` |
| ``offline`` | datasets read from the local cache first; a missing hub dataset in seconds   |
| ``translate`` | lm-eval Instances <-> our typed requests and responses                      |
| ``kind``    | the TaskKind of one lm-eval task: requests, filters and process_results      |
| ``prepare`` | lm-eval tasks made into PreparedTasks (examples, contexts, fingerprints)     |
| ``aggregate`` | metric values and intervals from stored records; group aggregates         |
| ``compare`` | paired statistics of two models on an lm-eval task                           |

This module imports nothing from lm-eval, so the harness starts as fast without it.
"""
from __future__ import annotations

import importlib
from typing import Iterable

from harness.errors import HarnessError

PREFIX = "lm-eval:"                 # --tasks lm-eval:NAME; task names in results and records
KIND_PREFIX = "lm-eval:"            # results' task kind: lm-eval:<output type>, lm-eval:group
GROUP_KIND = "lm-eval:group"
INSTALL = "pip install -e '.[lm-eval]'   (or: pip install 'harness-audit[lm-eval]')"
TESTED = ">=0.4.13,<0.5"            # the extra's pin (pyproject.toml), the range the tests ran on


def is_lm_eval(name: str) -> bool:
    return name.startswith(PREFIX)


def is_lm_eval_kind(kind: str | None) -> bool:
    return bool(kind) and str(kind).startswith(KIND_PREFIX)


def split_names(names: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(our task names, lm-eval names without the prefix), each in the order given."""
    names = list(names)
    ours = tuple(n for n in names if not is_lm_eval(n))
    theirs = tuple(n[len(PREFIX):] for n in names if is_lm_eval(n))
    for name in theirs:
        if not name.strip():
            raise HarnessError(f"--tasks {PREFIX!r} names no lm-eval task",
                               f"write {PREFIX}NAME, e.g. {PREFIX}arc_easy (a task, tag or group lm-eval knows)")
    return ours, theirs


def require():
    """The lm_eval package, or exit 2 with the install line."""
    try:
        return importlib.import_module("lm_eval")
    except ImportError as exc:
        raise HarnessError(f"lm-eval tasks need the lm-eval package, which is not installed ({exc})",
                           f"install the extra: {INSTALL}") from None
