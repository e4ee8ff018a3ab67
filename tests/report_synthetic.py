"""Results for the report tests, made by the typed builder (results_builder.py): N tasks x M models,
probes with subgroups, a "comparison" and a "gate", telemetry rows with GPU samples and throttling."""
from __future__ import annotations

import random

import results_builder as rb

PAYLOADS = ['<script>alert(1)</script>', '<img src=x onerror=alert(2)>', '"><svg onload=alert(3)>']
NO_CARBON = rb.NO_CARBON


def _m(value, hib=True, n=50, width=0.05):
    return rb.metric(value, n=n, ci=(value - width, value + width), stderr=width / 2, higher_is_better=hib)


def _fig(value, unit, source="estimated"):
    return rb.figure(value, unit, source)


def _energy(joules, n):
    return rb.energy(duration_s=_fig(joules / 30, "s", "clock"),
                     total_energy_j=rb.figure(joules, "J", "nvml_energy_counter", includes=["gpu", "cpu", "ram"]),
                     gpu_energy_j=_fig(joules * 0.7, "J", "nvml_energy_counter"), cpu_energy_j=_fig(joules * 0.2, "J"),
                     ram_energy_j=_fig(joules * 0.1, "J"), j_per_example=_fig(joules / n, "J/example", "nvml_energy_counter"),
                     gpu_power_mean_w=_fig(210.0, "W", "nvml_energy_counter"),
                     gco2e=rb.figure(None, "gCO2e", reason=NO_CARBON),
                     gco2e_per_1000_examples=rb.figure(None, "gCO2e/1000 examples", reason=NO_CARBON),
                     throttle_s={"sw_thermal_slowdown": _fig(1.25, "s", "nvml_clock_event_reasons")}, short_window=False)


def _probes(k: int) -> dict:
    robustness = rb.probe(
        "robustness", {"fail_rate": _m(0.2 + 0.01 * k, hib=False)}, n=120,
        subgroups={f"task_00/{p}": {"fail_rate": _m(0.1 * (i + 1), hib=False).to_json(), "inputs": 40, "severity": 0.2}
                   for i, p in enumerate(("homoglyphs", "zero_width", "bidi"))},
        examples=[{"task": "task_00", "perturbation": "zero_width", "original": "What does the crow say?",
                   "perturbed": "What\u200b does the cr\u043ew say\u202e?\u202c", "clean_prediction": "caw",
                   "perturbed_prediction": PAYLOADS[2]}],
        notes=["fail_rate counts only inputs the perturbation changed"], energy=_energy(900.0, 120))
    counterfactual = rb.probe(
        "counterfactual", {"flip_rate": _m(0.05)}, n=80,
        subgroups={axis: {"flip_rate": _m(0.05).to_json(), "mean_score_shift": _m(-0.02 * (i + 1), width=0.015).to_json(),
                          "pairs": 20, "p_value_shift": 0.42959050784338615 / (i + 1) ** 3,
                          "p_value_shift_holm": min(1.0, 0.42959050784338615 * 4 / (i + 1) ** 4)}
                   for i, axis in enumerate(("gender", "names", "religion", "nationality"))},
        energy=_energy(300.0, 80))
    return {"robustness": robustness, "counterfactual": counterfactual}


def _comparison(models, n_tasks: int):
    baseline = models[0]

    def stat(d, sig, **kw):
        return {**rb.stat(0.9, 0.9 + d, (d - 0.02, d + 0.02), n=50, p_holm=0.004 if sig else 1.0, significant=sig,
                          discordant={"baseline_only": 6, "other_only": 1}, delta=d, **kw).to_json(), "p_value": 0.001 if sig else 0.43}
    flipped = {"fixed": 1, "broken": 6, "items": [
        {"task": "task_00", "id": f"q{i}", "input": f"Question {i}: {PAYLOADS[i % 3]}", "reference": "caw",
         "baseline_prediction": "caw", "other_prediction": PAYLOADS[(i + 1) % 3],
         "direction": "broken" if i else "fixed"} for i in range(7)]}
    entries = {m: {"tasks": {f"task_{t:02d}": {"accuracy": stat(-0.03 * k if t == 0 else -0.001, t == 0)}
                             for t in range(n_tasks)},
                   "probes": {"robustness": {"fail_rate": stat(0.01, False, higher_is_better=False)}},
                   "cost": {"j_per_example": {"baseline": 3.3, "other": 3.3 - 0.2 * k, "ratio": (3.3 - 0.2 * k) / 3.3,
                                              "source": "nvml"},
                            "latency_s_per_example": {"baseline": 0.1, "other": 0.08, "ratio": 0.8, "source": "clock"},
                            "peak_memory_bytes": {"baseline": None, "other": None, "ratio": None, "source": "",
                                                  "reason": "peak memory is only recorded on CUDA"}},
                   "flipped": flipped}
               for k, m in enumerate(models) if m != baseline}
    return rb.comparison(entries, baseline, source="run", runs={m: {"run_id": "r1", "model": m} for m in models},
                         n_paired={f"task_{t:02d}": 50 for t in range(n_tasks)})


