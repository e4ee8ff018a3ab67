"""A run's headline figures as Prometheus metrics (prometheus-client), for node_exporter's textfile
collector (`write_textfile`) or a Pushgateway (`push`).

Metric families (every one a gauge; labels in braces):

* ``harness_task_metric{model,task,metric}`` and ``_ci95_lower`` / ``_ci95_upper``, ``harness_task_examples{model,task}``
* ``harness_probe_metric{model,probe,metric}`` and ``_ci95_lower`` / ``_ci95_upper``
* ``harness_{run,model,task,probe}_energy_joules``, ``..._energy_joules_per_example`` and
  ``..._carbon_gco2e`` (grams CO2e), each with ``source`` (nvml_energy_counter, rapl, estimated, ...)
  and the labels of its level (run: none; model: model; task: model,task; probe: model,probe).
  One family per level, so that summing a family never counts a joule twice.
  ``harness_{run,model,task,probe}_device_energy_joules{...,device,source}``: the GPU, CPU and RAM parts
  (device gpu, cpu, ram).
* ``harness_run_duration_seconds``, ``harness_run_examples``, ``harness_run_info{run,status,git_sha,harness_version} 1``,
  ``harness_run_finished_timestamp_seconds``
* ``harness_gate_pass`` (1 pass, 0 fail) and ``harness_gate_rules{verdict}``, only when results.json has a gate verdict.
* ``harness_not_measured{model,target,figure,reason} 1`` for every figure above that reads not_measured
  (target: "run", "model", "task:NAME" or "probe:NAME"; model "" for the run). Such a figure is left out of its
  own family, never exported as 0; ``sum(harness_not_measured)`` counts them.
"""
from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

from prometheus_client import CollectorRegistry, Gauge

from harness.errors import HarnessError
from harness.history.entry import missing_energy

ENERGY = (("total_energy_j", "energy_joules", "Energy used (J)"),
          ("j_per_example", "energy_joules_per_example", "Energy per example (J)"),
          ("gco2e", "carbon_gco2e", "Carbon emitted (grams CO2e)"))
DEVICES = ("gpu", "cpu", "ram")
LEVELS = {"run": (), "model": ("model",), "task": ("model", "task"), "probe": ("model", "probe")}


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _reason(obj: Any) -> str:
    if not isinstance(obj, dict):
        return "not recorded"
    return str(obj.get("not_measured") or obj.get("reason") or "not recorded")


class _Families:
    def __init__(self, registry: CollectorRegistry):
        self.registry = registry
        self._gauges: dict[str, Gauge] = {}

    def gauge(self, name: str, doc: str, labels: tuple[str, ...]) -> Gauge:
        if name not in self._gauges:
            self._gauges[name] = Gauge(name, doc, labels, registry=self.registry)
        return self._gauges[name]

    def set(self, name: str, doc: str, labels: dict[str, str], value: float) -> None:
        gauge = self.gauge(name, doc, tuple(labels))
        (gauge.labels(**labels) if labels else gauge).set(value)


