"""harness: audit ML models before they ship - quality, safety and energy in one run."""
__version__ = "0.1.0"

from harness import quiet as _quiet  # noqa: E402

_quiet.install()
