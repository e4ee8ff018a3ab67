"""A release-gate policy: the YAML schema, parsed and validated into frozen dataclasses.

A policy is data only, read by ``harness.yamlfile`` as every YAML file of the harness is
(``yaml.safe_load``, bounded in size, a key given twice refused with both lines named): each rule
selects targets by glob, names one quantity (a task or probe metric, or an energy figure) and one
check on it. Every problem is a ``HarnessError`` naming the rule and the key, with close matches
for unknown names::

    version: 1
    defaults: {not_measured: fail, min_n: 0, underpowered: warn}   # optional
    allow_errors: false                             # optional: a run "complete with errors" fails
    rules:
      - name: facts accuracy floor
        select: {model: "*", task: facts_mc}        # model / task / probe globs (fnmatch)
        metric: accuracy                            # or energy: j_per_example
        min: 0.5                                    # check: min and/or max | max_abs_deviation | baseline
        min_n: 20
        not_measured: fail                          # fail | warn | skip
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping, Union

from harness.errors import HarnessError
from harness.suggest import did_you_mean

POLICY_VERSION = 1
NOT_MEASURED = ("fail", "warn", "skip")
JUDGES = ("ci", "test")
UNDERPOWERED = ("fail", "warn", "ignore")      # a baseline rule whose allowed drop is below what its test can detect

# Every figure of an energy object (harness/meters/energy.py energy_object), and whether more is
# better. Each is {value, unit, source[, reason]}; ``quality_per_kj.<metric>`` is one per task metric.
ENERGY_FIGURES: dict[str, bool] = {
    "total_energy_j": False, "gpu_energy_j": False, "gpu_energy_integrated_j": False, "gpu_energy_net_j": False,
    "cpu_energy_j": False, "ram_energy_j": False, "gpu_energy_discrepancy_pct": False,
    "gpu_power_mean_w": False, "gpu_power_peak_w": False, "cpu_power_mean_w": False, "total_power_mean_w": False,
    "j_per_example": False, "examples_per_j": True, "j_per_generated_token": False, "s_per_example": False,
    "gco2e": False, "gco2e_per_1000_examples": False, "duration_s": False,
}
QUALITY_PER_KJ = "quality_per_kj."

_GLOB = set("*?[")


def is_glob(text: str) -> bool:
    return bool(_GLOB & set(text))


def energy_higher_is_better(figure: str) -> bool:
    return figure.startswith(QUALITY_PER_KJ) or ENERGY_FIGURES[figure]


# --- the schema -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Select:
    """Which targets a rule applies to: model, and a task or a probe (fnmatch globs). With neither
    task nor probe, an energy rule reads the model's own energy (loading and every task included)."""
    model: str = "*"
    task: str | None = None
    probe: str | None = None

    @property
    def scope(self) -> Literal["task", "probe", "model"]:
        return "task" if self.task is not None else "probe" if self.probe is not None else "model"

    def describe(self) -> str:
        parts = [f"model {self.model!r}"] + ([f"task {self.task!r}"] if self.task is not None else []) \
            + ([f"probe {self.probe!r}"] if self.probe is not None else [])
        return ", ".join(parts)


@dataclass(frozen=True)
class Metric:
    """A task metric (models.<m>.tasks.<t>.metrics.<name>.value) or a probe metric
    (models.<m>.probes.<p>.metrics.<name>.value); ``name`` may be a glob."""
    name: str


@dataclass(frozen=True)
class Energy:
    """An energy figure (models.<m>[.tasks.<t>|.probes.<p>].energy.<name>.value)."""
    name: str

    @property
    def higher_is_better(self) -> bool:
        return energy_higher_is_better(self.name)


Quantity = Union[Metric, Energy]


@dataclass(frozen=True)
class Bounds:
    """An absolute floor and/or ceiling: min <= value <= max."""
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class Deviation:
    """|value - center| <= max (e.g. stereotype preference within 10 points of 50)."""
    center: float
    max: float


