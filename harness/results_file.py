"""Reading a finished run's results.json: the one reader every consumer of a run folder uses."""
from __future__ import annotations

import json
from pathlib import Path

from harness.errors import HarnessError


def read_results(path: Path) -> dict:
    """The results of a run folder (or of a results.json file), or a one-line error naming what is
    wrong with it."""
    path = Path(path)
    file = path / "results.json" if path.is_dir() else path
    if not file.is_file():
        raise HarnessError(f"{path} holds no results.json", "pass a folder written by `harness run` or its results.json")
    try:
        results = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise HarnessError(f"{file} is not valid JSON ({exc})", "re-run or resume the run") from None
    if not isinstance(results, dict) or not isinstance(results.get("run"), dict) or \
            not isinstance(results.get("models"), dict):
        raise HarnessError(f"{file} is not a harness results.json (no run or models)", "pass a file written by `harness run`")
    return results
