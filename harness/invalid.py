"""Invalid records: a model output that is not a finite number (NaN, inf) is stored with
``"invalid": "<reason>"`` and counted, never scored, so results.json and samples.jsonl stay strict
JSON and no metric silently takes a NaN for an answer (pure functions)."""
from __future__ import annotations

import math
from typing import Any, Iterable


def non_finite_paths(value: Any, path: str = "") -> list[str]:
    """Where in a nested dict/list a float is NaN or infinite, e.g. ["scores.effect_size"]."""
    if isinstance(value, float):
        return [] if math.isfinite(value) else [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in non_finite_paths(v, f"{path}.{k}" if path else str(k))]
    if isinstance(value, (list, tuple)):
        return [p for i, v in enumerate(value) for p in non_finite_paths(v, f"{path}[{i}]")]
    return []


def scrubbed(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: scrubbed(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrubbed(v) for v in value]
    return value


def checked_record(record: dict) -> dict:
    """A record that holds a non-finite number anywhere is marked invalid (naming where) and the
    numbers are replaced by None; any other record is returned as it is."""
    paths = non_finite_paths(record)
    if not paths:
        return record
    return {**scrubbed(record), "invalid": record.get("invalid") or f"non-finite value in {paths[0]}"}


def invalid_summary(records: Iterable[dict]) -> dict:
    """{"n": how many records are invalid, "reasons": {reason: count}}."""
    reasons: dict[str, int] = {}
    for r in records:
        if "invalid" in r:
            reasons[r["invalid"]] = reasons.get(r["invalid"], 0) + 1
    return {"n": sum(reasons.values()), "reasons": dict(sorted(reasons.items()))}
