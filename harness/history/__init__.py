"""The run history for periodic audits: every finished run is one entry of an index beside the run
folders (OUT/history.sqlite; harness/history/index.py), and `harness history` draws each figure's
trend across runs from it.

For other commands (``harness gate``, ``harness bless``):

* ``record(run_dir, results=None) -> Path`` adds the run in ``run_dir`` to the index of its parent
  folder, or replaces its entry (idempotent: one entry per run id). It reads results.json (or takes
  ``results``, the typed results about to be written, when results.json on disk is not yet up to date) and
  run.json. Call it after writing a gate verdict into results.json, so the entry holds it.
* ``bless(run_dir, name)`` names the run a baseline in the index; `harness history --baseline NAME`
  then compares every series against it.
"""
from __future__ import annotations

import json
from pathlib import Path

from harness.errors import HarnessError
from harness.history.entry import Entry, entry_from_run
from harness.history.index import FILENAME, HistoryIndex

__all__ = ["record", "bless", "index_path", "read_entry", "HistoryIndex", "Entry"]


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


def bless(run_dir: Path, name: str) -> None:
    run_dir = Path(run_dir)
    entry = read_entry(run_dir)
    index = HistoryIndex(index_path(run_dir.resolve().parent))
    if entry.run_id not in index.run_ids():
        index.upsert(entry)
    index.bless(name, entry.run_id)