@dataclass(frozen=True)
class BaselineDrop:
    """Against the baseline, on the paired comparison's STAT for the metric. A drop is a change
    for the worse in the metric's direction (STAT.higher_is_better). The margin is ``max_drop``
    (in the metric's units) or ``max_drop_pct`` (percent of the baseline's value).
    judge ``ci``: non-inferiority, the delta's 95% CI bound on the worse side within the margin.
    judge ``test``: fails when the paired test finds a significant drop (Holm-adjusted p, over the
    rule's own family, below ``alpha``, 0.05 when none is given) whose point estimate exceeds the margin.
    ``underpowered``: the verdict when the margin is below the drop the test can detect at this n
    (harness.gate.power): fail, warn (the default) or ignore (the verdict stands; the reason says so)."""
    max_drop: float | None = None
    max_drop_pct: float | None = None
    judge: Literal["ci", "test"] = "ci"
    alpha: float | None = None
    underpowered: Literal["fail", "warn", "ignore"] = "warn"


@dataclass(frozen=True)
class BaselineChange:
    """An energy or carbon figure against the baseline run's same figure. ``max_increase_pct`` for
    figures where less is better (J, W, gCO2e), ``max_drop_pct`` for those where more is
    (examples_per_j, quality_per_kj.*). With repeats on both sides the change must also be
    significant at ``alpha`` to fail (harness.gate.energy)."""
    max_pct: float
    higher_is_better: bool
    alpha: float = 0.05


Check = Union[Bounds, Deviation, BaselineDrop, BaselineChange]


@dataclass(frozen=True)
class Rule:
    name: str
    select: Select
    quantity: Quantity
    check: Check
    min_n: int = 0                     # fewer examples (or paired items) than this: not measured
    not_measured: Literal["fail", "warn", "skip"] = "fail"

    @property
    def uses_baseline(self) -> bool:
        return isinstance(self.check, (BaselineDrop, BaselineChange))


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...]
    allow_errors: bool = False         # a run "complete with errors" passes with a warning
    source: str = ""
    sha256: str = ""

    @property
    def uses_baseline(self) -> bool:
        return any(r.uses_baseline for r in self.rules)

    @property
    def uses_comparison(self) -> bool:
        return any(isinstance(r.check, BaselineDrop) for r in self.rules)


# --- parsing ----------------------------------------------------------------------------------------

_TOP_KEYS = ("version", "defaults", "allow_errors", "rules")
_DEFAULT_KEYS = ("not_measured", "min_n", "underpowered")
_RULE_KEYS = ("name", "select", "metric", "energy", "min", "max", "max_abs_deviation", "baseline", "min_n",
              "not_measured")
_SELECT_KEYS = ("model", "task", "probe")
_DEVIATION_KEYS = ("from", "max")
_BASELINE_KEYS = ("max_drop", "max_drop_pct", "max_increase_pct", "judge", "alpha", "underpowered")


