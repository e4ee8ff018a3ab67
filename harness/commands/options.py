"""Argument types and the parser class that every command shares."""
from __future__ import annotations

import argparse
import math

from harness.errors import HarnessError


def number(low: float, high: float = math.inf):
    """An argparse type: a finite float in [low, high] (nan and inf pass float() but are no setting)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not (math.isfinite(value) and low <= value <= high):
            bounds = f"at least {low:g}" if high == math.inf else f"from {low:g} to {high:g}"
            raise argparse.ArgumentTypeError(f"{text} is not a finite number {bounds}")
        return value
    parse.__name__ = "number"
    return parse


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:   # argparse's own errors: one line, exit 2
        raise HarnessError(f"{self.prog}: {message}", f"see `{self.prog} --help`")
