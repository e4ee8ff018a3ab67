"""Argument types and the parser class that every command shares.

One rule for every numeric flag: a value is parsed by one of these types, so each is refused the same
way (one line, exit 2). ``count`` takes whole numbers >= 1, and where a flag can mean "every item" that
is spelt ``all`` (never 0, which a shell variable left empty or unset can produce by accident);
``number`` takes finite numbers within bounds. A flag renamed so that one spelling means one thing in
every command keeps its old spelling as ``renamed``: refused with a one-line hint naming the new one.

argparse's own errors become one line that names the command once (never "harness: error: harness:
..."), and a misspelt option, command or choice gets its close matches (harness.suggest):
`harness run --modle x` names '--modle' and `harness run` and offers --model (tests/test_options.py).
"""
from __future__ import annotations

import argparse
import math
import re
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
        raise HarnessError(f"{option_string} of `{parser.prog}` was renamed to {self.new.split()[0]}" +
                           (f" ({self.why})" if self.why else ""), f"write {self.new}")


def renamed(parser: argparse.ArgumentParser, old: str, new: str, why: str = "") -> None:
    """``old`` is no longer a flag of this command: refuse it in one line naming ``new`` ("--json FILE")."""
    parser.add_argument(old, action=_Renamed, new=new, why=why)


INVALID_CHOICE = re.compile(r"argument (?P<arg>[^:]+): invalid choice: '(?P<given>.*?)' \(choose from (?P<known>.*)\)$")


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return sorted(o for action in parser._actions for o in action.option_strings if o.startswith("--"))


def unknown_arguments(extras: list[str], parser: argparse.ArgumentParser) -> HarnessError:
    """The error for what ``parser`` (a command's parser) did not recognize: the first unknown option
    with its close matches among the command's options, or the first stray argument."""
    from harness.suggest import did_you_mean
    helps = f"`{parser.prog} --help` lists its options"
    option = next((e for e in extras if e.startswith("-")), None)
    if option is None:
        return HarnessError(f"unexpected argument {extras[0]!r} for `{parser.prog}`",
                            f"remove it, or give the option it belongs to ({helps})")
    name = option.split("=", 1)[0]
    fix = did_you_mean(name, _options(parser), "")
    return HarnessError(f"unknown option {name!r} of `{parser.prog}`", f"{fix} ({helps})" if fix else helps)


class Parser(argparse.ArgumentParser):
    def parse_args(self, args=None, namespace=None):       # type: ignore[override]
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            raise unknown_arguments(extras, self._command_parser(parsed))
        return parsed

    def _command_parser(self, parsed: argparse.Namespace) -> argparse.ArgumentParser:
        """The parser of the command ``parsed`` holds (``harness run``'s for `harness run --modle`), else this one."""
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                chosen = action.choices.get(getattr(parsed, action.dest, None) or "")
                if chosen is not None:
                    return chosen
        return self

    def error(self, message: str) -> None:   # argparse's own errors: one line, exit 2, the command named once
        helps = f"see `{self.prog} --help`"
        invalid = INVALID_CHOICE.match(message)
        if invalid:
            from harness.suggest import did_you_mean
            known = [k.strip().strip("'") for k in invalid["known"].split(",")]
            fix = did_you_mean(invalid["given"], known, f"choose from {', '.join(known)}")
            problem = (f"unknown command {invalid['given']!r}" if invalid["arg"] == "command"
                       else f"{invalid['given']!r} is not a choice of `{self.prog}` ({invalid['arg']})")
            raise HarnessError(problem, f"{fix} ({helps})")
        raise HarnessError(message, helps)
