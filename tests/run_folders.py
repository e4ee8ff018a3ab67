"""Run folders (results.json + run.json + telemetry.csv) for the history and export tests: results
made by the typed builder (results_builder.py), with the numbers a test chooses."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import results_builder as rb
from harness.results.verdict import GateVerdict

TASK_PRINT = {"data": "d" * 64, "prompt": "p" * 64, "config": "c" * 64}
PROBE_PRINT = {"data": "e" * 64, "config": "f" * 64}


def figure(value, unit="J", source="estimated"):
    return rb.figure(value, unit, source)


def energy(total, per_example, gco2e, examples=8):
    return rb.energy(duration_s=(2.5, "s", "clock"), invocations=1, examples=examples, total_energy_j=figure(total),
                     j_per_example=figure(per_example, "J/example"), gco2e=figure(gco2e, "gCO2e"),
                     gpu_energy_j=figure(None), cpu_energy_j=figure(None if total is None else total * 0.25),
                     ram_energy_j=figure(None if total is None else total * 0.75))


def results(run_id: str, started: str, accuracy=(0.5, 0.25, 0.75), model: str = "tiny-gpt2", task: str = "facts_mc",
            j_per_example=1.5, gate: dict | None = None) -> dict:
    value, lo, hi = accuracy
    models = {model: rb.model(
        "tiny-gpt2", "hf-causal",
        tasks={task: rb.task({"accuracy": rb.metric(value, n=8, ci=(lo, hi), stderr=0.1, higher_is_better=True)},
                             n=8, energy=energy(12.0, j_per_example, 0.001))},
        probes={"bbq": rb.probe("bbq", {"accuracy_ambiguous": rb.metric(0.45, ci=(0.39, 0.51), stderr=0.03),
                                        "s_dis": rb.metric(None, n=0, reason="no disambiguated item fits")},
                                energy=energy(20.0, 0.5, 0.002, examples=40))},
        energy=energy(33.0, 0.7, 0.003, examples=48))}
    return rb.results(run_id, models, started=started, git_sha="abc123" + run_id[-4:], argv=(), carbon=300.0,
                      run_energy=energy(35.0, 0.73, 0.0031, examples=48),
                      gate=None if gate is None else GateVerdict.model_validate(gate)).to_json()


def run_json(run_id: str, started: str, model: str = "tiny-gpt2", task: str = "facts_mc", task_print=None) -> dict:
    return {"id": run_id, "started": started, "argv": [],
            "spec": {"models": [{"name": model, "adapter": "tiny-gpt2", "location": "", "options": {}}]},
            "models": {model: {"spec": "tiny-gpt2"}},
            "fingerprints": {"task": {task: task_print or TASK_PRINT}, "probe": {"bbq": PROBE_PRINT}}}


def make_run(root: Path, run_id: str, started: str, task_print=None, telemetry: str | None = None, **kw) -> Path:
    folder = Path(root) / run_id
    folder.mkdir(parents=True)
    model, task = kw.get("model", "tiny-gpt2"), kw.get("task", "facts_mc")
    (folder / "results.json").write_text(json.dumps(results(run_id, started, **kw)), encoding="utf-8")
    (folder / "run.json").write_text(json.dumps(run_json(run_id, started, model, task, task_print)), encoding="utf-8")
    if telemetry is not None:
        (folder / "telemetry.csv").write_text(telemetry, encoding="utf-8")
    return folder


def in_process(capsys, *args: str) -> SimpleNamespace:
    """`harness ARGS` through cli.main in this process (fast: the libraries are imported once)."""
    from harness.cli import main
    capsys.readouterr()
    code = main(list(args))
    out = capsys.readouterr()
    return SimpleNamespace(returncode=code, stdout=out.out, stderr=out.err)