def synthetic(n_tasks: int = 30, models=("full", "fp16", "bf16", "int8", "pruned"), seed: int = 0) -> dict:
    rng = random.Random(seed)
    out_models = {}
    for k, model in enumerate(models):
        tasks = {f"task_{t:02d}": rb.task({"accuracy": _m(acc), "f1_macro": _m(acc - 0.02)},
                                          kind="generate" if t % 3 else "multiple_choice", n=50,
                                          energy=_energy(100.0 + 10 * t - 12 * k + rng.random(), 50))
                 for t in range(n_tasks) for acc in [round(0.9 - 0.03 * k - 0.01 * t % 0.3, 4)]}
        out_models[model] = rb.model(f"{model}=tiny-gpt2", "hf-causal", tasks=tasks, probes=_probes(k),
                                     skipped={"probe:weat": "WEAT/SEAT need sentence embeddings; hf-causal models here give none"},
                                     energy=_energy(5000.0 - 300 * k, 1500),
                                     dtype=["float32", "float16", "bfloat16", "float32", "float32"][k % 5], device="cuda:0",
                                     parameters=2643200, quantize="int8-dynamic" if model == "int8" else None,
                                     prune=0.3 if model == "pruned" else None)
    gate = rb.verdict([{"name": "accuracy floor", "target": f"{models[1]}/task_00/accuracy", "value": 0.87,
                        "threshold": ">= 0.5", "verdict": "pass", "reason": "0.87 >= 0.5"},
                       {"name": "no regression", "target": f"{models[-1]}/task_00/accuracy", "value": -0.12,
                        "threshold": "delta CI lower >= -0.02", "verdict": "fail", "reason": "delta CI lower -0.14 < -0.02"},
                       {"name": "energy", "target": f"{models[1]}/energy/j_per_example", "value": 3.1, "threshold": "<= 4",
                        "verdict": "warn", "reason": "within 10% of the limit"}],
                      policy="policies/release.yaml", baseline="r0", evaluated="2026-12-01T12:00:00+00:00")
    gate = gate.model_copy(update={"counts": {"pass": 3, "fail": 1, "warn": 1, "skip": 0}})
    return rb.results(
        "synthetic-run", out_models, status="complete with errors", started="2026-12-01T12:00:00+00:00",
        finished="2026-12-01T12:30:00+00:00", failures=[rb.failure(models[-1], "probe", "bbq", "CUDA out of memory",
                                                                  "lower --batch-size")],
        environment={"python": "3.11", "torch": "2.13.0", "transformers": "5.24", "platform": "Linux", "cpu": "AMD EPYC",
                     "cpu_count": 16, "gpus": ["NVIDIA H200"]},
        run_energy=_energy(25000.0, 7500), carbon=None,
        meters={"gpu": {"gpus": [{"index": 0, "name": "NVIDIA H200", "enforced_power_limit_w": 700.0,
                                  "persistence_mode": "enabled"}], "driver_version": "570.86"},
                "host": {"source": "rapl", "description": "RAPL package-0 and dram"}, "startup_s": 2.5},
        comparison=_comparison(models, n_tasks), gate=gate).to_json()


def telemetry(models=("full", "fp16"), n_tasks: int = 30, step: float = 0.5) -> list[dict]:
    """begin/end rows for every task and probe window, GPU samples with a throttled stretch."""
    rows, t = [], 1_000_000.0
    blank = {k: "" for k in ("gpu", "power_w", "sm_clock_mhz", "temp_c", "clock_event_reasons", "cpu_power_w", "cpu_power_source")}
    def window(path, length):
        nonlocal t
        rows.append({**blank, "unix_time": str(t), "event": "begin", "window": path})
        end = t + length
        while t < end:
            throttled = 40 < t - 1_000_000 < 50
            rows.append({**blank, "unix_time": str(t), "event": "sample", "window": "", "gpu": "0", "power_w": str(200 + 40 * (t % 3)),
                         "sm_clock_mhz": str(1500 if throttled else 1980), "temp_c": str(60 + (t - 1_000_000) / 10),
                         "clock_event_reasons": "sw_thermal_slowdown" if throttled else "", "cpu_power_w": "35", "cpu_power_source": "rapl"})
            t += step
        rows.append({**blank, "unix_time": str(t), "event": "end", "window": path})
    for m in models:
        for k in range(n_tasks):
            window(f"run:r/model:{m}/task:task_{k:02d}", 0.5 + (k % 4))
        for p, length in (("robustness", 30), ("counterfactual", 8)):
            window(f"run:r/model:{m}/probe:{p}", length)
    return rows
