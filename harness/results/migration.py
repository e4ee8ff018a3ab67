"""results.json layouts: which one a file is, and layout 1 rewritten as layout 2 (pure: dict in,
dict out). Imports nothing from harness but the types.

``schema_version`` is "MAJOR.MINOR" from layout 2 on (layout 1 wrote the number 1). A newer minor
only adds fields, which the types keep; a newer major is refused, since this reader would misread
it. Layout 1 differs from 2 in two ways, both rewritten here:

* "not measured" was spelt three ways: a ``not_measured`` key beside ``value: null`` (metric values,
  paired statistics, cost entries, meters), both ``not_measured`` and ``reason`` (probe statistics),
  ``{"not_measured": why}`` in place of an object or a number (calibration, model footprints, a
  probe's tie fraction). Layout 2 has ``reason`` only: ``{"not_measured": why}`` becomes
  ``{"reason": why}``, and in place of a number ``null`` with the reason beside it.
* a failure was ``{model, what, error, fix}`` with ``what`` the text "load", "warm-up",
  "task 'NAME'" or "probe 'NAME'"; layout 2 records ``{model, kind, piece, error, fix}`` (as
  harness.failures.from_record converts run.json).
"""
from __future__ import annotations

import ast
import copy
import re
from typing import Any

from harness.results.types import SCHEMA_VERSION

CURRENT_MAJOR = 2
OLD_KEY = "not_measured"
NUMBER_PLACES = ("fraction",)            # where layout 1 put {"not_measured": why} in place of a number
_WHAT = re.compile(r"^(task|probe) (.+)$", re.DOTALL)


class LayoutError(ValueError):
    """A file this reader cannot read: the message names the problem, ``fix`` the way out."""

    def __init__(self, problem: str, fix: str):
        super().__init__(problem)
        self.problem, self.fix = problem, fix


def major_of(version: Any) -> int:
    """The layout's major number: 1 for the number 1 that layout 1 wrote, M for "M.m"."""
    if isinstance(version, int) and not isinstance(version, bool):
        return version
    if isinstance(version, str) and re.fullmatch(r"[0-9]+(\.[0-9]+)?", version):
        return int(version.split(".")[0])
    raise LayoutError(f"its schema_version {version!r} is not a layout number (e.g. \"2.0\")",
                      "pass a results.json written by `harness run`")


def to_current(raw: dict) -> dict:
    """``raw`` in the current layout: as it is when it is of the current major, migrated when older."""
    if "schema_version" not in raw:
        raise LayoutError("it names no schema_version", "pass a results.json written by `harness run`")
    major = major_of(raw["schema_version"])
    if major > CURRENT_MAJOR:
        raise LayoutError(f"it is of layout {raw['schema_version']}, newer than this harness reads "
                          f"({CURRENT_MAJOR}.x and older)", "read it with the harness version that wrote it (run.harness_version), or a newer one")
    if major == CURRENT_MAJOR:
        return raw
    if major == 1:
        return from_layout_1(raw)
    raise LayoutError(f"its schema_version {raw['schema_version']!r} names no layout harness ever wrote",
                      "pass a results.json written by `harness run`")


def from_layout_1(raw: dict) -> dict:
    out = copy.deepcopy(raw)
    out = _reasons(out)
    run = out.get("run")
    if isinstance(run, dict) and isinstance(run.get("failures"), list):
        run["failures"] = [failure(f) if isinstance(f, dict) else f for f in run["failures"]]
    out["schema_version"] = SCHEMA_VERSION
    return out


def _reasons(node: Any) -> Any:
    """Every ``not_measured`` key turned into ``reason`` (an existing reason is kept)."""
    if isinstance(node, list):
        return [_reasons(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == OLD_KEY and isinstance(value, str):
            continue
        value = _reasons(value)
        if key in NUMBER_PLACES and isinstance(value, dict) and set(value) == {"reason"}:
            out.setdefault("reason", value["reason"])
            value = None
        out[key] = value
    if isinstance(node.get(OLD_KEY), str):
        out.setdefault("reason", node[OLD_KEY])
    return out


def failure(old: dict) -> dict:
    """A layout-1 failure ``{model, what, error, fix}`` as ``{model, kind, piece, error, fix}``."""
    if "kind" in old:
        return old
    what = old.get("what")
    if what in ("load", "warm-up"):               # a failed warm-up: the model never got ready
        kind, piece = "load", None
    else:
        match = _WHAT.match(what) if isinstance(what, str) else None
        try:
            name = ast.literal_eval(match.group(2)) if match else None
        except (ValueError, SyntaxError):
            name = None
        if not isinstance(name, str):
            raise LayoutError(f"its failure {what!r} names no load, task or probe",
                              "pass a results.json written by `harness run`")
        kind, piece = match.group(1), name
    rest = {k: v for k, v in old.items() if k != "what"}
    return {"model": rest.pop("model", None), "kind": kind, "piece": piece, **rest}