class _Where:
    """Builds the errors for one place in the policy file."""

    def __init__(self, source: str, where: str = ""):
        self.source, self.where = source, where

    def at(self, where: str) -> "_Where":
        return _Where(self.source, where)

    def error(self, problem: str, fix: str) -> HarnessError:
        place = f"{self.source}: {self.where}: " if self.where else f"{self.source}: "
        return HarnessError(f"policy {place}{problem}", fix)

    def keys(self, mapping: Any, allowed: tuple[str, ...], what: str) -> Mapping:
        if not isinstance(mapping, dict):
            raise self.error(f"{what} must be a mapping, got {_kind(mapping)}", f"write {what} as `key: value` lines")
        for key in mapping:
            if key not in allowed:
                raise self.error(f"unknown key {key!r} in {what}",
                                 did_you_mean(key, allowed, f"{what} takes {', '.join(allowed)}", n=2))
        return mapping

    def number(self, value: Any, key: str, low: float = -math.inf, high: float = math.inf) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(f"`{key}` must be a number, got {_kind(value)} {value!r}", f"write `{key}: 0.5` (no quotes)")
        if not math.isfinite(value) or not low <= value <= high:
            bounds = ("" if low == -math.inf else f" at least {low:g}" if high == math.inf else
                      f" from {low:g} to {high:g}")
            raise self.error(f"`{key}` must be a finite number{bounds}, got {value!r}", f"fix `{key}`")
        return float(value)

    def text(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.error(f"`{key}` must be a non-empty string, got {_kind(value)} {value!r}",
                             f"write `{key}: NAME` (quote globs: \"*\")")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise self.error(f"`{key}` holds a lone surrogate escape ({value!r})", f"write `{key}` as plain text") from None
        return value

    def choice(self, value: Any, key: str, choices: tuple[str, ...]) -> str:
        if value not in choices:
            raise self.error(f"`{key}` must be one of {', '.join(choices)}, got {value!r}",
                             did_you_mean(value, choices, f"use one of {', '.join(choices)}", n=1, shown=repr))
        return value

    def count(self, value: Any, key: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.error(f"`{key}` must be a whole number >= 0, got {_kind(value)} {value!r}", f"write `{key}: 20`")
        return value


def _kind(value: Any) -> str:
    return {type(None): "nothing", bool: "a boolean", str: "a string", list: "a list", dict: "a mapping"}.get(
        type(value), "an integer" if isinstance(value, int) else "a number" if isinstance(value, float) else
        type(value).__name__)


MAX_POLICY_BYTES = 2**20


def load_policy(path: Path) -> Policy:
    """Reads and validates a policy file (structure, types, energy figure names)."""
    from harness.yamlfile import parse_yaml, read_bounded
    data = read_bounded(path, "policy", limit=MAX_POLICY_BYTES, too_large_fix="pass the policy YAML file",
                        not_a_file_fix=None)      # a pipe is fine (`--policy <(...)`): the read is bounded
    return parse_policy(parse_yaml(data, path, "policy"), str(path), hashlib.sha256(data).hexdigest())


def parse_policy(raw: Any, source: str = "<policy>", sha256: str = "") -> Policy:
    here = _Where(source)
    if raw is None:
        raise here.error("the file is empty", "write `version: 1` and a `rules:` list (README, section Release gate)")
    here.keys(raw, _TOP_KEYS, "the policy")
    if "version" not in raw:
        raise here.error("no `version`", f"add `version: {POLICY_VERSION}` at the top")
    if raw["version"] != POLICY_VERSION or isinstance(raw["version"], bool):
        raise here.error(f"unsupported version {raw['version']!r}", f"write `version: {POLICY_VERSION}`")
    defaults = here.at("defaults").keys(raw.get("defaults") or {}, _DEFAULT_KEYS, "defaults")
    default_nm = here.at("defaults").choice(defaults.get("not_measured", "fail"), "not_measured", NOT_MEASURED)
    default_min_n = here.at("defaults").count(defaults.get("min_n", 0), "min_n")
    default_underpowered = here.at("defaults").choice(defaults.get("underpowered", "warn"), "underpowered", UNDERPOWERED)
    allow_errors = raw.get("allow_errors", False)
    if not isinstance(allow_errors, bool):
        raise here.error(f"`allow_errors` must be true or false, got {allow_errors!r}", "write `allow_errors: false`")
    rules_raw = raw.get("rules")
    if not isinstance(rules_raw, list) or not rules_raw:
        raise here.error(f"`rules` must be a non-empty list, got {_kind(rules_raw)}",
                         "add `rules:` with one `- name: ...` item per rule")
    rules, names = [], set()
    for i, item in enumerate(rules_raw, 1):
        rule = _rule(item, here.at(f"rule {i}"), default_nm, default_min_n, default_underpowered)
        if rule.name in names:
            raise here.at(f"rule {i}").error(f"two rules are named {rule.name!r}", "give each rule its own name")
        names.add(rule.name)
        rules.append(rule)
    return Policy(tuple(rules), allow_errors=allow_errors, source=source, sha256=sha256)


def _rule(raw: Any, here: _Where, default_nm: str, default_min_n: int, default_underpowered: str = "warn") -> Rule:
    here.keys(raw, _RULE_KEYS, "a rule")
    if "name" not in raw:
        raise here.error("no `name`", "give every rule a `name:` (it names the JUnit test case)")
    name = here.text(raw["name"], "name")
    here = here.at(f"rule {name!r}")
    select = _select(raw.get("select") or {}, here.at(f"rule {name!r} select"))
    if ("metric" in raw) == ("energy" in raw):
        raise here.error("a rule needs exactly one of `metric` and `energy`",
                         "write `metric: accuracy` (task/probe metric) or `energy: j_per_example`")
    if "metric" in raw:
        quantity: Quantity = Metric(here.text(raw["metric"], "metric"))
        if select.scope == "model":
            raise here.error("a metric rule must select tasks or probes",
                             "add `select: {task: \"*\"}` or `select: {probe: NAME}`")
    else:
        quantity = Energy(_energy_name(here.text(raw["energy"], "energy"), here))
    checks = [k for k in ("min", "max", "max_abs_deviation", "baseline") if k in raw]
    kinds = {"min": "bounds", "max": "bounds"}
    if len({kinds.get(k, k) for k in checks}) != 1:
        found = ", ".join(checks) or "none"
        raise here.error(f"a rule needs exactly one check (min/max, max_abs_deviation or baseline), found {found}",
                         "split it into one rule per check")
    check = _check(raw, checks[0], quantity, here, default_underpowered)
    not_measured = here.choice(raw.get("not_measured", default_nm), "not_measured", NOT_MEASURED)
    min_n = here.count(raw.get("min_n", default_min_n), "min_n")
    return Rule(name=name, select=select, quantity=quantity, check=check, min_n=min_n,
                not_measured=not_measured)  # type: ignore[arg-type]


def _select(raw: Any, here: _Where) -> Select:
    here.keys(raw, _SELECT_KEYS, "select")
    values = {k: here.text(raw[k], k) for k in _SELECT_KEYS if k in raw}
    if "task" in values and "probe" in values:
        raise here.error("select takes a task or a probe, not both", "write two rules")
    return Select(**values)


def _energy_name(name: str, here: _Where) -> str:
    if name in ENERGY_FIGURES or (name.startswith(QUALITY_PER_KJ) and len(name) > len(QUALITY_PER_KJ)):
        return name
    raise here.error(f"unknown energy figure {name!r}", did_you_mean(name, [*ENERGY_FIGURES, "quality_per_kj.<metric>"],
                                                                      f"energy figures: {', '.join(ENERGY_FIGURES)}"))


def _check(raw: Mapping, kind: str, quantity: Quantity, here: _Where, default_underpowered: str = "warn") -> Check:
    if kind in ("min", "max"):
        low = here.number(raw["min"], "min") if "min" in raw else None
        high = here.number(raw["max"], "max") if "max" in raw else None
        if low is not None and high is not None and low > high:
            raise here.error(f"`min` {low:g} is above `max` {high:g}", "swap them")
        return Bounds(low, high)
    if kind == "max_abs_deviation":
        sub = here.at(here.where + " max_abs_deviation")
        dev = sub.keys(raw["max_abs_deviation"], _DEVIATION_KEYS, "max_abs_deviation")
        if set(dev) != set(_DEVIATION_KEYS):
            raise sub.error("max_abs_deviation needs `from` and `max`", "write `max_abs_deviation: {from: 50, max: 10}`")
        return Deviation(sub.number(dev["from"], "from"), sub.number(dev["max"], "max", 0))
    sub = here.at(here.where + " baseline")
    base = sub.keys(raw["baseline"], _BASELINE_KEYS, "baseline")
    margins = [k for k in ("max_drop", "max_drop_pct", "max_increase_pct") if k in base]
    if isinstance(quantity, Energy):
        want = "max_drop_pct" if quantity.higher_is_better else "max_increase_pct"
        if margins != [want] or set(base) - {want, "alpha"}:
            raise sub.error(f"an energy baseline rule on {quantity.name} takes `{want}` and optionally `alpha` "
                            "(the level of Welch's test on the repeats)", f"write `baseline: {{{want}: 10}}`")
        alpha = sub.number(base["alpha"], "alpha", 0, 1) if "alpha" in base else 0.05
        if not 0 < alpha < 1:       # p < 0 never holds (the rule could never fail); p < 1 almost always does
            raise sub.error(f"`alpha` must be above 0 and below 1, got {alpha:g}", "write `alpha: 0.05`")
        return BaselineChange(sub.number(base[want], want, 0), quantity.higher_is_better, alpha)
    if len(margins) != 1 or margins[0] == "max_increase_pct":
        raise sub.error(f"a metric baseline rule takes one of `max_drop` and `max_drop_pct`, found "
                        f"{', '.join(margins) or 'none'}",
                        "write `baseline: {max_drop: 0.02}` (a drop means worse, in the metric's direction)")
    judge = sub.choice(base.get("judge", "ci"), "judge", JUDGES)
    alpha = sub.number(base["alpha"], "alpha", 0, 1) if "alpha" in base else None
    if alpha is not None and judge != "test":
        raise sub.error("`alpha` applies only to `judge: test`", "drop `alpha` or write `judge: test`")
    if alpha == 0:
        raise sub.error("`alpha: 0` can never be reached (no p-value is 0)", "write `alpha: 0.05` (or 0.01)")
    underpowered = sub.choice(base.get("underpowered", default_underpowered), "underpowered", UNDERPOWERED)
    margin = margins[0]
    value = sub.number(base[margin], margin, 0)
    return BaselineDrop(**{margin: value}, judge=judge, alpha=alpha, underpowered=underpowered)  # type: ignore[arg-type]


# --- names against what is known --------------------------------------------------------------------

@dataclass(frozen=True)
class Vocabulary:
    """The names a policy may use: literal names, plus fnmatch patterns for families of names
    (e.g. a robustness probe's ``<task>.worst_case_<metric>``)."""
    tasks: frozenset[str]
    probes: frozenset[str]
    task_metrics: frozenset[str]
    probe_metrics: frozenset[str]
    probe_metric_patterns: tuple[str, ...] = ()


def check_names(policy: Policy, known: Vocabulary) -> None:
    """Literal task, probe and metric names must be known ones (a typo would otherwise quietly
    match nothing); globs are not checked. Model names are not: a policy serves many runs."""
    for rule in policy.rules:
        here = _Where(policy.source, f"rule {rule.name!r}")
        select = rule.select
        for kind, name, names in (("task", select.task, known.tasks), ("probe", select.probe, known.probes)):
            if name is not None and not is_glob(name) and name not in names:
                raise here.error(f"unknown {kind} {name!r}", _close(name, names, kind))
        if isinstance(rule.quantity, Metric) and not is_glob(rule.quantity.name):
            name = rule.quantity.name
            if select.scope == "task" and name not in known.task_metrics:
                raise here.error(f"unknown task metric {name!r}", _close(name, known.task_metrics, "task metric"))
            if select.scope == "probe" and name not in known.probe_metrics and \
                    not any(fnmatchcase(name, p) for p in known.probe_metric_patterns):
                raise here.error(f"unknown probe metric {name!r}", _close(name, known.probe_metrics, "probe metric"))


def _close(name: str, known: Iterable[str], kind: str) -> str:
    return did_you_mean(name, known, f"known {kind}s: {', '.join(sorted(known)) or 'none'}")
