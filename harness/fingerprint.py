"""What a run's numbers depend on besides the model: each task's data, rendered prompts and
configuration, and each probe's configuration and data files, as sha256 digests of canonical JSON.
run.json keeps them from the run's start; a resume whose inputs differ is refused, since it would
mix records of two versions of a task in one result. Where files live (paths) is left out, so a
run folder resumes from a moved checkout; what they hold is in."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any, Sequence

from harness.errors import HarnessError
from harness.prepared import PreparedTask

_PLACES = ("data", "fewshot_data", "source", "description")     # where inputs live, not what they are


def digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _rows(examples) -> list:
    return [[ex.id, ex.index, dict(ex.fields)] for ex in examples]


# task keys added after runs were first fingerprinted: left out at their defaults, so those runs still resume
_LATER_KEYS = {"stride": None, "tokenize": "", "normalize": ""}


def task_fingerprint(task: PreparedTask) -> dict[str, str]:
    config = {k: v for k, v in dataclasses.asdict(task.config).items() if k not in (*_PLACES, "prompt")
              and not (k in _LATER_KEYS and v == _LATER_KEYS[k])}
    return {"data": digest({"examples": _rows(task.examples), "fewshot": _rows(task.fewshot_pool)}),
            "prompt": digest([task.config.prompt, dict(task.contexts)]),
            "config": digest(config)}


def _file_digest(path: Path) -> str:
    if path.is_dir():
        return digest({str(p.relative_to(path)): _file_digest(p) for p in sorted(path.rglob("*")) if p.is_file()})
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"


def probe_fingerprint(config) -> dict[str, str]:
    fields = {k: v for k, v in dataclasses.asdict(config).items() if k not in _PLACES}
    return {"data": digest({name: _file_digest(Path(path)) for name, path in config.data.items()}),
            "config": digest(fields)}


def fingerprints(tasks: Sequence[PreparedTask], probes: Sequence) -> dict[str, dict[str, dict[str, str]]]:
    return {"task": {t.name: task_fingerprint(t) for t in tasks},
            "probe": {p.name: probe_fingerprint(p) for p in probes}}


def changes(recorded: dict, current: dict) -> list[str]:
    """What differs, e.g. ["task 'facts_mc': data, prompt", "probe 'bbq': added"]."""
    out = []
    for kind in ("task", "probe"):
        old, new = recorded.get(kind, {}), current.get(kind, {})
        for name in sorted(set(old) | set(new)):
            if name not in new:
                out.append(f"{kind} {name!r}: gone")
            elif name not in old:
                out.append(f"{kind} {name!r}: added")
            elif old[name] != new[name]:
                parts = [part for part in new[name] if old[name].get(part) != new[name][part]]
                out.append(f"{kind} {name!r}: {', '.join(parts)} changed")
    return out


def check_unchanged(run_id: str, recorded: dict, current: dict) -> None:
    """Refuses a resume whose inputs are not the ones the run started with (runs from before
    fingerprints were recorded have none to compare)."""
    found = changes(recorded, current) if recorded else []
    if found:
        raise HarnessError(f"the inputs of run {run_id} changed since it started ({'; '.join(found)})",
                           "start a new run (a resume would mix results of the old and new inputs), "
                           "or put the inputs back as they were")
