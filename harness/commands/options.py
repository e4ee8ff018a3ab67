"""Argument types and the parser class that every command shares. argparse's own errors become one
line (HarnessError, exit 2) that names the command once, and a misspelt option, command or choice
gets its close matches (harness.registry.unknown_name): `harness run --modle x` reads
"unknown option '--modle' of `harness run`; fix: did you mean --model? ..."."""
from __future__ import annotations

import argparse
import math
import re

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


INVALID_CHOICE = re.compile(r"argument (?P<arg>[^:]+): invalid choice: '(?P<given>.*?)' \(choose from (?P<known>.*)\)$")


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return sorted(o for action in parser._actions for o in action.option_strings if o.startswith("--"))


def unknown_arguments(extras: list[str], parser: argparse.ArgumentParser) -> HarnessError:
    """The error for what ``parser`` (a command's parser) did not recognize: the first unknown option
    with its close matches among the command's options, or the first stray argument."""
    from harness.registry import unknown_name
    helps = f"`{parser.prog} --help` lists its options"
    option = next((e for e in extras if e.startswith("-")), None)
    if option is None:
        return HarnessError(f"unexpected argument {extras[0]!r} for `{parser.prog}`",
                            f"remove it, or give the option it belongs to ({helps})")
    name = option.split("=", 1)[0]
    error = unknown_name("option", name, _options(parser))
    fix = f"{error.fix} ({helps})" if error.fix.startswith("did you mean") else helps
    return HarnessError(f"unknown option {name!r} of `{parser.prog}`", fix)


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
            from harness.registry import unknown_name
            known = [k.strip().strip("'") for k in invalid["known"].split(",")]
            close = unknown_name("choice", invalid["given"], known).fix
            fix = close if close.startswith("did you mean") else f"choose from {', '.join(known)}"
            problem = (f"unknown command {invalid['given']!r}" if invalid["arg"] == "command"
                       else f"{invalid['given']!r} is not a choice of `{self.prog}` ({invalid['arg']})")
            raise HarnessError(problem, f"{fix} ({helps})")
        raise HarnessError(message, helps)
