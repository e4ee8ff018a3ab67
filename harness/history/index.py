"""The history index: one SQLite file (standard library) beside the run folders, OUT/history.sqlite.

Append-only per run: a run is one entry, keyed by its run id; recording it again (after a
--resume, or when `harness gate` adds a verdict) replaces that entry's rows in one transaction,
so it is never two. Every write is one ``BEGIN IMMEDIATE`` transaction in WAL mode with a busy
timeout, so runs finishing at the same time queue for the write lock instead of interleaving, and
a process killed mid-write leaves the last committed state (SQLite rolls the torn transaction
back on the next open). ``schema_version`` says which layout the file has; a newer one is refused.

A file without a single table (zero bytes: `touch`ed, or left by a process that died before its
first write committed) is an empty index: the schema is written into it. An older layout is
brought up to this one in one write transaction the first time it is opened (MIGRATIONS); the
entries it held keep ``entry_schema`` = the layout that wrote them, so `harness history` re-reads
those runs from their folders (``stale_run_ids``) to fill in what the old layout did not keep.

Layouts: 1, the first; 2 adds ``figures.higher_is_better`` (1 higher is better, 0 lower is better,
NULL when results.json records no direction: probe and energy figures, and entries from layout 1
whose run folder is gone) and ``runs.entry_schema``; 3 adds ``figures.failed`` (1: what the figure
measures scored nothing) and ``models.recipe_text`` (the model as asked, for the events a series
shows when its recipe changes)."""
from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from harness.errors import HarnessError
from harness.history.entry import Entry

FILENAME = "history.sqlite"
SCHEMA_VERSION = 3
BUSY_TIMEOUT_S = 60.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, started TEXT, finished TEXT, status TEXT, git_sha TEXT, harness_version TEXT,
    run_dir TEXT, first_recorded TEXT NOT NULL, recorded TEXT NOT NULL,
    energy_j REAL, j_per_example REAL, energy_source TEXT, energy_reason TEXT,
    gco2e REAL, carbon_source TEXT, carbon_reason TEXT,
    gate_verdict TEXT, gate_json TEXT, entry_schema INTEGER NOT NULL DEFAULT 1);
CREATE TABLE IF NOT EXISTS models (
    run_id TEXT NOT NULL REFERENCES runs(run_id), model TEXT NOT NULL, spec TEXT, dtype TEXT,
    recipe_hash TEXT NOT NULL, weights_fingerprint TEXT, recipe_text TEXT, PRIMARY KEY (run_id, model));
CREATE TABLE IF NOT EXISTS inputs (
    run_id TEXT NOT NULL REFERENCES runs(run_id), name TEXT NOT NULL, hash TEXT NOT NULL, data_hash TEXT,
    fingerprint_json TEXT, PRIMARY KEY (run_id, name));
CREATE TABLE IF NOT EXISTS figures (
    run_id TEXT NOT NULL REFERENCES runs(run_id), series_key TEXT NOT NULL, label TEXT NOT NULL,
    model TEXT NOT NULL, recipe_hash TEXT NOT NULL, scope TEXT NOT NULL, subject TEXT NOT NULL,
    subject_hash TEXT NOT NULL, metric TEXT NOT NULL, value REAL, ci_lo REAL, ci_hi REAL, n INTEGER,
    unit TEXT, source TEXT, reason TEXT, higher_is_better INTEGER, failed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, series_key));
