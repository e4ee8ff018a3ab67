"""A run's folder: reports/<run-id>/ holding run.json (what was asked, what was loaded, and the
fingerprints of the inputs), samples.jsonl, results.json and report.html. The folder appears under
its name only once run.json is complete in it, so every run folder can be resumed."""
from __future__ import annotations

import errno
import json
import secrets
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness import failures as failure_records
from harness.errors import HarnessError
from harness.spec import RunSpec
from harness.store import write_json_atomic


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


ID_ATTEMPTS = 20


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


@dataclass
class RunState:
    """What run.json holds. Mutated only by the runner, as models load and tasks are skipped."""
    dir: Path
    id: str
    spec: RunSpec
    argv: list[str]
    started: str
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: dict[str, dict[str, str]] = field(default_factory=dict)
    fingerprints: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)   # harness.fingerprint
    failures: list[dict[str, Any]] = field(default_factory=list)     # pieces that failed (harness.failures.record)

    @property
    def samples_path(self) -> Path:
        return self.dir / "samples.jsonl"

    @classmethod
    def create(cls, out_root: Path, spec: RunSpec, argv: list[str], fingerprints: dict | None = None) -> "RunState":
        """A new run folder OUT/<run-id>. A run id whose folder (or partial folder) already exists - a
        copied run, a clock set back, two runs in one second drawing the same suffix - is never written
        into: another id is drawn."""
        for _ in range(ID_ATTEMPTS):
            run_id = new_run_id()
            directory = out_root / run_id
            partial = out_root / f".{run_id}.partial"      # renamed to the run folder once run.json is in it
            if directory.exists() or partial.exists():
                continue
            try:
                partial.mkdir(parents=True)
            except FileExistsError:
                continue
            except OSError as exc:
                raise HarnessError(f"cannot create the run folder {directory}: {exc.strerror}",
                                   "pass a writable --out") from None
            state = cls(dir=directory, id=run_id, spec=spec, argv=argv, started=now(), fingerprints=fingerprints or {})
            try:
                state.save(partial)
                if directory.exists():                  # appeared meanwhile: a rename would replace an empty one
                    shutil.rmtree(partial, ignore_errors=True)
                    continue
                partial.rename(directory)
            except OSError as exc:
                shutil.rmtree(partial, ignore_errors=True)
                if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                    continue
                raise
            except BaseException:
                shutil.rmtree(partial, ignore_errors=True)
                raise
            return state
        raise HarnessError(f"no free run id in {out_root} after {ID_ATTEMPTS} tries (each folder name was taken)",
                           "check the clock and the folders in --out, or pass another --out")

    @classmethod
    def load(cls, directory: Path) -> "RunState":
        path = directory / "run.json"
        if not path.is_file():
            raise HarnessError(f"{directory} is not a run folder (no run.json)", "pass a folder written by `harness run`")
        if path.stat().st_size == 0:      # run.json is written whole (atomically): empty means cut or emptied by hand
            raise HarnessError(f"{path} is empty (0 bytes): the run's options are lost",
                               "start a new run (its samples.jsonl cannot be resumed without them)")
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            spec = raw["spec"]
            if "baseline" not in spec:        # written before run.json recorded it: the --baseline of its argv
                spec = {**spec, "baseline": baseline_from_argv(raw["argv"])}
            state = cls(dir=directory, id=raw["id"], spec=RunSpec.from_json(spec), argv=raw["argv"],
                       started=raw["started"], models=raw.get("models", {}), skipped=raw.get("skipped", {}),
                       fingerprints=raw.get("fingerprints", {}), failures=read_failures(raw.get("failures", [])))
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise HarnessError(f"{path} is damaged ({type(exc).__name__}: {exc})", "start a new run") from None
        if not state.spec.models:      # every run has a model; a resume of none would rewrite results.json empty
            raise HarnessError(f"{path} is damaged (spec.models lists no model)", "start a new run")
        return state

    def save(self, directory: Path | None = None) -> None:
        write_json_atomic((directory or self.dir) / "run.json", {
            "id": self.id, "started": self.started, "argv": self.argv, "spec": self.spec.to_json(),
            "models": self.models, "skipped": self.skipped, "fingerprints": self.fingerprints,
            "failures": self.failures})

    def record_failure(self, failure: dict[str, Any]) -> None:
        """A piece of the run (a harness.failures.record: a model's load, one task, one probe) failed;
        the rest goes on. A later resume retries it, and `clear_failure` forgets it once it succeeds."""
        self.clear_failure(*failure_records.key(failure))
        self.failures.append(failure)
        self.save()

    def clear_failure(self, model: str, kind: str, piece: str | None = None) -> None:
        before = len(self.failures)
        self.failures = [f for f in self.failures if failure_records.key(f) != (model, kind, piece)]
        if len(self.failures) != before:
            self.save()


def read_failures(raw: Any) -> list[dict[str, Any]]:
    """run.json's failures in harness.failures' shape (an older folder's are converted), each piece once."""
    if not isinstance(raw, list):
        raise TypeError(f"failures is {type(raw).__name__}, not a list")
    out: dict = {}
    for item in raw:
        failure = failure_records.from_record(item)
        out[failure_records.key(failure)] = failure
    return list(out.values())


def baseline_from_argv(argv: Any) -> str | None:
    """The --baseline of a stored command line (run folders from before run.json recorded it; the flag
    may also be spelt --baseline-model)."""
    argv = [a for a in argv if isinstance(a, str)] if isinstance(argv, list) else []
    for i, arg in enumerate(argv):
        if arg in ("--baseline", "--baseline-model") and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(("--baseline=", "--baseline-model=")):
            return arg.split("=", 1)[1]
    return None