def build_registry(results: dict, models: Iterable[str] | None = None, run_level: bool = True) -> CollectorRegistry:
    """The run's figures in a new registry: every model's (``models=None``) or those named; the
    run-level families only when ``run_level``."""
    registry = CollectorRegistry()
    f = _Families(registry)
    missing = f.gauge("harness_not_measured", "A figure that could not be measured (left out of its family), by reason",
                      ("model", "target", "figure", "reason"))

    def not_measured(model_name: str, target: str, figure: str, obj: Any) -> None:
        missing.labels(model=model_name, target=target, figure=figure, reason=_reason(obj)).set(1)

    def energy(level: str, labels: dict[str, str], target: str, obj: Any) -> None:
        obj = obj if isinstance(obj, dict) else {}
        for key, suffix, doc in ENERGY:
            fig = obj.get(key)
            value = _num(fig.get("value")) if isinstance(fig, dict) else None
            if value is None:
                not_measured(labels.get("model", ""), target, f"harness_{level}_{suffix}",
                             fig if isinstance(fig, dict) else {"not_measured": missing_energy(obj)})
            else:
                f.set(f"harness_{level}_{suffix}", doc, {**labels, "source": str(fig.get("source", ""))}, value)
        for device in DEVICES:
            fig = obj.get(f"{device}_energy_j")
            value = _num(fig.get("value")) if isinstance(fig, dict) else None
            if value is None:
                not_measured(labels.get("model", ""), target, f"harness_{level}_device_energy_joules:{device}",
                             fig if isinstance(fig, dict) else {"not_measured": missing_energy(obj)})
            else:
                f.set(f"harness_{level}_device_energy_joules", "Energy used by one device (J)",
                      {**labels, "device": device, "source": str(fig.get("source", ""))}, value)

    def metrics(kind: str, name_label: str, labels: dict[str, str], target: str, values: dict) -> None:
        for metric, m in (values or {}).items():
            m = m if isinstance(m, dict) else {"value": m}
            value = _num(m.get("value"))
            mine = {**labels, "metric": metric}
            if value is None:
                not_measured(labels["model"], target, f"harness_{kind}_metric:{metric}", m)
                continue
            f.set(f"harness_{kind}_metric", f"{kind.capitalize()} metric value", mine, value)
            ci = m.get("ci95") if isinstance(m.get("ci95"), (list, tuple)) and len(m.get("ci95")) == 2 else (None, None)
            lo, hi = _num(ci[0]), _num(ci[1])
            if lo is not None and hi is not None:
                f.set(f"harness_{kind}_metric_ci95_lower", f"{kind.capitalize()} metric, lower end of the 95% CI", mine, lo)
                f.set(f"harness_{kind}_metric_ci95_upper", f"{kind.capitalize()} metric, upper end of the 95% CI", mine, hi)

    run = results.get("run") or {}
    for name, m in (results.get("models") or {}).items():
        if models is not None and name not in models or not isinstance(m, dict):
            continue
        for task, t in (m.get("tasks") or {}).items():
            labels = {"model": name, "task": task}
            metrics("task", "task", labels, f"task:{task}", t.get("metrics"))
            if isinstance(t.get("n"), int):
                f.set("harness_task_examples", "Examples evaluated", labels, t["n"])
            energy("task", labels, f"task:{task}", t.get("energy"))
        for probe, p in (m.get("probes") or {}).items():
            labels = {"model": name, "probe": probe}
            metrics("probe", "probe", labels, f"probe:{probe}", (p or {}).get("metrics"))
            energy("probe", labels, f"probe:{probe}", (p or {}).get("energy"))
        energy("model", {"model": name}, "model", m.get("energy"))
    if run_level:
        e = (results.get("energy") or {}).get("run") or {}
        energy("run", {}, "run", e)
        duration = _num((e.get("duration_s") or {}).get("value")) if isinstance(e.get("duration_s"), dict) else None
        if duration is not None:
            f.set("harness_run_duration_seconds", "Wall time of the run (s)", {}, duration)
        if isinstance(e.get("examples"), int):
            f.set("harness_run_examples", "Examples computed in the run", {}, e["examples"])
        f.set("harness_run_info", "The run this export describes", {
            "run": str(run.get("id", "")), "status": str(run.get("status", "")), "git_sha": str(run.get("git_sha") or ""),
            "harness_version": str(run.get("harness_version", ""))}, 1)
        try:
            f.set("harness_run_finished_timestamp_seconds", "When the run finished (Unix time)", {},
                  datetime.fromisoformat(str(run.get("finished"))).timestamp())
        except ValueError:
            pass
        gate = results.get("gate")
        if isinstance(gate, dict) and gate.get("verdict") in ("pass", "fail"):
            f.set("harness_gate_pass", "Release gate verdict: 1 pass, 0 fail", {}, 1 if gate["verdict"] == "pass" else 0)
            for verdict, count in (gate.get("counts") or {}).items():
                if _num(count) is not None:
                    f.set("harness_gate_rules", "Gate rules by verdict", {"verdict": str(verdict)}, count)
    return registry


def write_textfile(results: dict, path: Path) -> None:
    from prometheus_client import generate_latest

    from harness.store import write_text_atomic
    try:
        write_text_atomic(path, generate_latest(build_registry(results)))   # node_exporter never reads a torn file
    except OSError as exc:
        raise HarnessError(f"cannot write the Prometheus textfile {path} ({exc.strerror or exc})",
                           "pass a writable --prometheus-textfile path (node_exporter reads *.prom files)") from None


def check_url(url: str) -> None:
    """A Pushgateway is an HTTP server: http(s)://HOST[:PORT] (or HOST:PORT, which means http)."""
    from urllib.parse import urlsplit
    scheme = urlsplit(url).scheme.lower() if "://" in url else "http"
    if scheme not in ("http", "https") or not url.split("://", 1)[-1].strip("/"):
        raise HarnessError(f"--pushgateway {url!r} is not an http(s) URL", "pass e.g. --pushgateway http://localhost:9091")


def push(results: dict, url: str, timeout: float = 10.0) -> list[dict[str, str]]:
    """PUTs the run-level families under grouping key {run} and each model's under {run, model}
    (job "harness"); a second push of the same run replaces its groups. Returns the grouping keys."""
    from http.client import HTTPException

    from prometheus_client import push_to_gateway
    check_url(url)
    run_id = str((results.get("run") or {}).get("id", ""))
    groups = [({"run": run_id}, build_registry(results, models=(), run_level=True))]
    for name in (results.get("models") or {}):
        groups.append(({"run": run_id, "model": name}, build_registry(results, models=(name,), run_level=False)))
    for key, registry in groups:
        try:
            push_to_gateway(url, job="harness", registry=registry, grouping_key=key, timeout=timeout)
        except (OSError, ValueError, HTTPException) as exc:      # HTTPException: not an HTTP server there
            raise HarnessError(f"cannot push to the Pushgateway at {url} ({type(exc).__name__}: {str(exc)[:200]})",
                               f"check the URL and that the Pushgateway runs; the run is written, so "
                               f"`harness export RUN_DIR --pushgateway {url}` pushes it later") from None
    return [key for key, _ in groups]
