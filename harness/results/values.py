"""The leaf values of results.json, typed (pydantic v2, frozen): a figure, a metric value with its
95% interval, a failed piece of a run. This module imports nothing from harness.

"Not measured" is spelt one way everywhere: the value is ``null`` and the object holding it says
why in ``reason``. A figure also keeps ``source: "not_measured"``, since every figure names its
source. The types refuse the other spellings: a not-measured figure that carries a value, a
measured one without a number, a value without a reason for its absence, a number written as a
string. There is no ``not_measured`` key.

Every model allows fields it does not name (a newer minor layout, a probe's own details), keeps
them, and writes them back unchanged; ``to_json`` writes only what was given (no invented nulls).
"""
from __future__ import annotations

from typing import Annotated, Any, Callable, Literal, Optional, Union

from pydantic import AllowInfNan, BaseModel, ConfigDict, Field, Strict, StrictBool, StrictInt, model_validator

NOT_MEASURED = "not_measured"          # the source of a figure that was not measured
OLD_KEY = "not_measured"               # layout 1's key for the reason; no layout-2 object has it

FiniteFloat = Annotated[float, Strict(), AllowInfNan(False)]
Number = Union[StrictInt, FiniteFloat]            # JSON number: never a string, a boolean, NaN or Infinity
Count = Annotated[StrictInt, Field(ge=0)]
Interval = tuple[Optional[Number], Optional[Number]]      # ci95: [lower, upper], each null when unknown
FailureKind = Literal["load", "task", "probe", "summary"]


def schema_extra(conditions: dict | None = None) -> Callable[[dict], None]:
    """JSON Schema additions of a type: its not-measured conditions, and no ``not_measured`` key."""
    def extra(schema: dict) -> None:
        schema.update(conditions or {})
        schema["not"] = {"required": [OLD_KEY]}
    return extra


class Value(BaseModel):
    """The base of every results.json object: frozen, other fields kept as they are."""
    model_config = ConfigDict(frozen=True, extra="allow", json_schema_extra=schema_extra())

    @model_validator(mode="before")
    @classmethod
    def _no_old_spelling(cls, data: Any) -> Any:
        if isinstance(data, dict) and OLD_KEY in data:
            raise ValueError(f"`{OLD_KEY}` is layout 1's spelling: a value that was not measured is null, with `reason`")
        return data

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True)

    def extra(self, name: str, default: Any = None) -> Any:
        """A field this type does not name (a probe's own detail, a newer minor's addition)."""
        return (self.model_extra or {}).get(name, default)


def _has_reason(reason: Any) -> bool:
    return isinstance(reason, str) and bool(reason.strip())


_NOT_MEASURED_FIGURE = {
    "if": {"properties": {"source": {"const": NOT_MEASURED}}, "required": ["source"]},
    "then": {"properties": {"value": {"type": "null"}, "reason": {"type": "string", "minLength": 1}},
             "required": ["reason"]},
    "else": {"properties": {"value": {"type": "number"}}, "required": ["value"]},
}


class Figure(Value):
    """A measured quantity: ``{value, unit, source}``; not measured: value null, source
    ``not_measured`` and the reason. ``coverage`` (0..1) and ``covered_s``: the share and seconds
    of a window a partly measured figure covers. A figure measured over repeats of the same work
    (``--repeats N``, harness.protocol) is their mean, with ``repeats`` (N), ``per_repeat`` (each
    repeat's value, in order), ``ci95`` (the 95% t-interval of the mean) and ``cv`` (the
    coefficient of variation across repeats: standard deviation / mean)."""
    model_config = ConfigDict(json_schema_extra=schema_extra(_NOT_MEASURED_FIGURE))

    value: Optional[Number] = None
    unit: str
    source: str
    reason: Optional[str] = None
    coverage: Optional[Annotated[FiniteFloat, Field(ge=0, le=1)]] = None
    covered_s: Optional[Number] = None
    repeats: Optional[Count] = None
    per_repeat: Optional[list[Number]] = None
    ci95: Optional[Interval] = None
    cv: Optional[Annotated[FiniteFloat, Field(ge=0)]] = None

    @model_validator(mode="after")
    def _one_spelling(self) -> "Figure":
        if self.source == NOT_MEASURED:
            if self.value is not None:
                raise ValueError(f"a not-measured figure carries a value ({self.value!r})")
            if not _has_reason(self.reason):
                raise ValueError("a not-measured figure needs its reason")
        elif self.value is None:
            raise ValueError(f"a measured figure (source {self.source!r}) has no value")
        if self.per_repeat is not None and self.repeats is not None and len(self.per_repeat) != self.repeats:
            raise ValueError(f"a figure over {self.repeats} repeats lists {len(self.per_repeat)} per-repeat values")
        lo, hi = self.interval or (None, None)
        slack = 1e-9 * max(1.0, abs(lo or 0), abs(hi or 0))      # float rounding of a mean and its interval
        if lo is not None and (lo > hi or not lo - slack <= self.value <= hi + slack):   # hand-edited: judged backwards
            raise ValueError(f"a figure's 95% interval [{lo}, {hi}] does not hold its value {self.value}"
                             + (" (lower bound above upper)" if lo > hi else ""))
        return self

    @property
    def interval(self) -> tuple[float, float] | None:
        """The 95% interval across repeats, or None (one repeat: no spread)."""
        lo, hi = self.ci95 if self.ci95 is not None else (None, None)
        return None if lo is None or hi is None else (lo, hi)

    @property
    def measured(self) -> bool:
        return self.source != NOT_MEASURED

    @classmethod
    def not_measured(cls, unit: str, reason: str) -> "Figure":
        return cls(value=None, unit=unit, source=NOT_MEASURED, reason=reason)


