"""The JSON Schema of results.json, generated from the types (harness.results.types), and shipped at
the repository root as results.schema.json so that tools outside Python can validate a run's
results. ``python -m harness.results.schema`` writes it again after a change to the types (a test
keeps the shipped file equal to what the types generate)."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from harness.results.types import SCHEMA_VERSION, Results

SCHEMA_FILE = "results.schema.json"
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def schema() -> dict[str, Any]:
    """results.json's JSON Schema (draft 2020-12)."""
    out = Results.model_json_schema(mode="validation")
    return {"$schema": DIALECT, "title": "harness results.json", "description": f"layout {SCHEMA_VERSION}: harness/results/types.py",
            **{k: v for k, v in out.items() if k != "title"}}


def schema_text() -> str:
    return json.dumps(schema(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    target = Path(argv[0]) if argv else Path(__file__).resolve().parents[2] / SCHEMA_FILE
    target.write_text(schema_text(), encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
