"""Baselines: a run folder, a results.json, a run id, or a blessed NAME; and the one store of blessed names.

``harness bless RUN_DIR --as NAME`` writes ``<reports>/.blessed/NAME.json`` (``<reports>`` is the run
folder's parent): the run folder's name (relative, so the reports folder can move, e.g. into a CI
cache or the repository), its run id, and the sha256 of its samples.jsonl and of the numbers in its
results.json (``schema_version``, ``run``, ``models``, ``energy``: what `harness run` wrote, so a
gate verdict or comparison added to it later does not count as a change), taken over the file as it
is on disk (an older layout is read migrated, but digested as written, so its record still
matches). A gate that names the baseline checks both digests and refuses a baseline that changed
since it was blessed.

These records are the only store of blessed names: `harness gate --baseline NAME` and `harness history
--baseline NAME` both read them (``blessed_names``), so the two cannot disagree. The history index
(history.sqlite) holds no names: it is optional (``--no-history``), binary, needs a writable folder
even to be read in WAL mode, and is not what a CI job commits or caches beside the blessed run. Names
an older index kept (its ``baselines`` table) are carried over here once
(``harness.history.carry_over_blessed``).
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from harness.errors import HarnessError
from harness.results.reading import parse, read_raw, read_results, results_file
from harness.results.types import Results

__all__ = ["Baseline", "bless", "blessed_names", "resolve", "read_results", "core_digest", "blessed_path", "check_name"]

BLESSED_DIR = ".blessed"
CORE_KEYS = ("schema_version", "run", "models", "energy")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class Baseline:
    dir: Path              # the baseline's run folder (samples.jsonl for the paired comparison)
    results: Results
    label: str             # its run id (the "gate.baseline" field)
    name: str | None = None   # the blessed name, when it was given by name


def core_digest(raw: dict) -> str:
    """sha256 of what `harness run` wrote to a results.json, as read from the file (``read_raw``)."""
    core = {k: raw.get(k) for k in CORE_KEYS}
    return hashlib.sha256(json.dumps(core, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def file_digest(path: Path) -> str | None:
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def blessed_path(reports: Path, name: str) -> Path:
    return reports / BLESSED_DIR / f"{name}.json"


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise HarnessError(f"baseline name {name!r} is not a plain name", "use letters, digits, '.', '_' or '-' (e.g. v1.2)")
    return name


def bless(run_dir: Path, name: str, force: bool = False) -> Path:
    """Records ``run_dir`` as the blessed baseline NAME; refuses a run that is not complete."""
    check_name(name)
    run_dir = run_dir.resolve()
    if not run_dir.is_dir():
        raise HarnessError(f"{run_dir} is not a run folder", "pass a folder written by `harness run`")
    raw = read_raw(run_dir)
    results = parse(raw, results_file(run_dir))
    status = results.run.status
    if status != "complete" or results.run.failures:
        raise HarnessError(f"run {results.run.id} is not complete (status: {status}); a baseline must be a "
                           "finished run with every piece evaluated", "finish it (`harness run --resume RUN_DIR`) "
                           "or bless another run")
    target = blessed_path(run_dir.parent, name)
    if target.exists() and not force and not (target.is_file() and target.stat().st_size == 0):   # empty: names no run
        try:
            current = json.loads(target.read_text(encoding="utf-8")).get("run_id", "?")
        except (ValueError, UnicodeDecodeError, AttributeError, OSError):
            current = "?: the record is damaged"
        raise HarnessError(f"baseline {name!r} is already blessed (run {current})",
                           "pass --force to move it to this run, or choose another name")
    from harness.store import write_json_atomic
    try:
        target.parent.mkdir(exist_ok=True)
        write_json_atomic(target, {"name": name, "run": run_dir.name, "run_id": results.run.id,
                                   "results_sha256": core_digest(raw),
                                   "samples_sha256": file_digest(run_dir / "samples.jsonl"),
                                   "blessed": datetime.now(timezone.utc).isoformat(timespec="seconds")})
    except OSError as exc:
        raise HarnessError(f"cannot write {target} ({exc.strerror or exc})",
                           f"make {target.parent} a writable folder") from None
    return target


def blessed_names(reports: Path) -> dict[str, dict]:
    """Every blessed record in ``reports``, by name ({name, run, run_id, ...}); a damaged record is
    left out (`harness bless --force` rewrites it, and a gate naming it says so)."""
    out = {}
    for path in sorted((Path(reports) / BLESSED_DIR).glob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError, OSError):
            continue
        if isinstance(record, dict) and isinstance(record.get("run"), str) and _NAME.match(path.stem):
            out[path.stem] = record
    return out


def _known_names(reports: Path) -> list[str]:
    return sorted(p.stem for p in (reports / BLESSED_DIR).glob("*.json"))


def _run_baseline(path: Path, spec: str, run_dir: Path) -> Baseline:
    """A run folder or its results.json as the baseline: complete, every piece evaluated, not the gated run."""
    results = read_results(path)
    folder = path if path.is_dir() else path.parent
    gated_id = read_results(run_dir).run.id
    if folder.resolve() == run_dir.resolve() or (gated_id and results.run.id == gated_id):
        raise HarnessError(f"the baseline {spec} is the gated run itself (run {gated_id})",
                           "pass the blessed baseline run")
    status = results.run.status
    if status != "complete":
        raise HarnessError(f"baseline run {results.run.id} is not complete (status: {status})",
                           "compare with a finished run (`harness run --resume` finishes one)")
    if results.run.failures:
        raise HarnessError(f"baseline run {results.run.id} has {len(results.run.failures)} failed "
                           "piece(s) (see its run.failures)", "finish it (`harness run --resume RUN_DIR`) or pass "
                           "a baseline with every piece evaluated")
    return Baseline(folder, results, results.run.id)


def resolve(spec: str, run_dir: Path) -> Baseline:
    """``--baseline``: a run folder, a results.json, a name blessed in the run folder's parent, or the
    id of a run in that folder (its run folder's name)."""
    if not spec.strip():
        raise HarnessError("--baseline is empty", "pass a run folder, a results.json, a run id or a blessed name, "
                           "or drop --baseline")
    path = Path(spec)
    if path.is_dir() or path.is_file():
        return _run_baseline(path, spec, run_dir)
    reports = run_dir.resolve().parent
    if not _NAME.match(spec):
        raise HarnessError(f"baseline {spec} not found", "pass a run folder, a results.json, a run id or a blessed name")
    record_path = blessed_path(reports, spec)
    if not record_path.is_file():
        if (reports / spec / "results.json").is_file():           # a run id: the run folders are named by them
            return _run_baseline(reports / spec, spec, run_dir)
        from harness.suggest import did_you_mean
        known = _known_names(reports)
        hint = did_you_mean(spec, known, f"blessed in {reports}: {', '.join(known)}" if known else
                            f"bless one first: `harness bless RUN_DIR --as {spec}`")
        raise HarnessError(f"no run folder, results.json, run id or blessed baseline named {spec!r} "
                           f"(looked in {reports} and {reports / BLESSED_DIR})", hint)
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        name = record["run"]
        if not isinstance(name, str) or name in ("", ".", "..") or "/" in name or "\\" in name or "\0" in name:
            raise TypeError("the run must be a folder name beside the record")    # no path out of the reports folder
        folder = reports / record["run"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise HarnessError(f"{record_path} is not a blessed-baseline record", f"bless again: `harness bless RUN_DIR --as {spec} --force`") from None
    if not folder.is_dir():
        raise HarnessError(f"blessed baseline {spec!r} points at {folder}, which is gone",
                           "restore that run folder next to the gated run, or bless another run")
    raw = read_raw(folder)
    results = parse(raw, results_file(folder))
    changed = [what for what, now, then in (("results.json", core_digest(raw), record.get("results_sha256")),
                                            ("samples.jsonl", file_digest(folder / "samples.jsonl"), record.get("samples_sha256")))
               if now != then]
    if changed:
        raise HarnessError(f"blessed baseline {spec!r} ({folder}) changed since it was blessed: its "
                           f"{' and '.join(changed)} no longer match{'es' * (len(changed) == 1)} the recorded sha256",
                           f"restore the blessed run, or bless it again on purpose: `harness bless {folder} --as {spec} --force`")
    return Baseline(folder, results, results.run.id, name=spec)
