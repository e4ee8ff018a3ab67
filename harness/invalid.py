"""Invalid records: a model output that is not a finite number (NaN, inf) is stored with
``"invalid": "<reason>"`` and counted, never scored, so results.json and samples.jsonl stay strict
JSON and no metric silently takes a NaN for an answer (pure functions)."""
from __future__ import annotations

from typing import Iterable

from harness.finite import non_finite_paths, scrubbed

__all__ = ["checked_record", "invalid_summary", "non_finite_paths", "scrubbed"]


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
