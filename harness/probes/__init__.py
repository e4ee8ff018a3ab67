"""Robustness and bias probes; each built-in is an entry point of harness.plugins.PROBES (pyproject.toml)."""
from harness.probes.base import Probe, ProbeConfig, ProbeContext

__all__ = ["Probe", "ProbeConfig", "ProbeContext"]
