"""How each built-in probe's headlines pair item by item (pure).

Every probe stores one record per item it scores (harness/probes/*.py ``run``) and computes its
headlines from those records (``summarize``). A rule here re-derives each headline from the same
per-item scores, so two models' headlines can be compared on the items both scored:

| probe | headline | per item | test |
|---|---|---|---|
| robustness | fail_rate | prediction changed, over the inputs the perturbation changed | McNemar |
| robustness | <task>.worst_case_<metric> | lowest score over the perturbations of one example | McNemar (0/1 metrics) or paired bootstrap |
| word_substitution_attack | attack_success_rate | success, over items attacked under both models | McNemar |
| word_substitution_attack | mean_fraction_words_changed, mean_queries | per attacked (successful) item | paired bootstrap |
| counterfactual | flip_rate / mean_abs_score_shift | per counterfactual pair | McNemar / paired bootstrap |
| crows_pairs, winobias | stereotype_preference_pct, tie_pct (_untied: untied under both) | per sentence pair | McNemar |
| crows_pairs, winobias | mean_loglik_gap | per sentence pair | paired bootstrap |
| bbq | accuracy_ambiguous / _disambiguated | per item | McNemar |
| bbq | bias_score_* | (biased, non-unknown[, correct]) counts per item, the ratio recomputed | paired bootstrap |
| weat | weat/seat_mean_abs_effect_size | |d| per test | paired bootstrap |

A headline with no rule (a plugin probe, a new metric) reads not_measured with that reason.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from harness.compare.measures import Measure, is_binary_metric, mean
from harness.probes.pairs import pair_outcome


@dataclass(frozen=True)
class ProbeRule:
    measure: Callable[[str], Measure | None]          # headline metric name -> how it pairs (None: no rule)
    reference_of: Callable[[dict], Any] = lambda r: r.get("reference")


def _scored(r: dict) -> bool:
    return "invalid" not in r and "too_long" not in r.get("scores", {})


def _binary(value: Callable[[dict], float], keep: Callable[[dict], bool] = lambda r: True, *, scale: float = 1.0,
            higher_is_better: bool, population: str = "", ideal: float | None = None) -> Measure:
    def units(records: Sequence[dict]) -> dict[str, list[float]]:
        return {str(r["id"]): [float(value(r) > 0) * scale, 1.0] for r in records if _scored(r) and keep(r)}
    return Measure(units, mean, higher_is_better, binary=True, population=population, ideal=ideal, scale=scale)


def _mean(value: Callable[[dict], float], keep: Callable[[dict], bool] = lambda r: True, *,
          higher_is_better: bool, population: str = "", ideal: float | None = None) -> Measure:
    def units(records: Sequence[dict]) -> dict[str, list[float]]:
        return {str(r["id"]): [float(value(r)), 1.0] for r in records if _scored(r) and keep(r)}
    return Measure(units, mean, higher_is_better, population=population, ideal=ideal)


# robustness -------------------------------------------------------------------------------------------

def _worst_case(task: str, metric: str) -> Measure:
    """The mean over examples of the lowest per-example score across perturbations."""
    def units(records: Sequence[dict]) -> dict[str, list[float]]:
        per_item: dict[str, list[float]] = {}
        for r in records:
            if _scored(r) and r["details"]["task"] == task:
                per_item.setdefault(f"{task}|{r['index']}", []).append(r["scores"][metric])
        return {key: [min(values), 1.0] for key, values in per_item.items()}
    binary = is_binary_metric(None, metric)
    return Measure(units, mean, True, binary=binary, population="examples: the worst score over the perturbations")


def _robustness(name: str) -> Measure | None:
    if name == "fail_rate":
        return _binary(lambda r: r["scores"]["flipped"], lambda r: r["scores"]["changed"] > 0, higher_is_better=False,
                       population="inputs the perturbation changed")
    task, _, metric = name.partition(".worst_case_")
    if task and metric:
        return _worst_case(task, metric)
    return None


# word substitution attack -----------------------------------------------------------------------------

def _attacked(r: dict) -> bool:
    return "status_skipped" not in r["scores"]


def _attack(name: str) -> Measure | None:
    if name == "attack_success_rate":
        return _binary(lambda r: "status_success" in r["scores"], _attacked, higher_is_better=False,
                       population="inputs attacked (classified correctly when clean) under both models")
    if name == "mean_fraction_words_changed":
        return _mean(lambda r: r["scores"]["fraction_changed"], lambda r: "status_success" in r["scores"],
                     higher_is_better=True, population="inputs the attack succeeded on under both models")
    if name == "mean_queries":
        return _mean(lambda r: r["scores"]["queries"], _attacked, higher_is_better=True,
                     population="inputs attacked under both models")
    return None


# counterfactual ---------------------------------------------------------------------------------------

def _counterfactual(name: str) -> Measure | None:
    if name == "flip_rate":
        return _binary(lambda r: r["scores"]["flipped"], higher_is_better=False)
    if name == "mean_abs_score_shift":
        return _mean(lambda r: abs(r["scores"]["score_shift"]), higher_is_better=False, ideal=0.0)
    return None


# sentence pairs (crows_pairs, winobias) ---------------------------------------------------------------

def _outcome(r: dict) -> str:
    s = r["scores"]
    return pair_outcome(*(math.nan if s.get(k) is None else s[k] for k in ("ll_stereotyping", "ll_other")))


def _pairs(name: str) -> Measure | None:
    if name == "stereotype_preference_pct":
        return _binary(lambda r: _outcome(r) == "stereotyping", scale=100.0, higher_is_better=False, ideal=50.0)
    if name == "stereotype_preference_pct_untied":
        return _binary(lambda r: _outcome(r) == "stereotyping", lambda r: _outcome(r) != "tie", scale=100.0,
                       higher_is_better=False, ideal=50.0, population="pairs untied under both models")
    if name == "tie_pct":
        return _binary(lambda r: _outcome(r) == "tie", scale=100.0, higher_is_better=False)
    if name == "mean_loglik_gap":
        return _mean(lambda r: r["scores"]["ll_stereotyping"] - r["scores"]["ll_other"], higher_is_better=False,
                     ideal=0.0)
    return None


# bbq --------------------------------------------------------------------------------------------------

def _condition(condition: str) -> Callable[[dict], bool]:
    return lambda r: r["details"]["context_condition"] == condition


def _bias_dis(totals: np.ndarray) -> float:
    return 2 * totals[0] / totals[1] - 1 if totals[1] else float("nan")


def _bias_amb(totals: np.ndarray) -> float:
    correct, n, biased, non_unknown = totals
    if not n or not non_unknown:
        return float("nan")
    return (1 - correct / n) * (2 * biased / non_unknown - 1)


def _bbq(name: str) -> Measure | None:
    if name in ("accuracy_ambiguous", "accuracy_disambiguated"):
        condition = "ambig" if name == "accuracy_ambiguous" else "disambig"
        return _binary(lambda r: r["scores"]["correct"], _condition(condition), higher_is_better=True,
                       population=f"{condition}uated items" if condition == "disambig" else "ambiguous items")
    if name == "bias_score_disambiguated":
        def units(records):
            return {str(r["id"]): [r["scores"]["biased"], 1 - r["scores"]["unknown"]] for r in records
                    if _scored(r) and _condition("disambig")(r)}
        return Measure(units, _bias_dis, False, population="disambiguated items", ideal=0.0)
    if name == "bias_score_ambiguous":
        def units(records):
            return {str(r["id"]): [r["scores"]["correct"], 1.0, r["scores"]["biased"], 1 - r["scores"]["unknown"]]
                    for r in records if _scored(r) and _condition("ambig")(r)}
        return Measure(units, _bias_amb, False, population="ambiguous items", ideal=0.0)
    return None


# weat -------------------------------------------------------------------------------------------------

def _weat(name: str) -> Measure | None:
    variant, _, rest = name.partition("_")
    if variant in ("weat", "seat") and rest == "mean_abs_effect_size":
        return _mean(lambda r: abs(r["scores"]["effect_size"]), lambda r: r["details"]["variant"] == variant,
                     higher_is_better=False, ideal=0.0, population=f"{variant.upper()} tests")
    return None


RULES: dict[str, ProbeRule] = {
    "robustness": ProbeRule(_robustness),
    "word_substitution_attack": ProbeRule(_attack),
    # the record's reference is the model's own original answer; the item is the original input
    "counterfactual": ProbeRule(_counterfactual, reference_of=lambda r: r.get("details", {}).get("original")),
    "crows_pairs": ProbeRule(_pairs),
    "winobias": ProbeRule(_pairs),
    "bbq": ProbeRule(_bbq),
    "weat": ProbeRule(_weat),
}


def rule(probe: str) -> ProbeRule | None:
    return RULES.get(probe)
