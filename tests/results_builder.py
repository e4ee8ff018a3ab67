"""The one builder of results for the tests: typed values (harness.results) with the numbers a test
chooses, so a hand-built results.json is checked by the same types `harness run` writes through.
run_folders.py, gate_fixtures.py and report_synthetic.py build on it; ``.to_json()`` gives the dict
a test writes or edits."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Mapping

from harness.results.comparison import Comparison, PairedStat
from harness.results.energy import Energy
from harness.results.types import SCHEMA_VERSION, ModelResult, ProbeResult, Results, TaskResult
from harness.results.values import NOT_MEASURED, Failure, Figure, MetricValue
from harness.results.verdict import GateVerdict

NO_GPU = "GPU: NVML Shared Library Not Found"
NO_CARBON = "no carbon intensity given: pass --country ISO3 or --carbon-intensity G_PER_KWH"
STARTED = "2026-12-01T10:00:00+00:00"
ENVIRONMENT = {"python": "3.11", "torch": "2.13.0", "transformers": "5.0", "platform": "linux", "cpu": "x",
               "cpu_count": 2, "gpus": []}


def metric(value, n: int | None = 40, ci=None, stderr=None, higher_is_better: bool | None = None,
           reason: str | None = None, **extra) -> MetricValue:
    """A metric value; ``value`` None: not measured with ``reason``. ``ci`` defaults to value ± 0.1."""
    if value is None:
        return MetricValue.not_measured(reason or "no items", n=n or 0, **extra)
    lo, hi = ci if ci is not None else (value - 0.1, value + 0.1)
    fields: dict[str, Any] = {"value": value, "stderr": 0.05 if stderr is None else stderr, "ci95": (lo, hi), "n": n}
    if higher_is_better is not None:
        fields["higher_is_better"] = higher_is_better
    return MetricValue(**fields, **extra)


def figure(value, unit: str = "J", source: str = "estimated", reason: str = NO_GPU, **extra) -> Figure:
    """A measured figure, or (``value`` None) a not-measured one with ``reason``."""
    if value is None:
        return Figure.not_measured(unit, reason)
    return Figure(value=value, unit=unit, source=source, **extra)


def energy(**figures) -> Energy:
    """An energy object: counts (``examples``, ``invocations``) as given, figures as ``Figure`` or
    ``(value, unit[, source])``."""
    fields: dict[str, Any] = {}
    for key, value in figures.items():
        if isinstance(value, tuple):
            value = figure(*value)
        elif key == "quality_per_kj" and isinstance(value, Mapping):
            value = {k: v if isinstance(v, Figure) else figure(*v) for k, v in value.items()}
        fields[key] = value
    return Energy(**fields)


def task(metrics: Mapping[str, MetricValue], kind: str = "multiple_choice", n: int = 40, n_expected: int | None = None,
         complete: bool = True, energy: Energy | None = None, **extra) -> TaskResult:
    fields: dict[str, Any] = {"kind": kind, "n": n, "n_expected": n if n_expected is None else n_expected,
                              "complete": complete, "invalid": {"n": 0, "reasons": {}}, "metrics": dict(metrics)}
    if energy is not None:
        fields["energy"] = energy
    return TaskResult(**fields, **extra)


def probe(name: str, metrics: Mapping[str, MetricValue], n: int = 40, subgroups: Mapping | None = None,
          examples: Iterable[dict] = (), notes: Iterable[str] = (), energy: Energy | None = None,
          **extra) -> ProbeResult:
    fields: dict[str, Any] = {"probe": name, "n": n, "metrics": dict(metrics), "subgroups": dict(subgroups or {}),
                              "examples": list(examples), "notes": list(notes), "invalid": {"n": 0, "reasons": {}}}
    if energy is not None:
        fields["energy"] = energy
    return ProbeResult(**fields, **extra)


def model(spec: str = "tiny-gpt2", kind: str = "hf-causal", tasks: Mapping[str, TaskResult] | None = None,
          probes: Mapping[str, ProbeResult] | None = None, skipped: Mapping[str, str] | None = None,
          energy: Energy | None = None, dtype: str = "float32", device: str = "cpu", **extra) -> ModelResult:
    fields: dict[str, Any] = {"spec": spec, "kind": kind, "dtype": dtype, "device": device, "tasks": dict(tasks or {}),
                              "probes": dict(probes or {}), "skipped": dict(skipped or {})}
    if energy is not None:
        fields["energy"] = energy
    return ModelResult(**fields, **extra)


def failure(model: str, kind: str, piece: str | None = None, error: str = "boom", fix: str = "fix it") -> Failure:
    return Failure(model=model, kind=kind, piece=piece, error=error, fix=fix)


def results(run_id: str = "run-a", models: Mapping[str, ModelResult] | None = None, *, status: str = "complete",
            started: str = STARTED, finished: str | None = None, failures: Iterable[Failure] = (), seed: int = 1234,
            git_sha: str | None = None, argv: Iterable[str] = ("run",), run_energy: Energy | None = None,
            carbon: float | None = 400.0, meters: Mapping | None = None, environment: Mapping | None = None,
            comparison: Comparison | None = None, gate: GateVerdict | None = None, **run_extra) -> Results:
    """A whole results.json, as `harness run` writes it (plus a comparison or gate when given)."""
    intensity = ({"g_per_kwh": carbon, "source": "user", "pue": 1.0} if carbon is not None
                 else {"g_per_kwh": None, "source": NO_CARBON, "pue": 1.0})
    fields: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "run": {"id": run_id, "started": started, "finished": started if finished is None else finished,
                "status": status, "seed": seed, "limit": None, "harness_version": "0.1.0", "git_sha": git_sha,
                "argv": list(argv), "failures": [f.to_json() for f in failures], **run_extra},
        "environment": dict(ENVIRONMENT if environment is None else environment),
        "models": dict(models or {}),
        "energy": {"run": run_energy if run_energy is not None else Energy(), "carbon_intensity": intensity,
                   "meters": dict(meters or {})},
    }
    if comparison is not None:
        fields["comparison"] = comparison
    if gate is not None:
        fields["gate"] = gate
    return Results.model_validate(fields)


def stat(baseline, other, ci, n: int = 40, p_holm: float | None = 0.5, significant: bool = False,
         higher_is_better: bool = True, test: str | None = "mcnemar_exact", too_few_items: bool = False,
         reason: str | None = None, discordant: Mapping | None = None, delta: float | None = None,
         **extra) -> PairedStat:
    """A paired statistic of the comparison (other None: not measured, with ``reason``)."""
    if other is None or reason is not None:
        return PairedStat(baseline=baseline, other=None, delta=None, ci95=(None, None), n=n, test=None, p_value=None,
                          p_holm=None, significant=False, too_few_items=too_few_items,
                          higher_is_better=higher_is_better, reason=reason or "no paired items", **extra)
    return PairedStat(baseline=baseline, other=other, delta=other - baseline if delta is None else delta,
                      ci95=tuple(ci), n=n, test=test, p_value=p_holm, p_holm=p_holm, significant=significant,
                      too_few_items=too_few_items, discordant=discordant, higher_is_better=higher_is_better, **extra)


def comparison(models: Mapping[str, Mapping], baseline: str, source: str = "runs",
               runs: Mapping[str, Mapping] | None = None, n_paired: Mapping[str, int] | None = None) -> Comparison:
    """``models``: other -> {tasks, probes, cost, flipped, ...} as the comparison holds them."""
    return Comparison.model_validate({
        "baseline": baseline, "source": source, "runs": dict(runs or {}),
        "pairing": {"key": "task, id, sha256(input), sha256(reference)", "mode": "exact",
                    "n_paired": dict(n_paired or {}), "dropped": {}},
        "models": {name: dict(entry) for name, entry in models.items()}})


def verdict(rules: Iterable[Mapping], verdict: str = "fail", policy: str = "gate.yaml", baseline: str | None = None,
            evaluated: str = STARTED) -> GateVerdict:
    rules = [dict(r) for r in rules]
    counts = {v: sum(r["verdict"] == v for r in rules) for v in ("pass", "fail", "warn", "skip")}
    return GateVerdict.model_validate({"verdict": verdict, "policy": policy, "policy_sha256": "ab" * 32,
                                       "baseline": baseline, "evaluated": evaluated, "counts": counts, "rules": rules})


def write(folder: Path, data: Results | dict, samples: str | None = "") -> Path:
    """``data`` as FOLDER/results.json (and an empty samples.jsonl unless ``samples`` is None)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    raw = data.to_json() if isinstance(data, Results) else data
    (folder / "results.json").write_text(json.dumps(raw), encoding="utf-8")
    if samples is not None:
        (folder / "samples.jsonl").write_text(samples, encoding="utf-8")
    return folder


__all__ = ["metric", "figure", "energy", "task", "probe", "model", "failure", "results", "stat", "comparison",
           "verdict", "write", "NO_GPU", "NO_CARBON", "NOT_MEASURED"]
