"""harness: audit ML models before they ship - quality, safety and energy in one run."""
__version__ = "0.1.0"
