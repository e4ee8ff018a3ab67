"""Carbon intensity, offline: from the user (g CO2e/kWh), CodeCarbon's per-country energy-mix data,
or, with neither, a published world average that names itself. Never a silent default: every CO2e
figure carries the intensity it was priced at (``intensity``: value, where it comes from, its year),
and the world average says how to refine it. No location is ever guessed."""
from __future__ import annotations

import os
from dataclasses import dataclass

from harness.errors import HarnessError


@dataclass(frozen=True)
class CarbonIntensity:
    g_per_kwh: float | None
    source: str                  # "user", "codecarbon energy mix for FRA (...)", the world average's, or why there is none
    pue: float = 1.0
    year: int | None = None      # the year the intensity describes, where known
    reference: str | None = None     # where it is published
    refine: str | None = None        # how to replace an assumed default with the user's own grid

    @property
    def known(self) -> bool:
        return self.g_per_kwh is not None

    @property
    def label(self) -> str:
        """Where the intensity comes from and its year, in a few words, written beside every CO2e
        figure (``intensity_source`` in results.json, the report, the terminal); the world average
        also says how to refine it."""
        if not self.known:
            return self.source
        if self.refine:
            return f"{WORLD_SHORT}, {self.year}; refine with --country ISO3 or --carbon-intensity G_PER_KWH"
        return "given with --carbon-intensity" if self.source == "user" else self.source

    def to_json(self) -> dict:
        extra = {k: v for k, v in (("year", self.year), ("reference", self.reference), ("refine", self.refine))
                 if v is not None}
        return {"g_per_kwh": self.g_per_kwh, "source": self.source, "pue": self.pue, **extra,
                **({"label": self.label} if self.known else {})}


# The world average when neither --country nor --carbon-intensity is given: Ember's Global Electricity
# Review 2024 gives the CO2 intensity of the world's electricity generation in 2023 as 480 g/kWh (a
# record low, down from 486 g/kWh in 2022 as restated there; the 2023 edition, on its earlier method,
# had 436 g/kWh for 2022). CodeCarbon's own fallback (its data file carbon_intensity_per_source.json,
# "world_average": 475) is the IEA's figure for 2018 (Global Energy & CO2 Status Report 2019). Ember's
# 2023 figure is the newest published one and matches the years of CodeCarbon's per-country energy-mix
# table (2022 and 2023), so a default run and a --country run are priced on data of the same period.
WORLD_G_PER_KWH = 480.0
WORLD_YEAR = 2023
WORLD_SHORT = "world average (Ember, Global Electricity Review 2024)"
WORLD_SOURCE = "world average: Ember, Global Electricity Review 2024 (CO2 intensity of global electricity generation in 2023)"
WORLD_REFERENCE = "https://ember-climate.org/insights/research/global-electricity-review-2024/"
WORLD_REFINE = "no --country or --carbon-intensity was given: pass --country ISO3 or --carbon-intensity G_PER_KWH for your grid"


def world_average(pue: float = 1.0) -> CarbonIntensity:
    return CarbonIntensity(WORLD_G_PER_KWH, WORLD_SOURCE, pue, WORLD_YEAR, WORLD_REFERENCE, WORLD_REFINE)


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
                               "give grams CO2e per kWh, e.g. 56 (France) or 480 (the world average, 2023)")
        return CarbonIntensity(g_per_kwh, "user", pue)
    if not country:
        return world_average(pue)
    os.environ.setdefault("CODECARBON_LOG_LEVEL", "error")
    from codecarbon.input import DataSource
    # CodeCarbon's own lookup falls back to the world average for an unknown country (with only
    # a log line); its energy-mix table is read directly so that cannot happen here.
    mix = DataSource().get_global_energy_mix_data().get(country.upper())
    if not mix or mix.get("carbon_intensity") is None:
        raise HarnessError(f"CodeCarbon has no energy-mix data for country {country!r}",
                           "pass a 3-letter ISO code such as FRA, DEU or USA, or --carbon-intensity G_PER_KWH")
    year = mix.get("year")
    return CarbonIntensity(float(mix["carbon_intensity"]),
                           f"codecarbon energy mix for {country.upper()} ({mix.get('country_name')}, {year})", pue,
                           year=year if isinstance(year, int) else None)


def grams_co2e(joules: float, intensity: CarbonIntensity) -> float:
    """IT energy times PUE times intensity."""
    return joules / 3.6e6 * intensity.pue * intensity.g_per_kwh
