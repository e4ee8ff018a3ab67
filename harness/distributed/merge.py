"""Rank 0 folds a sharded run's shards (RUN_DIR/ranks/rank<k>/) into the run folder: run.json (the
latest invocation's models, skips and failures), samples.jsonl in a canonical order, windows.jsonl
and telemetry.csv. distributed.json marks a sharded folder and lists its invocations."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from harness.distributed.store import RANKS, shard_paths
from harness.failures import from_record
from harness.failures import key as failure_key
from harness.meters.session import WINDOW_FIX, window_problem
from harness.run_dir import RunState, read_failures
from harness.store import dumps_strict, iter_jsonl, record_key, sample_problem, write_text_atomic

LAYOUT = "distributed.json"           # marks a sharded run folder; lists its invocations


def read_shard(path: Path) -> dict | None:
    """A shard folder's run.json and shard.json, or None when either is missing or damaged."""
    try:
        state = json.loads((path / "run.json").read_text(encoding="utf-8"))
        meta = json.loads((path / "shard.json").read_text(encoding="utf-8"))
        if not isinstance(state, dict) or not isinstance(meta, dict):
            return None
        attempted = {_attempted(a) for a in meta.get("attempted", [])}
        failures = read_failures(state.get("failures", []))
    except (OSError, ValueError, TypeError, KeyError):   # TypeError: a hand-edited shard.json of the wrong shape
        return None
    return {**meta, "models": state.get("models", {}), "skipped": state.get("skipped", {}),
            "failures": failures, "attempted": attempted}


def _attempted(item: list) -> tuple[str, str, str | None]:
    """A piece a shard attempted: [model, kind, piece], or [model, what] in a folder sharded before failures
    were recorded as data."""
    if len(item) == 2:
        return failure_key(from_record({"model": item[0], "what": item[1], "error": "", "fix": ""}))
    model, kind, piece = item
    return model, kind, piece


def merge_failures(start: Sequence[dict], shards: Sequence[dict]) -> list[dict]:
    """A piece some rank attempted in this invocation failed iff one that attempted it failed it;
    a piece no rank attempted keeps what the invocation started with."""
    attempted = set().union(*(s["attempted"] for s in shards)) if shards else set()
    out, seen = [], set()
    for shard in shards:
        for failure in shard["failures"]:
            key = failure_key(failure)
            if key in shard["attempted"] and key not in seen:
                seen.add(key)
                out.append(failure)
    for failure in start:
        key = failure_key(failure)
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


def describe(run_dir: Path, rank) -> dict:
    """results.json's run.distributed: how the run was sharded (``rank``: a harness.distributed.group.Rank)."""
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