CREATE INDEX IF NOT EXISTS figures_by_series ON figures (series_key);
CREATE TABLE IF NOT EXISTS baselines (name TEXT PRIMARY KEY, run_id TEXT NOT NULL, blessed TEXT NOT NULL);
"""
# ``baselines`` is a legacy table: blessed names live in <reports>/.blessed/NAME.json only (harness.gate.baseline).
# Names an older harness wrote here are read once, carried over there, and deleted (harness.history.carry_over_blessed);
# the table stays in the layout so that a file shared with an older harness still reads.
# layout N -> N + 1; columns are added at the end, as _SCHEMA has them, so both files hold one layout
MIGRATIONS = {
    1: ("ALTER TABLE figures ADD COLUMN higher_is_better INTEGER",
        "ALTER TABLE runs ADD COLUMN entry_schema INTEGER NOT NULL DEFAULT 1"),
    2: ("ALTER TABLE figures ADD COLUMN failed INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE models ADD COLUMN recipe_text TEXT"),
}
_RUN_COLUMNS = ("run_id", "started", "finished", "status", "git_sha", "harness_version", "run_dir", "first_recorded",
                "recorded", "energy_j", "j_per_example", "energy_source", "energy_reason", "gco2e", "carbon_source",
                "carbon_reason", "gate_verdict", "gate_json", "entry_schema")
_FIGURE_COLUMNS = ("run_id", "series_key", "label", "model", "recipe_hash", "scope", "subject", "subject_hash", "metric",
                   "value", "ci_lo", "ci_hi", "n", "unit", "source", "reason", "higher_is_better", "failed")
_MODEL_COLUMNS = ("run_id", "model", "spec", "dtype", "recipe_hash", "weights_fingerprint", "recipe_text")


_INPUT_NAME = ("CASE WHEN f.scope IN ('task', 'probe') THEN f.scope || ':' || f.subject "
               "WHEN f.subject LIKE 'probe:%' THEN f.subject ELSE 'task:' || f.subject END")
_FIGURES = ("SELECT f.*, r.started, r.git_sha, m.recipe_text AS recipe_text, i.fingerprint_json AS inputs_json "
            "FROM figures f JOIN runs r USING (run_id) "
            "LEFT JOIN models m ON m.run_id = f.run_id AND m.model = f.model "
            f"LEFT JOIN inputs i ON i.run_id = f.run_id AND i.name = ({_INPUT_NAME}) "
            "ORDER BY r.started, r.run_id, f.series_key")


def _insert(table: str, columns: tuple[str, ...], verb: str = "INSERT") -> str:
    return f"{verb} INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _damaged(path: Path, exc: Exception) -> HarnessError:
    return HarnessError(f"the history index {path} is damaged ({exc})",
                        f"move it aside (mv {path} {path}.damaged); `harness history` rebuilds it from the run folders")


def _read_only(exc: sqlite3.OperationalError) -> bool:
    """SQLite refused to write (a read-only file) or to open the file for its write-ahead log (a
    read-only folder): the index is not damaged, and moving it aside would lose what no run folder
    holds (runs whose folders are gone)."""
    name = getattr(exc, "sqlite_errorname", "")
    return name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN")) or \
        any(text in str(exc) for text in ("readonly database", "unable to open database file"))


class HistoryIndex:
    def __init__(self, path: Path):
        self.path = Path(path)

    @contextmanager
    def _connect(self, write: bool) -> Iterator[sqlite3.Connection]:
        if not write and not self.path.is_file():
            raise HarnessError(f"no history index at {self.path}", "run `harness run --out DIR` first, or pass the DIR it wrote to")
        try:
            con = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as exc:
            raise HarnessError(f"cannot open the history index {self.path} ({exc})", "pass a writable reports folder") from None
        try:
            con.row_factory = sqlite3.Row
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=FULL")
            if write:
                con.execute("BEGIN IMMEDIATE")
                try:
                    self._layout(con)
                    yield con
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
                con.execute("COMMIT")
            else:
                if self._version(con) != SCHEMA_VERSION:      # empty or older: written once, under the lock
                    con.execute("BEGIN IMMEDIATE")
                    try:
                        self._layout(con)
                    except BaseException:
                        con.execute("ROLLBACK")
                        raise
                    con.execute("COMMIT")
                yield con
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise HarnessError(f"the history index {self.path} stayed locked for {BUSY_TIMEOUT_S:.0f} s ({exc})",
                                   "let the other harness process finish, then `harness history` adds this run") from None
            if _read_only(exc):
                raise HarnessError(f"the history index {self.path} cannot be written ({exc}): it or its folder is "
                                   "read-only", f"make {self.path} and its folder writable (SQLite writes "
                                   f"{self.path.name}-wal and -shm beside it), or copy the reports folder somewhere "
                                   "writable") from None
            raise _damaged(self.path, exc) from None
        except sqlite3.DatabaseError as exc:
            raise _damaged(self.path, exc) from None
        finally:
            con.close()

    def _version(self, con: sqlite3.Connection) -> int | None:
        """The file's layout; None for a file without a single table (a new or zero-byte one)."""
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            return None
        if "schema_version" not in tables:
            raise sqlite3.DatabaseError(f"it has tables ({', '.join(sorted(tables)[:4])}) but no schema_version")
        rows = con.execute("SELECT version FROM schema_version").fetchall()
        if len(rows) != 1 or not isinstance(rows[0][0], int):
            raise sqlite3.DatabaseError(f"its schema_version table holds {[tuple(r) for r in rows][:3]}, not one version")
        version = rows[0][0]
        if version > SCHEMA_VERSION or (version < SCHEMA_VERSION and version not in MIGRATIONS):
            raise HarnessError(f"the history index {self.path} has schema version {version}, this harness reads {SCHEMA_VERSION}",
                               "use the harness version that wrote it, or move the file aside to start a new index")
        return version

    def _layout(self, con: sqlite3.Connection) -> None:
        """Inside a write transaction: writes the schema into an empty file, or migrates an older
        layout step by step to SCHEMA_VERSION (another process may have done either meanwhile)."""
        version = self._version(con)
        if version is None:
            for statement in filter(str.strip, _SCHEMA.split(";")):
                con.execute(statement)
            con.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            return
        while version < SCHEMA_VERSION:
            for statement in MIGRATIONS[version]:
                con.execute(statement)
            version += 1
            con.execute("UPDATE schema_version SET version = ?", (version,))

    def upsert(self, entry: Entry) -> None:
        """Adds the run, or replaces its entry when it is already there (one entry per run id)."""
        with self._connect(write=True) as con:
            row = con.execute("SELECT first_recorded FROM runs WHERE run_id = ?", (entry.run_id,)).fetchone()
            first = row[0] if row else _now()
            for table in ("figures", "inputs", "models", "runs"):
                con.execute(f"DELETE FROM {table} WHERE run_id = ?", (entry.run_id,))
            e, gate = entry.energy, entry.gate
            con.execute(_insert("runs", _RUN_COLUMNS),
                        (entry.run_id, entry.started, entry.finished, entry.status, entry.git_sha, entry.harness_version,
                         entry.run_dir, first, _now(), e["energy_j"], e["j_per_example"], e["source"], e["reason"],
                         e["gco2e"], e["carbon_source"], e["carbon_reason"],
                         gate.get("verdict") if gate else None, json.dumps(gate, allow_nan=False) if gate else None,
                         SCHEMA_VERSION))
            con.executemany(_insert("models", _MODEL_COLUMNS),
                            [(entry.run_id, name, m["spec"], m["dtype"], m["recipe"], m["weights"], m.get("recipe_text"))
                             for name, m in entry.models.items()])
            con.executemany("INSERT INTO inputs VALUES (?,?,?,?,?)",
                            [(entry.run_id, name, i["hash"], i["data"], json.dumps(i["fingerprint"], sort_keys=True))
                             for name, i in entry.inputs.items()])
            con.executemany(_insert("figures", _FIGURE_COLUMNS, "INSERT OR REPLACE"),
                            [(entry.run_id, f.series_key, f.label, f.model, f.recipe, f.scope, f.subject, f.subject_hash,
                              f.metric, f.value, f.ci_lo, f.ci_hi, f.n, f.unit, f.source, f.reason,
                              None if f.higher_is_better is None else int(f.higher_is_better), int(f.failed))
                             for f in entry.figures])

    def runs(self) -> list[dict]:
        with self._connect(write=False) as con:
            return [dict(r) for r in con.execute("SELECT * FROM runs ORDER BY started, run_id")]

    def run_ids(self) -> set[str]:
        if not self.path.is_file():
            return set()
        with self._connect(write=False) as con:
            return {r[0] for r in con.execute("SELECT run_id FROM runs")}

    def stale_run_ids(self) -> set[str]:
        """Runs whose entry an older layout wrote (it lacks what that layout did not keep)."""
        if not self.path.is_file():
            return set()
        with self._connect(write=False) as con:
            return {r[0] for r in con.execute("SELECT run_id FROM runs WHERE entry_schema < ?", (SCHEMA_VERSION,))}

    def models(self) -> list[dict]:
        with self._connect(write=False) as con:
            return [dict(r) for r in con.execute("SELECT * FROM models")]

    def legacy_baselines(self) -> dict[str, str]:
        """Names an older harness blessed in the index (name -> run id); new ones live in .blessed/ only."""
        if not self.path.is_file():
            return {}
        with self._connect(write=False) as con:
            return {r["name"]: r["run_id"] for r in con.execute("SELECT name, run_id FROM baselines")}

    def forget_legacy_baselines(self, names) -> None:
        with self._connect(write=True) as con:
            con.executemany("DELETE FROM baselines WHERE name = ?", [(name,) for name in names])

    def figures(self) -> list[dict]:
        """Every figure with its run's time, the model's recipe as asked (``recipe_text``) and the
        fingerprints of its inputs (``inputs_json``: its task's or probe's), oldest run first."""
        with self._connect(write=False) as con:
            return [dict(r) for r in con.execute(_FIGURES)]

    def integrity(self) -> str:
        with self._connect(write=False) as con:
            return con.execute("PRAGMA integrity_check").fetchone()[0]

