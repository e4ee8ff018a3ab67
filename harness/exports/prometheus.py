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

from datetime import datetime
from pathlib import Path
from typing import Iterable

from prometheus_client import CollectorRegistry, Gauge

from harness.errors import HarnessError
from harness.results.energy import Energy, energy_reason
from harness.results.reading import as_results
from harness.results.types import Results
from harness.results.values import MetricValue

ENERGY = (("total_energy_j", "energy_joules", "Energy used (J)"),
          ("j_per_example", "energy_joules_per_example", "Energy per example (J)"),
          ("gco2e", "carbon_gco2e", "Carbon emitted (grams CO2e)"))
DEVICES = ("gpu", "cpu", "ram")
LEVELS = {"run": (), "model": ("model",), "task": ("model", "task"), "probe": ("model", "probe")}


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


def build_registry(results: Results | dict, models: Iterable[str] | None = None,
                   run_level: bool = True) -> CollectorRegistry:
    """The run's figures in a new registry: every model's (``models=None``) or those named; the
    run-level families only when ``run_level``."""
    results = as_results(results)
    registry = CollectorRegistry()
    f = _Families(registry)
    missing = f.gauge("harness_not_measured", "A figure that could not be measured (left out of its family), by reason",
                      ("model", "target", "figure", "reason"))

    def not_measured(model_name: str, target: str, figure: str, reason: str | None) -> None:
        missing.labels(model=model_name, target=target, figure=figure, reason=reason or "not recorded").set(1)

    def energy(level: str, labels: dict[str, str], target: str, obj: Energy | None) -> None:
        figures = [(key, f"harness_{level}_{suffix}", doc, {}) for key, suffix, doc in ENERGY]
        figures += [(f"{device}_energy_j", f"harness_{level}_device_energy_joules", "Energy used by one device (J)",
                     {"device": device}) for device in DEVICES]
        for key, family, doc, extra in figures:
            fig = obj.figure(key) if obj is not None else None
            if fig is None or fig.value is None:
                name = family + (f":{extra['device']}" if extra else "")
                not_measured(labels.get("model", ""), target, name, fig.reason if fig else energy_reason(obj))
            else:
                f.set(family, doc, {**labels, **extra, "source": fig.source}, float(fig.value))

    def metrics(kind: str, labels: dict[str, str], target: str, values: dict[str, MetricValue]) -> None:
        for metric, m in values.items():
            mine = {**labels, "metric": metric}
            if m.value is None:
                not_measured(labels["model"], target, f"harness_{kind}_metric:{metric}", m.reason)
                continue
            f.set(f"harness_{kind}_metric", f"{kind.capitalize()} metric value", mine, float(m.value))
            lo, hi = m.ci95
            if lo is not None and hi is not None:
                f.set(f"harness_{kind}_metric_ci95_lower", f"{kind.capitalize()} metric, lower end of the 95% CI", mine, lo)
                f.set(f"harness_{kind}_metric_ci95_upper", f"{kind.capitalize()} metric, upper end of the 95% CI", mine, hi)

    run = results.run
    for name, m in results.models.items():
        if models is not None and name not in models:
            continue
        for task, t in m.tasks.items():
            labels = {"model": name, "task": task}
            metrics("task", labels, f"task:{task}", t.metrics)
            f.set("harness_task_examples", "Examples evaluated", labels, t.n)
            energy("task", labels, f"task:{task}", t.energy)
        for probe, p in m.probes.items():
            labels = {"model": name, "probe": probe}
            metrics("probe", labels, f"probe:{probe}", p.metrics)
            energy("probe", labels, f"probe:{probe}", p.energy)
        energy("model", {"model": name}, "model", m.energy)
    if run_level:
        e = results.energy.run if results.energy is not None else None
        energy("run", {}, "run", e)
        duration = e.duration_s.value if e is not None and e.duration_s is not None else None
        if duration is not None:
            f.set("harness_run_duration_seconds", "Wall time of the run (s)", {}, float(duration))
        if e is not None and e.examples is not None:
            f.set("harness_run_examples", "Examples computed in the run", {}, e.examples)
        f.set("harness_run_info", "The run this export describes", {
            "run": run.id, "status": run.status, "git_sha": run.git_sha or "",
            "harness_version": str(run.harness_version if run.harness_version is not None else "")}, 1)
        try:
            f.set("harness_run_finished_timestamp_seconds", "When the run finished (Unix time)", {},
                  datetime.fromisoformat(str(run.finished)).timestamp())
        except ValueError:
            pass
        gate = results.gate
        if gate is not None:
            f.set("harness_gate_pass", "Release gate verdict: 1 pass, 0 fail", {}, 1 if gate.verdict == "pass" else 0)
            for verdict, count in gate.counts.items():
                f.set("harness_gate_rules", "Gate rules by verdict", {"verdict": verdict}, count)
    return registry


def write_textfile(results: Results | dict, path: Path) -> None:
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


def push(results: Results | dict, url: str, timeout: float = 10.0) -> list[dict[str, str]]:
    """PUTs the run-level families under grouping key {run} and each model's under {run, model}
    (job "harness"); a second push of the same run replaces its groups. Returns the grouping keys."""
    from http.client import HTTPException

    from prometheus_client import push_to_gateway
    check_url(url)
    results = as_results(results)
    run_id = results.run.id
    groups = [({"run": run_id}, build_registry(results, models=(), run_level=True))]
    for name in results.models:
        groups.append(({"run": run_id, "model": name}, build_registry(results, models=(name,), run_level=False)))
    for key, registry in groups:
        try:
            push_to_gateway(url, job="harness", registry=registry, grouping_key=key, timeout=timeout)
        except (OSError, ValueError, HTTPException) as exc:      # HTTPException: not an HTTP server there
            raise HarnessError(f"cannot push to the Pushgateway at {url} ({type(exc).__name__}: {str(exc)[:200]})",
                               f"check the URL and that the Pushgateway runs; the run is written, so "
                               f"`harness export RUN_DIR --pushgateway {url}` pushes it later") from None
    return [key for key, _ in groups]
