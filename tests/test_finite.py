"""harness.finite: the one home of the finite-number helpers (each defined once)."""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from harness.finite import finite_or_none, is_finite_number, non_finite_paths, scrubbed

HARNESS = Path(__file__).resolve().parent.parent / "harness"


def test_is_finite_number():
    assert all(is_finite_number(v) for v in (0, -3, 2.5, np.float32(1.5), np.int64(4), np.float64(1e300)))
    assert not any(is_finite_number(v) for v in (True, None, "1", math.nan, -math.inf, np.float32("nan"), [1]))


def test_finite_or_none():
    assert finite_or_none(2) == 2.0 and isinstance(finite_or_none(np.float32(0.5)), float)
    assert [finite_or_none(v) for v in (None, math.nan, math.inf, "x", False)] == [None] * 5


def test_scrubbed_and_non_finite_paths_walk_nested_values():
    value = {"a": [1.0, math.nan, {"b": -math.inf}], "c": "nan", "d": (2, math.inf)}
    assert scrubbed(value) == {"a": [1.0, None, {"b": None}], "c": "nan", "d": [2, None]}
    assert non_finite_paths(value) == ["a[1]", "a[2].b", "d[1]"]


def test_each_helper_is_defined_once():
    """meters/session._finite copied invalid.scrubbed; store, compare/build and gate/rules each had their own."""
    pattern = re.compile(r"^def (_finite|finite_or_none|is_finite_number|scrubbed|non_finite_paths)\b", re.M)
    found = {str(p.relative_to(HARNESS)): pattern.findall(p.read_text(encoding="utf-8")) for p in HARNESS.rglob("*.py")}
    assert {path: names for path, names in found.items() if names} == {
        "finite.py": ["is_finite_number", "finite_or_none", "non_finite_paths", "scrubbed"]}
