"""Did you mean: the one place that finds the known names closest to a mistyped one and words the hint.

Every "unknown X" error of the harness (registry names, YAML keys, model options, policy names,
flags' values, blessed baselines) takes its fix from ``did_you_mean``; ``close_matches`` is the
search behind it (difflib's ratio, one cutoff for all). ``harness.registry.unknown_name`` builds the
whole error for a registry's names on top of these two.
"""
from __future__ import annotations

import difflib
from typing import Callable, Iterable

CUTOFF = 0.5        # difflib ratio: 'acuracy' finds 'accuracy', 'zzz' finds nothing


def close_matches(name: object, known: Iterable[object], n: int = 3) -> list[str]:
    """Up to ``n`` known names closest to ``name``, best first (known names are sorted first, so ties
    come out in a fixed order)."""
    return difflib.get_close_matches(str(name), sorted({str(k) for k in known}), n=n, cutoff=CUTOFF)


def did_you_mean(name: object, known: Iterable[object], otherwise: str, *, n: int = 3,
                 shown: Callable[[str], str] = str) -> str:
    """The fix for an unknown ``name``: "did you mean a, b?" over its close matches (each written by
    ``shown``, e.g. ``repr`` to quote it), else ``otherwise``."""
    close = close_matches(name, known, n)
    return f"did you mean {', '.join(shown(c) for c in close)}?" if close else otherwise
