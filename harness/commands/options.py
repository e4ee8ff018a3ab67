"""Argument types and the parser class that every command shares.

One rule for every numeric flag: a value is parsed by one of these types, so each is refused the same
way (one line, exit 2). ``count`` takes whole numbers >= 1, and where a flag can mean "every item" that
is spelt ``all`` (never 0, which a shell variable left empty or unset can produce by accident);
``number`` takes finite numbers within bounds. A flag renamed so that one spelling means one thing in
every command keeps its old spelling as ``renamed``: refused with a one-line hint naming the new one.
"""
from __future__ import annotations

import argparse
import math
from typing import Any

from harness.errors import HarnessError

ALL = "all"


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


_NOT_GIVEN = object()


def count(flag: str, low: int = 1, high: int | None = None, all_means: Any = _NOT_GIVEN):
    """An argparse type: a whole number from ``low`` (to ``high``). With ``all_means`` (a limit), the
    word ``all`` is also taken, and so is 0, both parsed to that value (e.g. None: no limit): every limit
    flag reads 0 and ``all`` alike, so no flag refuses 0 while another takes it for every item."""
    takes_all = all_means is not _NOT_GIVEN

    def parse(text: str) -> Any:
        if takes_all and text.strip().lower() == ALL:
            return all_means
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number" + (" or `all`" if takes_all else "")) \
                from None
        if value == 0 and takes_all:
            return all_means
        if value < low or (high is not None and value > high):
            bounds = f"at least {low}" if high is None else f"from {low} to {high}"
            raise argparse.ArgumentTypeError(f"{value} is not a whole number {bounds}"
                                             + (" (or `all`)" if takes_all else ""))
        return value
    parse.__name__ = "count"
    return parse


class _Renamed(argparse.Action):
    def __init__(self, option_strings, dest, new: str = "", why: str = "", **kwargs):
        super().__init__(option_strings, argparse.SUPPRESS, nargs="?", help=argparse.SUPPRESS, **kwargs)
        self.new, self.why = new, why

    def __call__(self, parser, namespace, values, option_string=None):
        raise HarnessError(f"{parser.prog}: {option_string} was renamed to {self.new.split()[0]}" +
                           (f" ({self.why})" if self.why else ""), f"write {self.new}")


def renamed(parser: argparse.ArgumentParser, old: str, new: str, why: str = "") -> None:
    """``old`` is no longer a flag of this command: refuse it in one line naming ``new`` ("--json FILE")."""
    parser.add_argument(old, action=_Renamed, new=new, why=why)


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:   # argparse's own errors: one line, exit 2
        raise HarnessError(f"{self.prog}: {message}", f"see `{self.prog} --help`")
