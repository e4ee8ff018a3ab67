"""results.json: one typed model (pydantic v2) shared by the writer and every reader.

* ``harness.results.values``, ``.energy``, ``.comparison``, ``.verdict``, ``.types``: the types
  (``Results`` at the top); they import nothing else from harness.
* ``harness.results.assembly``: ``assemble`` builds ``Results`` at the end of a run.
* ``harness.results.reading``: ``read_results`` reads a file back (older layouts migrated by
  ``harness.results.migration``, newer majors refused).
* ``harness.results.schema``: the JSON Schema shipped as results.schema.json.

This package's own namespace loads only the types; ``assemble``, ``task_result`` and
``read_results`` are imported on first use.
"""
from __future__ import annotations

from typing import Any

from harness.results.comparison import Comparison, ComparedModel, CostEntry, PairedStat
from harness.results.energy import Energy, RunEnergy
from harness.results.types import (COMPLETE, COMPLETE_WITH_ERRORS, SCHEMA_VERSION, Calibration, ModelResult,
                                   ProbeResult, Results, RunInfo, TaskResult)
from harness.results.values import NOT_MEASURED, Failure, Figure, MetricValue
from harness.results.verdict import GateRule, GateVerdict

__all__ = ["Results", "RunInfo", "ModelResult", "TaskResult", "ProbeResult", "Calibration", "Energy", "RunEnergy",
           "Figure", "MetricValue", "Failure", "Comparison", "ComparedModel", "PairedStat", "CostEntry",
           "GateVerdict", "GateRule", "SCHEMA_VERSION", "NOT_MEASURED", "COMPLETE", "COMPLETE_WITH_ERRORS",
           "assemble", "task_result", "read_results", "as_results", "REMOTE_ENERGY"]

_LAZY = {"assemble": "assembly", "task_result": "assembly", "REMOTE_ENERGY": "assembly",
         "read_results": "reading", "as_results": "reading"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f"harness.results.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'harness.results' has no attribute {name!r}")
