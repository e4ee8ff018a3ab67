"""results.json ``comparison``, typed: a baseline model against each other model, item by item
(built by harness.compare; also the ``comparison`` of compare.json). Imports nothing from harness
but the value types.

    {baseline, source: "run" | "runs", runs: {key: {run_id, model, dir?}},
     pairing: {key, mode, n_paired: {task: n}, dropped: {task: n}}, holm_family?,
     models: {other: {baseline, tasks: {task: {metric: PairedStat}}, probes: {probe: {metric: PairedStat}},
                      cost: {j_per_example, latency_s_per_example, model_memory_bytes, peak_memory_bytes: CostEntry,
                             tasks},
                      flipped: {fixed, broken, by_task, items, items_kept, items_total}, pairing, note?,
                      not_compared?: {task | probe:NAME: why}}}}

A paired statistic that could not be computed has ``delta`` null and the reason; a cost entry
that was not measured has a null side and the reason. Layout 2.1 added ``holm_family``,
``not_compared``, ``cost.model_memory_bytes`` and a statistic's spread (``sd_delta``,
``sd_baseline``, ``scale``, ``resamples``), which the gate's power statements read.
"""
from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import StrictBool, model_validator

from harness.results.values import Count, Interval, Number, Value, schema_extra

_NOT_MEASURED_STAT = {
    "if": {"properties": {"delta": {"type": "null"}}},
    "then": {"properties": {"reason": {"type": "string", "minLength": 1}}, "required": ["reason"]},
}


class Discordant(Value):
    baseline_only: Count
    other_only: Count


class PairedStat(Value):
    """Baseline and other on the same items: the delta (other - baseline) with its paired-bootstrap
    95% interval, the test and its p-value, Holm's p over the whole comparison."""
    model_config = {"json_schema_extra": schema_extra(_NOT_MEASURED_STAT)}

    baseline: Optional[Number] = None
    other: Optional[Number] = None
    delta: Optional[Number] = None
    ci95: Interval = (None, None)
    n: Count = 0
    test: Optional[str] = None
    p_value: Optional[Number] = None
    p_holm: Optional[Number] = None
    significant: StrictBool = False
    too_few_items: StrictBool = False
    discordant: Optional[Discordant] = None
    higher_is_better: StrictBool = True
    reason: Optional[str] = None
    sd_delta: Optional[Number] = None       # standard deviation of the paired bootstrap replicates of the delta
    sd_baseline: Optional[Number] = None    # standard deviation of the baseline's bootstrap replicates
    scale: Optional[Number] = None          # 0/1 outcomes: the metric's units per outcome (1, or 100 for a percentage)
    resamples: Optional[Count] = None       # paired bootstrap resamples (its smallest p-value is 1/(resamples + 1))

    @model_validator(mode="after")
    def _one_spelling(self) -> "PairedStat":
        if self.delta is None and not (self.reason or "").strip():
            raise ValueError("a paired statistic without a delta needs the reason")
        if self.reason and self.delta is not None:
            raise ValueError("a paired statistic that was not measured carries a delta")
        return self

    @property
    def measured(self) -> bool:
        return self.delta is not None


class CostEntry(Value):
    """A cost per example (or peak memory) on both sides and their ratio; not measured: a side is
    null and the reason says why. Both sides with no ratio: the reason says why not."""
    baseline: Optional[Number] = None
    other: Optional[Number] = None
    ratio: Optional[Number] = None
    source: str = ""
    reason: Optional[str] = None

    @model_validator(mode="after")
    def _one_spelling(self) -> "CostEntry":
        if self.ratio is None and not (self.reason or "").strip():
            raise ValueError("a cost without a ratio needs the reason")
        return self

    @property
    def measured(self) -> bool:
        return self.baseline is not None and self.other is not None


class Cost(Value):
    """``model_memory_bytes``: the model's own parameter and buffer bytes (results' ``size.memory``), the
    headline; ``peak_memory_bytes``: the process's peak memory (RSS or the GPU allocator), which holds
    the libraries and activations as well."""
    j_per_example: Optional[CostEntry] = None
    latency_s_per_example: Optional[CostEntry] = None
    model_memory_bytes: Optional[CostEntry] = None
    peak_memory_bytes: Optional[CostEntry] = None
    tasks: list[str] = []

    def entries(self) -> list[tuple[str, CostEntry]]:
        """The headline first: the model's own memory, then energy and time per example, then the
        process's peak memory (which holds the libraries and activations too)."""
        return [(k, e) for k in ("model_memory_bytes", "j_per_example", "latency_s_per_example", "peak_memory_bytes")
                if (e := getattr(self, k)) is not None]


class FlipCount(Value):
    metric: str
    fixed: Count
    broken: Count


class FlippedItem(Value):
    task: str
    id: Any = None
    metric: Optional[str] = None
    input: Any = None
    reference: Any = None
    baseline_prediction: Any = None
    other_prediction: Any = None
    direction: Literal["fixed", "broken"]


class Flipped(Value):
    """Items whose 0/1 outcome changed: fixed (the other model is right where the baseline was
    wrong) and broken; the counts are complete, the items capped."""
    fixed: Count = 0
    broken: Count = 0
    by_task: dict[str, FlipCount] = {}
    items: list[FlippedItem] = []
    items_kept: Optional[Count] = None
    items_total: Optional[Count] = None


class ModelPairing(Value):
    n_paired: dict[str, Count] = {}
    dropped: dict[str, Count] = {}
    only_baseline: list[str] = []
    only_other: list[str] = []


class ComparedModel(Value):
    baseline: Optional[str] = None
    tasks: dict[str, dict[str, PairedStat]] = {}
    probes: dict[str, dict[str, PairedStat]] = {}
    cost: Cost = Cost()
    flipped: Flipped = Flipped()
    pairing: Optional[ModelPairing] = None
    note: Optional[str] = None
    not_compared: dict[str, str] = {}       # task or probe:NAME -> why it was not compared (asked differently)

    def stats(self) -> list[tuple[str, str, str, PairedStat]]:
        """(section "tasks" | "probes", task or probe, metric, stat) for every statistic."""
        return [(section, unit, name, stat) for section in ("tasks", "probes")
                for unit, metrics in getattr(self, section).items() for name, stat in metrics.items()]


class RunRef(Value):
    run_id: str
    model: str
    dir: Optional[str] = None


class Pairing(Value):
    key: str = ""
    mode: str = "exact"
    n_paired: dict[str, Count] = {}
    dropped: dict[str, Count] = {}


class Comparison(Value):
    baseline: str
    source: Literal["run", "runs"]
    runs: dict[str, RunRef] = {}
    pairing: Pairing = Pairing()
    models: dict[str, ComparedModel] = {}
    holm_family: Optional[str] = None       # which p-values one Holm correction runs over

    def entry_for(self, model: str, run_id: str | None, n_models: int) -> ComparedModel | None:
        """This model's part (``models.<key>``): by its name, by the ``runs`` map, or the only one
        when both sides have one model."""
        if model in self.models:
            return self.models[model]
        for key, ref in self.runs.items():
            if key in self.models and ref.model == model and ref.run_id in (None, run_id):
                return self.models[key]
        if len(self.models) == 1 and n_models == 1:
            return next(iter(self.models.values()))
        return None
