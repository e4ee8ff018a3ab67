"""One module per `harness` command. Each module holds the command's parser (`add_parser(sub)`)
and its body (`execute(args) -> exit code`), and imports what it needs only inside `execute`, so
`harness --help` stays fast. To add a command, add a module here and its name to COMMANDS."""
from __future__ import annotations

import importlib
from types import ModuleType

COMMANDS: tuple[str, ...] = ("run", "list", "show", "compare", "gate", "bless", "history", "export", "tune")


def load(name: str) -> ModuleType:
    return importlib.import_module(f"harness.commands.{'list_' if name == 'list' else name}")
