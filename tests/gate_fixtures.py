"""Small hand-written results.json dicts (the shape `harness run` writes) for the gate's tests."""
from __future__ import annotations

import copy
import json
from pathlib import Path


def metric(value, n=40, ci=None, higher_is_better=True, reason=None) -> dict:
    if value is None:
        return {"value": None, "stderr": None, "ci95": [None, None], "n": n, "not_measured": reason or "no items"}
    lo, hi = ci or (value - 0.1, value + 0.1)
    return {"value": value, "stderr": 0.05, "ci95": [lo, hi], "n": n, "higher_is_better": higher_is_better}


def figure(value, unit, source="estimated") -> dict:
    if value is None:
        return {"value": None, "unit": unit, "source": "not_measured", "reason": source}
    return {"value": value, "unit": unit, "source": source}


def energy(j_per_example=2.0, examples=40, gco2e_per_1000=0.5, source="estimated") -> dict:
    total = None if j_per_example is None else j_per_example * examples
    return {"duration_s": {"value": 3.0, "unit": "s", "source": "clock"}, "invocations": 1, "examples": examples,
            "total_energy_j": figure(total, "J", source),
            "j_per_example": figure(j_per_example, "J/example", source),
            "gco2e_per_1000_examples": figure(gco2e_per_1000, "gCO2e/1000 examples", source),
            "quality_per_kj": {"accuracy": figure(7.5, "accuracy/kJ", source)}}


def task(metrics: dict, n=40, **energy_kw) -> dict:
    return {"kind": "multiple_choice", "n": n, "n_expected": n, "complete": True, "invalid": {"n": 0, "reasons": {}},
            "metrics": metrics, "energy": energy(examples=n, **energy_kw)}


def probe(name: str, metrics: dict, n=40) -> dict:
    return {"probe": name, "n": n, "metrics": metrics, "subgroups": {}, "examples": [], "notes": [],
            "invalid": {"n": 0, "reasons": {}}, "energy": energy(examples=n)}


BASE = {
    "schema_version": 1,
    "run": {"id": "run-a", "started": "2026-12-01T10:00:00+00:00", "finished": "2026-12-01T10:05:00+00:00",
            "status": "complete", "seed": 1234, "limit": None, "harness_version": "0.1.0", "git_sha": None,
            "argv": ["run"], "failures": []},
    "environment": {"python": "3.11", "torch": "2.13.0", "transformers": "5.0", "platform": "linux", "cpu": "x",
                    "cpu_count": 2, "gpus": []},
    "models": {
        "tiny-gpt2": {
            "spec": "tiny-gpt2", "kind": "hf-causal", "dtype": "float32", "device": "cpu", "parameters": 2643200,
            "batch_size": 64, "skipped": {"topic": "the model cannot classify"},
            "tasks": {"facts_mc": task({"accuracy": metric(0.6), "accuracy_norm": metric(0.6)})},
            "probes": {"crows_pairs": probe("crows_pairs", {"stereotype_preference_pct": metric(53.6, n=120)}),
                       "robustness": probe("robustness", {"fail_rate": metric(0.4),
                                                          "facts_mc.worst_case_accuracy": metric(0.3)})},
            "energy": energy(j_per_example=2.0, examples=160),
        },
        "minilm": {
            "spec": "minilm", "kind": "encoder", "dtype": "float32", "device": "cpu", "parameters": 22700000,
            "batch_size": 64, "skipped": {"facts_mc": "the model cannot score choices"},
            "tasks": {"topic": task({"accuracy": metric(0.975), "f1_macro": metric(0.97)})},
            "probes": {"word_substitution_attack": probe("word_substitution_attack",
                                                         {"attack_success_rate": metric(0.2)}),
                       "counterfactual": probe("counterfactual", {"flip_rate": metric(0.0)})},
            "energy": energy(j_per_example=1.0, examples=80),
        },
    },
    "energy": {"run": energy(j_per_example=1.5, examples=240), "carbon_intensity": {"g_per_kwh": 400.0, "source": "user", "pue": 1.0},
               "meters": {}},
}


def results(**changes) -> dict:
    """A copy of BASE; ``changes`` maps dotted paths to new values (None deletes)."""
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
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(data))
    (folder / "samples.jsonl").write_text("")
    return folder


def stat(baseline, other, ci, n=40, p_holm=0.5, significant=False, higher_is_better=True, test="mcnemar_exact",
         too_few_items=False) -> dict:
    return {"baseline": baseline, "other": other, "delta": None if other is None else other - baseline,
            "ci95": list(ci), "n": n, "test": test, "p_value": p_holm, "p_holm": p_holm, "significant": significant,
            "too_few_items": too_few_items, "discordant": None, "higher_is_better": higher_is_better}


def comparison(tasks: dict | None = None, probes: dict | None = None, model="tiny-gpt2") -> dict:
    return {"baseline": model, "source": "runs", "runs": {model: {"run_id": "run-b", "model": model}},
            "pairing": {"key": "task, id, sha256(input), sha256(reference)", "mode": "exact", "n_paired": {},
                        "dropped": {}},
            "models": {model: {"tasks": tasks or {}, "probes": probes or {}, "cost": {}, "flipped": {"fixed": 0,
                                                                                                  "broken": 0,
                                                                                                  "items": []}}}}
