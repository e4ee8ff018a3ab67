"""The energy object of results.json, typed: one per run, model, task and probe (harness.meters.energy
writes it). Every figure is a ``Figure`` (harness.results.values); with the meters off only the
duration and the total are written, the total not measured with the reason. Imports nothing from
harness but the value types."""
from __future__ import annotations

from typing import Any, Optional

from harness.results.values import Count, Figure, Number, StrictBool, Value

QUALITY_PER_KJ = "quality_per_kj."
FIGURES = ("duration_s", "total_energy_j", "gpu_energy_j", "gpu_energy_integrated_j", "gpu_energy_net_j",
           "gpu_energy_discrepancy_pct", "cpu_energy_j", "ram_energy_j", "gpu_power_mean_w", "gpu_power_peak_w",
           "cpu_power_mean_w", "total_power_mean_w", "j_per_example", "examples_per_j", "j_per_generated_token",
           "gco2e", "gco2e_per_1000_examples")


class Energy(Value):
    """What a window (or the windows of one piece) cost: time, energy by device, power, energy per
    example and per generated token, quality per kJ, carbon, seconds per throttle reason."""
    duration_s: Optional[Figure] = None
    invocations: Optional[Count] = None
    ranks: Optional[Count] = None
    total_energy_j: Optional[Figure] = None
    gpu_energy_j: Optional[Figure] = None
    gpu_energy_integrated_j: Optional[Figure] = None
    gpu_energy_net_j: Optional[Figure] = None
    gpu_energy_discrepancy_pct: Optional[Figure] = None
    cpu_energy_j: Optional[Figure] = None
    ram_energy_j: Optional[Figure] = None
    gpu_power_mean_w: Optional[Figure] = None
    gpu_power_peak_w: Optional[Figure] = None
    cpu_power_mean_w: Optional[Figure] = None
    total_power_mean_w: Optional[Figure] = None
    examples: Optional[Count] = None
    j_per_example: Optional[Figure] = None
    examples_per_j: Optional[Figure] = None
    j_per_generated_token: Optional[Figure] = None
    quality_per_kj: Optional[dict[str, Figure]] = None
    gco2e: Optional[Figure] = None
    gco2e_per_1000_examples: Optional[Figure] = None
    throttle_s: Optional[dict[str, Figure]] = None
    short_window: Optional[StrictBool] = None

    def figure(self, name: str) -> Figure | None:
        """A figure by name (``quality_per_kj.<metric>`` too), or None when this object has none."""
        if name.startswith(QUALITY_PER_KJ):
            return (self.quality_per_kj or {}).get(name[len(QUALITY_PER_KJ):])
        found = getattr(self, name, None) if name in FIGURES else None
        return found if isinstance(found, Figure) else None

    def missing(self) -> str:
        """Why a figure is absent: the total's reason when it was not measured (the meters were off,
        so only the total was written), else that this object does not record it."""
        total = self.total_energy_j
        if total is not None and not total.measured:
            return total.reason or "not measured"
        return "not recorded in results.json"

    def figure_or_missing(self, name: str, unit: str = "") -> Figure:
        """The figure, or a not-measured one saying why it is absent."""
        return self.figure(name) or Figure.not_measured(unit, self.missing())


def energy_reason(energy: Energy | None) -> str:
    """Why a piece has no figure at all: its energy object's reason, or that it has none."""
    return energy.missing() if energy is not None else "no energy recorded"


class CarbonIntensity(Value):
    g_per_kwh: Optional[Number] = None
    source: str = ""
    pue: Optional[Number] = None


class RunEnergy(Value):
    """results.json ``energy``: the run's own energy object, the carbon intensity it was priced at,
    and what the meters said about themselves (``meters.gpu``, ``meters.host``, ``startup_s``;
    a meter that could not measure says why in ``reason``)."""
    run: Optional[Energy] = None
    carbon_intensity: Optional[CarbonIntensity] = None
    meters: dict[str, Any] = {}
