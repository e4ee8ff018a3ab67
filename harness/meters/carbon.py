"""Carbon intensity, offline: from the user (g CO2e/kWh) or CodeCarbon's per-country energy-mix
data. Never a silent default: with neither, carbon figures read not_measured with the reason."""
from __future__ import annotations

import os
from dataclasses import dataclass

from harness.errors import HarnessError


@dataclass(frozen=True)
class CarbonIntensity:
    g_per_kwh: float | None
    source: str                  # "user", "codecarbon energy mix for FRA", or why there is none
    pue: float = 1.0

    @property
    def known(self) -> bool:
        return self.g_per_kwh is not None

    def to_json(self) -> dict:
        return {"g_per_kwh": self.g_per_kwh, "source": self.source, "pue": self.pue}


# Above these a value is a typo or a unit slip, not a grid: the dirtiest generation (lignite, oil
# shale) emits about 1,300 g CO2e/kWh, and a data centre's PUE rarely passes 3. Unbounded values
# also overflow: --pue 1e308 with --carbon-intensity 1e308 made gCO2e infinite, and results.json
# (strict JSON) could not be written.
MAX_G_PER_KWH = 5000.0
MAX_PUE = 10.0


def resolve_intensity(country: str | None, g_per_kwh: float | None, pue: float = 1.0) -> CarbonIntensity:
    if not 1.0 <= pue <= MAX_PUE:
        raise HarnessError(f"--pue {pue} is outside 1 to {MAX_PUE:g}",
                           "PUE is facility energy / IT energy: at least 1.0 (typical 1.1-1.6)")
    if g_per_kwh is not None:
        if not 0 <= g_per_kwh <= MAX_G_PER_KWH:
            raise HarnessError(f"--carbon-intensity {g_per_kwh} is outside 0 to {MAX_G_PER_KWH:g} g CO2e/kWh",
                               "give grams CO2e per kWh, e.g. 56 (France) or 370 (the world average)")
        return CarbonIntensity(g_per_kwh, "user", pue)
    if not country:
        return CarbonIntensity(None, "no carbon intensity given: pass --country ISO3 or --carbon-intensity G_PER_KWH", pue)
    os.environ.setdefault("CODECARBON_LOG_LEVEL", "error")
    from codecarbon.input import DataSource
    # CodeCarbon's own lookup falls back to the world average for an unknown country (with only
    # a log line); its energy-mix table is read directly so that cannot happen here.
    mix = DataSource().get_global_energy_mix_data().get(country.upper())
    if not mix or mix.get("carbon_intensity") is None:
        raise HarnessError(f"CodeCarbon has no energy-mix data for country {country!r}",
                           "pass a 3-letter ISO code such as FRA, DEU or USA, or --carbon-intensity G_PER_KWH")
    return CarbonIntensity(float(mix["carbon_intensity"]),
                           f"codecarbon energy mix for {country.upper()} ({mix.get('country_name')}, {mix.get('year')})", pue)


def grams_co2e(joules: float, intensity: CarbonIntensity) -> float:
    """IT energy times PUE times intensity."""
    return joules / 3.6e6 * intensity.pue * intensity.g_per_kwh
