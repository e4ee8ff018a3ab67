"""What a model's result comes to, in words, for the terminal: its recipe (``prune=0.9``), its headline
metrics (each task's first metric with its 95% CI; the direction said where lower is better), and its
energy, J/example and CO2e with where each comes from. Pure: typed results in, text out."""
from __future__ import annotations

from harness.report.intervals import field, interval
from harness.report.numbers import sig
from harness.results.energy import Energy
from harness.results.types import ModelResult, Results
from harness.results.values import Figure, MetricValue

SOURCES = {"estimated": "CodeCarbon estimate", "nvml_energy_counter": "NVML energy counter",
           "nvml_power_integrated": "NVML sampled power", "rapl": "RAPL counters", "clock": "clock"}


def recipe_text(info: ModelResult) -> str:
    """The dtype and the recipe keys the model was loaded with: "float32", "float32, prune=0.9"."""
    recipe = dict(info.extra("recipe") or {})
    for key in ("quantize", "prune"):                 # older or hand-written results keep them beside the recipe
        if recipe.get(key) is None and info.extra(key) is not None:
            recipe[key] = info.extra(key)
    dtype = recipe.pop("dtype", None) or info.dtype
    keys = [f"{k}={v}" for k, v in recipe.items() if v is not None]
    return ", ".join(([str(dtype)] if dtype else []) + keys)


def metric_text(name: str, m: MetricValue | None) -> str:
    if m is None:
        return f"{name} n/a"
    direction = " (lower is better)" if m.higher_is_better is False else ""
    if m.value is None:
        return f"{name}{direction} not measured"
    lo, hi = m.ci95
    ci = f" [{sig(lo)}, {sig(hi)}]" if lo is not None and hi is not None else ""
    return f"{name}{direction} {sig(m.value)}{ci}"


def _first_metrics(pieces) -> list[str]:
    """Each piece's first metric (its headline), "facts_mc accuracy 0.594 [0.406, 0.75]"."""
    out = []
    for piece, result in pieces.items():
        name = next(iter(result.metrics), None)
        if name is not None:
            out.append(f"{piece} {metric_text(name, result.metrics[name])}")
    return out


def headline_metrics(info: ModelResult) -> list[str]:
    """Each task's first metric."""
    return _first_metrics(info.tasks)


def probe_metrics(info: ModelResult) -> list[str]:
    """Each probe's first metric."""
    return _first_metrics(info.probes)


def source_text(f: Figure | None) -> str:
    return SOURCES.get(f.source, f.source) if f is not None else ""


def figure_text(f: Figure | None, unit: str) -> str:
    """"0.755 J/example", with "± 0.05 (5 repeats)" where repeats gave an interval."""
    if f is None or f.value is None:
        return ""
    spread = interval(f)
    if spread is not None:
        return f"{sig(f.value)} ± {sig(spread.half_width)} {unit}" + (f" ({spread.repeats} repeats)" if spread.repeats else "")
    return f"{sig(f.value)} {unit}"


def carbon_source(results: Results) -> str:
    """Where the CO2e figures' intensity comes from: "400 g/kWh from --carbon-intensity", or the label
    results.json gives it ("480 g/kWh, world average (Ember, ...), 2023; refine with --country ...")."""
    ci = results.energy.carbon_intensity if results.energy is not None else None
    if ci is None or ci.g_per_kwh is None:
        return ""
    pue = f", PUE {sig(ci.pue)}" if ci.pue not in (None, 1, 1.0) else ""
    label = field(ci, "label")
    if isinstance(label, str) and label:
        return f"{sig(ci.g_per_kwh)} g/kWh, {label}{pue}"
    source = "--carbon-intensity" if ci.source == "user" else ci.source
    return f"{sig(ci.g_per_kwh)} g/kWh from {source}{pue}"


def co2e_source(f: Figure | None, results: Results) -> str:
    """A CO2e figure's own intensity and its source where it records them, else the run's."""
    if f is None or f.value is None:
        return ""
    own, rate = f.extra("intensity_source"), f.extra("intensity_g_per_kwh")
    if isinstance(own, str) and own and isinstance(rate, (int, float)):
        return f"{sig(rate)} g/kWh, {own}"
    return carbon_source(results)


def energy_text(e: Energy | None, results: Results) -> str:
    """"2521 J, 0.755 J/example, 0.28 g CO2e (energy: CodeCarbon estimate; CO2e at 400 g/kWh from --carbon-intensity)"."""
    if e is None or e.total_energy_j is None:
        return "energy not recorded"
    total = e.total_energy_j
    if total.value is None:
        return f"energy not measured: {total.reason or 'no meter'}"
    parts = [figure_text(total, "J"), figure_text(e.j_per_example, "J/example") or "J/example not measured"]
    carbon = figure_text(e.gco2e, "g CO2e")
    parts.append(carbon or "CO2e not measured" + (f": {e.gco2e.reason}" if e.gco2e is not None and e.gco2e.reason else ""))
    sources = [f"energy: {source_text(total)}"]
    if carbon and co2e_source(e.gco2e, results):
        sources.append(f"CO2e at {co2e_source(e.gco2e, results)}")
    return ", ".join(parts) + f" ({'; '.join(sources)})"


def model_line(name: str, info: ModelResult, results: Results) -> str:
    """One line: the model, its recipe, its headline metrics, its energy with the sources."""
    metrics = headline_metrics(info)
    recipe = recipe_text(info)
    head = f"{name}" + (f" [{recipe}]" if recipe else "")
    quality = " · ".join(metrics) if metrics else (
        f"no task scored ({len(info.probes)} probe{'s' * (len(info.probes) != 1)})" if info.probes else "no task scored")
    return f"{head}: {quality} | {energy_text(info.energy, results)}"


def headline(results: Results) -> list[str]:
    """One line per model, then one line of probe headlines per model that ran probes."""
    lines = [model_line(name, info, results) for name, info in results.models.items()]
    for name, info in results.models.items():
        probes = probe_metrics(info)
        if probes:
            lines.append(f"{name} probes: " + " · ".join(probes))
    return lines
