"""A small results.json for the gate's tests (two models, tasks, probes, energy), made by the typed
builder (results_builder.py); ``results(**changes)`` gives a copy as the dict a test edits and writes."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import results_builder as rb


def metric(value, n=40, ci=None, higher_is_better=True, reason=None) -> dict:
    return rb.metric(value, n=n, ci=ci, higher_is_better=None if value is None else higher_is_better,
                     reason=reason).to_json()


def figure(value, unit, source="estimated") -> dict:
    return rb.figure(value, unit, source, reason=source).to_json()


def _energy(j_per_example=2.0, examples=40, gco2e_per_1000=0.5, source="estimated"):
    total = None if j_per_example is None else j_per_example * examples
    return rb.energy(duration_s=(3.0, "s", "clock"), invocations=1, examples=examples,
                     total_energy_j=rb.figure(total, "J", source, reason=source),
                     j_per_example=rb.figure(j_per_example, "J/example", source, reason=source),
                     gco2e_per_1000_examples=rb.figure(gco2e_per_1000, "gCO2e/1000 examples", source, reason=source),
                     quality_per_kj={"accuracy": rb.figure(7.5, "accuracy/kJ", source)})


def energy(j_per_example=2.0, examples=40, gco2e_per_1000=0.5, source="estimated") -> dict:
    return _energy(j_per_example, examples, gco2e_per_1000, source).to_json()


def _task(metrics: dict, n=40):
    return rb.task(metrics, n=n, energy=_energy(examples=n))


def _probe(name: str, metrics: dict, n=40):
    return rb.probe(name, metrics, n=n, energy=_energy(examples=n))


def _base():
    def m(value, **kw):
        return rb.metric(value, higher_is_better=True, **kw)
    return rb.results("run-a", {
        "tiny-gpt2": rb.model("tiny-gpt2", "hf-causal", parameters=2643200, batch_size=64,
                              skipped={"topic": "the model cannot classify"},
                              tasks={"facts_mc": _task({"accuracy": m(0.6),
                                                        "accuracy_norm": m(0.6)})},
                              probes={"crows_pairs": _probe("crows_pairs", {"stereotype_preference_pct": m(53.6, n=120)}),
                                      "robustness": _probe("robustness", {"fail_rate": m(0.4),
                                                                         "facts_mc.worst_case_accuracy": m(0.3)})},
                              energy=_energy(j_per_example=2.0, examples=160)),
        "minilm": rb.model("minilm", "encoder", parameters=22700000, batch_size=64,
                           skipped={"facts_mc": "the model cannot score choices"},
                           tasks={"topic": _task({"accuracy": m(0.975),
                                                  "f1_macro": m(0.97)})},
                           probes={"word_substitution_attack": _probe("word_substitution_attack",
                                                                      {"attack_success_rate": m(0.2)}),
                                   "counterfactual": _probe("counterfactual", {"flip_rate": m(0.0)})},
                           energy=_energy(j_per_example=1.0, examples=80)),
    }, finished="2026-12-01T10:05:00+00:00", run_energy=_energy(j_per_example=1.5, examples=240))


BASE = _base().to_json()


def results(**changes) -> dict:
    """A copy of BASE; ``changes`` maps /-separated paths to new values (None deletes)."""
    out = copy.deepcopy(BASE)
    for path, value in changes.items():
        *parents, last = path.split("/")
        node = out
        for key in parents:
            node = node[key]
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return out


def write_run(folder: Path, data: dict) -> Path:
    return rb.write(folder, data)


def stat(baseline, other, ci, n=40, p_holm=0.5, significant=False, higher_is_better=True, test="mcnemar_exact",
         too_few_items=False, reason=None):
    return rb.stat(baseline, other, ci, n=n, p_holm=p_holm, significant=significant, higher_is_better=higher_is_better,
                   test=test, too_few_items=too_few_items, reason=reason)


def comparison(tasks: dict | None = None, probes: dict | None = None, model="tiny-gpt2"):
    return rb.comparison({model: {"tasks": tasks or {}, "probes": probes or {}, "flipped": {"fixed": 0, "broken": 0}}},
                         baseline=model, runs={model: {"run_id": "run-b", "model": model}})


__all__ = ["BASE", "results", "write_run", "metric", "figure", "energy", "stat", "comparison", "json"]
