"""Robustness and bias probes; each registers itself in harness.plugins.PROBES."""
from harness.probes import attack, bbq, counterfactual, pairs, robustness, safety, weat  # noqa: F401
from harness.probes.base import Probe, ProbeConfig, ProbeContext

__all__ = ["Probe", "ProbeConfig", "ProbeContext"]
