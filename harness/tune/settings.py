"""The settings of a `harness tune`: what the study is (every field but ``trials`` and ``nvml``; a
resumed study must match them) and how it runs."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.spec import MeterOptions, ModelSpec, RuntimeOptions
from harness.tune.space import Space


@dataclass(frozen=True)
class Settings:
    """What a tune is: every field but ``trials`` and ``nvml`` names the study (a resume must match)."""
    model: str
    tasks: tuple[str, ...]
    out: Path
    space: Space
    limit: int | None = None
    trials: int = 20
    margin: float = 0.05
    objective: str = "j_per_example"
    repeats: int = 3
    seed: int = 1234
    sampler: str = "tpe"
    looks: tuple[float, ...] = (0.5,)
    runtime: RuntimeOptions = RuntimeOptions()
    meters: MeterOptions = MeterOptions()
    nvml: Any = None                  # the NVML module for --power-limits (tests: the synthetic one)

    @property
    def base(self) -> ModelSpec:
        return ModelSpec.parse(self.model)

    def identity(self) -> dict:
        return {"model": self.model, "tasks": list(self.tasks), "limit": self.limit, "margin": self.margin,
                "objective": self.objective, "repeats": self.repeats, "seed": self.seed, "sampler": self.sampler,
                "looks": list(self.looks), "space": self.space.to_json(), "device": self.runtime.device,
                "dtype": self.runtime.dtype}
