"""The history index: one SQLite file (standard library) beside the run folders, OUT/history.sqlite.

Append-only per run: a run is one entry, keyed by its run id; recording it again (after a
--resume, or when `harness gate` adds a verdict) replaces that entry's rows in one transaction,
so it is never two. Every write is one ``BEGIN IMMEDIATE`` transaction in WAL mode with a busy
timeout, so runs finishing at the same time queue for the write lock instead of interleaving, and
a process killed mid-write leaves the last committed state (SQLite rolls the torn transaction
back on the next open). ``schema_version`` says which layout the file has; a newer one is refused."""
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
SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 60.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, started TEXT, finished TEXT, status TEXT, git_sha TEXT, harness_version TEXT,
    run_dir TEXT, first_recorded TEXT NOT NULL, recorded TEXT NOT NULL,
    energy_j REAL, j_per_example REAL, energy_source TEXT, energy_reason TEXT,
    gco2e REAL, carbon_source TEXT, carbon_reason TEXT,
    gate_verdict TEXT, gate_json TEXT);
CREATE TABLE IF NOT EXISTS models (
    run_id TEXT NOT NULL REFERENCES runs(run_id), model TEXT NOT NULL, spec TEXT, dtype TEXT,
    recipe_hash TEXT NOT NULL, weights_fingerprint TEXT, PRIMARY KEY (run_id, model));
CREATE TABLE IF NOT EXISTS inputs (
    run_id TEXT NOT NULL REFERENCES runs(run_id), name TEXT NOT NULL, hash TEXT NOT NULL, data_hash TEXT,
    fingerprint_json TEXT, PRIMARY KEY (run_id, name));
CREATE TABLE IF NOT EXISTS figures (
    run_id TEXT NOT NULL REFERENCES runs(run_id), series_key TEXT NOT NULL, label TEXT NOT NULL,
    model TEXT NOT NULL, recipe_hash TEXT NOT NULL, scope TEXT NOT NULL, subject TEXT NOT NULL,
    subject_hash TEXT NOT NULL, metric TEXT NOT NULL, value REAL, ci_lo REAL, ci_hi REAL, n INTEGER,
    unit TEXT, source TEXT, reason TEXT, PRIMARY KEY (run_id, series_key));
CREATE INDEX IF NOT EXISTS figures_by_series ON figures (series_key);
CREATE TABLE IF NOT EXISTS baselines (name TEXT PRIMARY KEY, run_id TEXT NOT NULL, blessed TEXT NOT NULL);
"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _damaged(path: Path, exc: Exception) -> HarnessError:
    return HarnessError(f"the history index {path} is damaged ({exc})",
                        f"move it aside (mv {path} {path}.damaged); `harness history` rebuilds it from the run folders")


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
            if not write and not con.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone():
                self._create(con)   # a zero-byte file (touched, or cut before its first commit) is an empty index
            if write:
                con.execute("BEGIN IMMEDIATE")
                self._create_tables(con)
                try:
                    yield con
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
                con.execute("COMMIT")
            else:
                self._check_version(con, create=False)
                yield con
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise HarnessError(f"the history index {self.path} stayed locked for {BUSY_TIMEOUT_S:.0f} s ({exc})",
                                   "let the other harness process finish, then `harness history` adds this run") from None
            raise _damaged(self.path, exc) from None
        except sqlite3.DatabaseError as exc:
            raise _damaged(self.path, exc) from None
        finally:
            con.close()

    def _create_tables(self, con: sqlite3.Connection) -> None:
        for statement in filter(str.strip, _SCHEMA.split(";")):
            con.execute(statement)
        self._check_version(con, create=True)

    def _create(self, con: sqlite3.Connection) -> None:
        """Writes the empty schema into a file that holds no tables, in one transaction."""
        con.execute("BEGIN IMMEDIATE")
        try:
            self._create_tables(con)
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    def _check_version(self, con: sqlite3.Connection, create: bool) -> None:
        rows = con.execute("SELECT version FROM schema_version").fetchall()
        if not rows and create:
            con.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            return
        version = rows[0][0] if rows else None
        if version != SCHEMA_VERSION:
            raise HarnessError(f"the history index {self.path} has schema version {version}, this harness reads {SCHEMA_VERSION}",
                               "use the harness version that wrote it, or move the file aside to start a new index")

    def upsert(self, entry: Entry) -> None:
        """Adds the run, or replaces its entry when it is already there (one entry per run id)."""
        with self._connect(write=True) as con:
            row = con.execute("SELECT first_recorded FROM runs WHERE run_id = ?", (entry.run_id,)).fetchone()
            first = row[0] if row else _now()
            for table in ("figures", "inputs", "models", "runs"):
                con.execute(f"DELETE FROM {table} WHERE run_id = ?", (entry.run_id,))
            e, gate = entry.energy, entry.gate
            con.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        (entry.run_id, entry.started, entry.finished, entry.status, entry.git_sha, entry.harness_version,
                         entry.run_dir, first, _now(), e["energy_j"], e["j_per_example"], e["source"], e["reason"],
                         e["gco2e"], e["carbon_source"], e["carbon_reason"],
                         gate.get("verdict") if gate else None, json.dumps(gate, allow_nan=False) if gate else None))
            con.executemany("INSERT INTO models VALUES (?,?,?,?,?,?)",
                            [(entry.run_id, name, m["spec"], m["dtype"], m["recipe"], m["weights"]) for name, m in entry.models.items()])
            con.executemany("INSERT INTO inputs VALUES (?,?,?,?,?)",
                            [(entry.run_id, name, i["hash"], i["data"], json.dumps(i["fingerprint"], sort_keys=True))
                             for name, i in entry.inputs.items()])
            con.executemany("INSERT OR REPLACE INTO figures VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                            [(entry.run_id, f.series_key, f.label, f.model, f.recipe, f.scope, f.subject, f.subject_hash,
                              f.metric, f.value, f.ci_lo, f.ci_hi, f.n, f.unit, f.source, f.reason) for f in entry.figures])

    def bless(self, name: str, run_id: str) -> None:
        """Names a run as a baseline (`harness history --baseline NAME` then finds it)."""
        with self._connect(write=True) as con:
            if not con.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone():
                raise HarnessError(f"run {run_id} is not in the history index {self.path}", "record it first")
            con.execute("INSERT OR REPLACE INTO baselines VALUES (?,?,?)", (name, run_id, _now()))

    def runs(self) -> list[dict]:
        with self._connect(write=False) as con:
            return [dict(r) for r in con.execute("SELECT * FROM runs ORDER BY started, run_id")]

    def run_ids(self) -> set[str]:
        if not self.path.is_file():
            return set()
        with self._connect(write=False) as con:
            return {r[0] for r in con.execute("SELECT run_id FROM runs")}

    def models(self) -> list[dict]:
        with self._connect(write=False) as con:
            return [dict(r) for r in con.execute("SELECT * FROM models")]

    def baselines(self) -> dict[str, str]:
        with self._connect(write=False) as con:
            return {r["name"]: r["run_id"] for r in con.execute("SELECT name, run_id FROM baselines")}

    def figures(self) -> list[dict]:
        """Every figure with its run's time, oldest run first."""
        with self._connect(write=False) as con:
            return [dict(r) for r in con.execute(
                "SELECT f.*, r.started, r.git_sha FROM figures f JOIN runs r USING (run_id) ORDER BY r.started, r.run_id, f.series_key")]

    def integrity(self) -> str:
        with self._connect(write=False) as con:
            return con.execute("PRAGMA integrity_check").fetchone()[0]

