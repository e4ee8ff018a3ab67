"""A run's folder: reports/<run-id>/ holding run.json (what was asked, what was loaded),
samples.jsonl, results.json and report.html."""
from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.spec import RunSpec
from harness.store import write_json_atomic


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


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

    @property
    def samples_path(self) -> Path:
        return self.dir / "samples.jsonl"

    @classmethod
    def create(cls, out_root: Path, spec: RunSpec, argv: list[str]) -> "RunState":
        run_id = new_run_id()
        directory = out_root / run_id
        try:
            directory.mkdir(parents=True)
        except OSError as exc:
            raise HarnessError(f"cannot create the run folder {directory}: {exc.strerror}", "pass a writable --out") from None
        state = cls(dir=directory, id=run_id, spec=spec, argv=argv, started=now())
        state.save()
        return state

    @classmethod
    def load(cls, directory: Path) -> "RunState":
        path = directory / "run.json"
        if not path.is_file():
            raise HarnessError(f"{directory} is not a run folder (no run.json)", "pass a folder written by `harness run`")
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return cls(dir=directory, id=raw["id"], spec=RunSpec.from_json(raw["spec"]), argv=raw["argv"],
                       started=raw["started"], models=raw.get("models", {}), skipped=raw.get("skipped", {}))
        except (ValueError, KeyError, TypeError) as exc:
            raise HarnessError(f"{path} is damaged ({type(exc).__name__}: {exc})", "start a new run") from None

    def save(self) -> None:
        write_json_atomic(self.dir / "run.json", {
            "id": self.id, "started": self.started, "argv": self.argv, "spec": self.spec.to_json(),
            "models": self.models, "skipped": self.skipped})