_NOT_MEASURED_VALUE = {
    "if": {"properties": {"value": {"type": "null"}}},
    "then": {"properties": {"reason": {"type": "string", "minLength": 1}}, "required": ["reason"]},
}


class MetricValue(Value):
    """A metric's value with its bootstrap standard error and 95% interval over ``n`` examples;
    not measured: value null and the reason (stderr and interval null too)."""
    model_config = ConfigDict(json_schema_extra=schema_extra(_NOT_MEASURED_VALUE))

    value: Optional[Number]
    stderr: Optional[Number] = None
    ci95: Interval = (None, None)
    n: Optional[Count] = None
    reason: Optional[str] = None
    higher_is_better: Optional[StrictBool] = None

    @model_validator(mode="after")
    def _one_spelling(self) -> "MetricValue":
        if self.value is None and not _has_reason(self.reason):
            raise ValueError("a metric value that is null needs the reason")
        return self

    @property
    def measured(self) -> bool:
        return self.value is not None

    @property
    def interval(self) -> tuple[float, float] | None:
        lo, hi = self.ci95
        return None if lo is None or hi is None else (lo, hi)

    @classmethod
    def not_measured(cls, reason: str, n: int = 0, **extra: Any) -> "MetricValue":
        return cls(value=None, stderr=None, ci95=(None, None), n=n, reason=reason, **extra)


class Failure(Value):
    """A piece of the run that failed: a model's ``load`` (``piece`` null; a failed warm-up too: the
    model never got ready), a ``task`` or a ``probe`` (``piece``: its name), or the ``summary``
    computed from the stored items at the end (metrics, calibration, a probe's summarize; ``piece``:
    the task's name, or ``probe:NAME``). harness.failures records the first three in run.json."""
    model: str
    kind: FailureKind
    piece: Optional[str] = None
    error: str
    fix: str

    @model_validator(mode="after")
    def _named(self) -> "Failure":
        if self.kind == "load" and self.piece is not None:
            raise ValueError("a load failure names no piece")
        if self.kind != "load" and not self.piece:
            raise ValueError(f"a {self.kind} failure names its piece")
        return self

    @property
    def scope(self) -> tuple[str, str] | None:
        """("task" | "probe", name) of the piece whose results are missing or suspect; None for a load."""
        if self.kind in ("task", "probe"):
            return self.kind, str(self.piece)
        if self.kind == "summary":
            piece = str(self.piece)
            return ("probe", piece.removeprefix("probe:")) if piece.startswith("probe:") else ("task", piece)
        return None

    @property
    def what(self) -> str:
        """The piece as the terminal and the report name it: "load", "task 'mc'", "probe 'x'",
        "summary of 'probe:x'" (the words of harness.failures.what)."""
        if self.kind == "load":
            return "load"
        return f"summary of {self.piece!r}" if self.kind == "summary" else f"{self.kind} {self.piece!r}"

    def describe(self) -> str:
        """In words: "loading model 'a'", "model 'a' on task 'mc'", "model 'a' on the summary of 'x'"."""
        if self.kind == "load":
            return f"loading model {self.model!r}"
        return f"model {self.model!r} on the {self.what}" if self.kind == "summary" else \
            f"model {self.model!r} on {self.what}"
