"""The run history for periodic audits: every finished run is one entry of an index beside the run
folders (OUT/history.sqlite; harness/history/index.py), and `harness history` draws each figure's
trend across runs from it.

For other commands (``harness gate``, ``harness bless``):

* ``record(run_dir, results=None) -> Path`` adds the run in ``run_dir`` to the index of its parent
  folder, or replaces its entry (idempotent: one entry per run id). It reads results.json (or takes
  ``results``, the typed results about to be written, when results.json on disk is not yet up to date) and
  run.json. Call it after writing a gate verdict into results.json, so the entry holds it.
* ``bless(run_dir, name, force=False)`` is ``harness.gate.baseline.bless``: blessed names have one
  store, ``<reports>/.blessed/NAME.json``, which `harness gate --baseline NAME` and `harness history
  --baseline NAME` both read; the index holds none (``carry_over_blessed`` moves an older index's once).
"""
from __future__ import annotations

import json
from pathlib import Path

from harness.errors import HarnessError
from harness.gate.baseline import bless, blessed_names
from harness.history.entry import Entry, entry_from_run
from harness.history.index import FILENAME, HistoryIndex

__all__ = ["record", "bless", "carry_over_blessed", "index_path", "read_entry", "HistoryIndex", "Entry"]


def index_path(reports_dir: Path) -> Path:
    return Path(reports_dir) / FILENAME


def _read_json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise HarnessError(f"{path} is not valid JSON ({exc})", "re-run or resume the run") from None
    if not isinstance(value, dict):
        raise HarnessError(f"{path} is not a JSON object", "re-run or resume the run")
    return value


def read_entry(run_dir: Path, results=None) -> Entry:
    """``results``: the typed results (harness.results.Results) when results.json is not yet up to date."""
    run_dir = Path(run_dir)
    if results is None:
        from harness.results.reading import read_results
        results = read_results(run_dir)
    entry = entry_from_run(results, _read_json(run_dir / "run.json"), str(run_dir.resolve()))
    if not entry.run_id:
        raise HarnessError(f"{run_dir}/results.json names no run id", "pass a folder written by `harness run`")
    return entry


def record(run_dir: Path, results=None) -> Path:
    """Adds (or updates) the run in ``run_dir`` in ``run_dir.parent/history.sqlite``; returns that path."""
    run_dir = Path(run_dir)
    path = index_path(run_dir.resolve().parent)
    HistoryIndex(path).upsert(read_entry(run_dir, results))
    return path


def carry_over_blessed(reports_dir: Path, index: HistoryIndex) -> list[str]:
    """Names an older harness blessed in the history index only (its ``baselines`` table) are written
    to the one store, ``.blessed/NAME.json``, once, and deleted from the index. Where .blessed already
    has the name, it wins (it is what `harness gate` always read). Returns one note per name."""
    legacy = index.legacy_baselines()
    if not legacy:
        return []
    reports_dir = Path(reports_dir)
    current = blessed_names(reports_dir)
    folders = {r["run_id"]: Path(r["run_dir"] or r["run_id"]).name for r in index.runs()}
    notes = []
    for name, run_id in sorted(legacy.items()):
        if name in current:
            if current[name].get("run_id") != run_id:
                notes.append(f"blessed name {name!r}: the history index named run {run_id}, .blessed/{name}.json names "
                             f"run {current[name].get('run_id')}; the latter is kept (it is what `harness gate` reads)")
            continue
        folder = reports_dir / folders.get(run_id, run_id)
        try:
            found = (read_entry(folder).run_id if folder.is_dir() else None)
            if found != run_id:
                raise HarnessError(f"its run folder is not in {reports_dir}", "")
            path = bless(folder, name)
            notes.append(f"blessed name {name!r} (run {run_id}) carried over from the history index to {path}")
        except HarnessError as exc:
            notes.append(f"blessed name {name!r} (run {run_id}) in the history index was not carried over: {exc.problem}; "
                         f"pass --baseline {run_id}, or `harness bless RUN_DIR --as {name}`")
    try:
        index.forget_legacy_baselines(legacy)
    except HarnessError:                # a read-only index: read again next time (what was carried over is then found)
        pass
    return notes
