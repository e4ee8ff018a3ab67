"""Reading a YAML file (task, probe or gate policy): data only (``yaml.safe_load``), bounded in size,
and a key given twice in one mapping refused with both lines named (YAML would keep the last one
silently, so `prompt:` written twice runs a prompt the author may not have meant, and a policy rule
with `min: 0.99` then `min: 0.0` would gate nothing). Aliases are walked once each, so an alias
"bomb" costs no more to check than to parse. Every reader of YAML in the harness goes through here."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from harness.errors import HarnessError

MAX_YAML_BYTES = 8 * 2**20      # a task file is a few lines; a prompt is bounded at 1M characters anyway
TASK_FILE_FIX = "point --tasks-dir at a folder of YAML files"
TOO_LARGE_FIX = "keep data in a .jsonl file beside it and name it under `data:`"


def read_yaml(path: Path, what: str = "task file") -> Any:
    """The parsed file; every problem is a HarnessError naming the file (and line where there is one)."""
    return parse_yaml(read_bounded(path, what), path, what)


def read_bounded(path: Path, what: str, *, limit: int = MAX_YAML_BYTES, too_large_fix: str = TOO_LARGE_FIX,
                 not_a_file_fix: str | None = TASK_FILE_FIX) -> bytes:
    """The file's bytes, never more than ``limit`` read (a path to /dev/zero or to a dataset must not
    be read forever). With ``not_a_file_fix`` anything but a regular file is refused with that fix;
    without it a pipe (`--policy <(...)`) is read too."""
    try:
        if not_a_file_fix is not None and not path.is_file():
            raise HarnessError(f"{what} {path} is not a regular file", not_a_file_fix)
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise HarnessError(f"cannot read {what} {path}: {exc.strerror}", "check the path and its permissions") from None
    if len(data) > limit:
        raise HarnessError(f"{what} {path} is larger than {limit / 2**20:g} MiB", too_large_fix)
    return data


def parse_yaml(data: bytes, path: Path, what: str) -> Any:
    """``yaml.safe_load`` of UTF-8 bytes, after refusing duplicate keys; errors name ``path``."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise HarnessError(f"{what} {path} is not UTF-8 text", "save it as UTF-8") from None
    try:
        _refuse_duplicate_keys(yaml.compose(text, Loader=yaml.SafeLoader), path, what)
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise HarnessError(f"malformed YAML in {what} at {where}: {problem}", "fix the YAML syntax at that line") from None
    except RecursionError:
        raise HarnessError(f"{what} {path} is nested too deeply to parse", "write it as plain keys") from None


def _refuse_duplicate_keys(root: yaml.Node | None, path: Path, what: str) -> None:
    seen: set[int] = set()
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[tuple[str, str], int] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    if (key.tag, key.value) in first:
                        raise HarnessError(
                            f"{what} {path}:{key.start_mark.line + 1}: key {key.value[:80]!r} is given twice (first at "
                            f"line {first[key.tag, key.value]})", "keep one of them: YAML would silently use the last")
                    first[key.tag, key.value] = key.start_mark.line + 1
                stack.extend((key, value))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
