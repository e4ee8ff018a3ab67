"""results.json, typed (pydantic v2, frozen): the model that ``harness run`` writes through
(harness.results.assembly) and every reader reads through (harness.results.reading). The JSON
Schema shipped as results.schema.json is generated from these types (harness.results.schema).

Layout (``schema_version`` "MAJOR.MINOR"; a reader refuses a newer major and migrates layout 1)::

    {schema_version, run: RunInfo, environment, models: {name: ModelResult}, energy: RunEnergy,
     comparison?: Comparison, gate?: GateVerdict}

Imports nothing from harness but the other type modules, so no import circle goes through them.
"""
from __future__ import annotations

from typing import Any, Optional

from pydantic import Field, StrictBool, field_validator, model_validator

from harness.results.comparison import Comparison
from harness.results.energy import Energy, RunEnergy
from harness.results.values import Count, Failure, Figure, MetricValue, Number, Value, schema_extra
from harness.results.verdict import GateVerdict

SCHEMA_VERSION = "2.1"
SCHEMA_MAJOR = 2
COMPLETE = "complete"
COMPLETE_WITH_ERRORS = "complete with errors"      # some pieces failed (run.failures); exit 3


def plain_name(text: str) -> bool:
    """A name that is one folder name: not empty, not . or .., no separator or NUL."""
    return bool(text) and text not in (".", "..") and not any(c in text for c in "/\\\0")


class Invalid(Value):
    """Items whose model output could not be scored (a non-finite number, ...), counted by reason."""
    n: Count = 0
    reasons: dict[str, Count] = {}


class ReliabilityBin(Value):
    bin: Count
    lower: Number
    upper: Number
    count: Count
    confidence: Optional[Number] = None            # null: an empty bin
    accuracy: Optional[Number] = None


_CALIBRATION_NOT_MEASURED = {"anyOf": [{"required": ["metrics"]}, {"required": ["reason"]}]}


class Calibration(Value):
    """How sure against how right (harness.calibration): ECE and Brier with intervals and the
    reliability bins; not measured: only the reason."""
    model_config = {"json_schema_extra": schema_extra(_CALIBRATION_NOT_MEASURED)}

    source: Optional[str] = None
    binning: Optional[str] = None
    bins: Optional[Count] = None
    n: Optional[Count] = None
    metrics: Optional[dict[str, MetricValue]] = None
    reliability: Optional[list[ReliabilityBin]] = None
    reason: Optional[str] = None

    @model_validator(mode="after")
    def _one_spelling(self) -> "Calibration":
        if self.metrics is None and not (self.reason or "").strip():
            raise ValueError("a calibration without metrics needs the reason")
        return self

    @property
    def measured(self) -> bool:
        return self.metrics is not None


class TaskResult(Value):
    """One model on one task: metrics over the scored examples, how many were expected and
    scored, what could not be scored, calibration (choice and classification tasks), energy."""
    kind: str
    n: Count
    n_expected: Optional[Count] = None
    complete: StrictBool = True
    invalid: Optional[Invalid] = None
    metrics: dict[str, MetricValue] = {}
    tokenize: Optional[str] = None
    normalize: Optional[str] = None
    calibration: Optional[Calibration] = None
    energy: Optional[Energy] = None


class ProbeResult(Value):
    """One model under one probe. The common part is typed; a probe's own details (``subgroups``
    tables, ``examples``, ``ties``, ``counts``, ...) are kept as the probe wrote them."""
    probe: Optional[str] = None
    n: Optional[Count] = None
    metrics: dict[str, MetricValue] = {}
    subgroups: dict[str, Any] = {}
    examples: list[dict[str, Any]] = []
    notes: list[str] = []
    variant: Optional[str] = None
    skipped_too_long: Optional[Count] = None
    invalid: Optional[Invalid] = None
    energy: Optional[Energy] = None


class ModelResult(Value):
    """One model of the run: how it was loaded, its tasks, probes and skips (task or ``probe:NAME``
    to the reason), and its own energy. Variant details (recipe, size, quantization, sparsity) are
    kept as the loader wrote them."""
    spec: str = ""
    kind: str = ""
    dtype: Optional[str] = None
    device: Optional[str] = None
    parameters: Optional[Number] = None         # as the adapter reports them (ModelInfo; a py: adapter's own count)
    max_length: Optional[Number] = None
    batch_size: Optional[Count] = None
    remote: Optional[StrictBool] = None
    peak_memory: Optional[Figure] = None
    probes_done: list[str] = []
    tasks: dict[str, TaskResult] = {}
    probes: dict[str, ProbeResult] = {}
    skipped: dict[str, str] = {}
    energy: Optional[Energy] = None


class RunInfo(Value):
    """What ran: id, times, status ("complete", "complete with errors", "incomplete: <why>",
    "nothing evaluated: ..."), seed, limit, version, git commit, argv, and the failed pieces."""
    id: str
    started: Optional[str] = None
    finished: Optional[str] = None
    status: str
    seed: Optional[int] = None
    limit: Optional[Count] = None
    harness_version: Optional[str] = None
    git_sha: Optional[str] = None
    argv: list[str] = []
    failures: list[Failure] = []

    @field_validator("id")
    @classmethod
    def _plain(cls, value: str) -> str:
        if not plain_name(value):         # consumers name folders after it (TensorBoard, history)
            raise ValueError(f"run.id {value!r} is not a plain name")
        return value


class Results(Value):
    """The whole of results.json."""
    schema_version: str = Field(pattern=r"^2\.[0-9]+$")
    run: RunInfo
    environment: dict[str, Any] = {}
    models: dict[str, ModelResult]
    energy: Optional[RunEnergy] = None
    comparison: Optional[Comparison] = None
    gate: Optional[GateVerdict] = None

    def with_comparison(self, comparison: Comparison) -> "Results":
        return self.model_copy(update={"comparison": comparison})

    def with_gate(self, gate: GateVerdict) -> "Results":
        return self.model_copy(update={"gate": gate})

    def failures_of(self, model: str) -> list[Failure]:
        return [f for f in self.run.failures if f.model == model]

    def scored_anything(self) -> bool:
        return any(entry.n for m in self.models.values() for entry in [*m.tasks.values(), *m.probes.values()])
