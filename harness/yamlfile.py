"""Reading a task or probe YAML file: data only (``yaml.safe_load``), bounded in size, and a key
given twice in one mapping refused (YAML would keep the last one silently, so `prompt:` written
twice runs a prompt the author may not have meant). Aliases are walked once each, so an alias
"bomb" costs no more to check than to parse."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from harness.errors import HarnessError

MAX_YAML_BYTES = 8 * 2**20      # a task file is a few lines; a prompt is bounded at 1M characters anyway


def read_yaml(path: Path, what: str = "task file") -> Any:
    """The parsed file; every problem is a HarnessError naming the file (and line where there is one)."""
    try:
        if not path.is_file():
            raise HarnessError(f"{what} {path} is not a regular file", "point --tasks-dir at a folder of YAML files")
        with open(path, "rb") as fh:
            data = fh.read(MAX_YAML_BYTES + 1)
    except OSError as exc:
        raise HarnessError(f"cannot read {what} {path}: {exc.strerror}", "check the path and its permissions") from None
    if len(data) > MAX_YAML_BYTES:
        raise HarnessError(f"{what} {path} is larger than {MAX_YAML_BYTES // 2**20} MiB",
                           "keep data in a .jsonl file beside it and name it under `data:`")
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
        raise HarnessError(f"malformed YAML at {where}: {problem}", "fix the YAML syntax at that line") from None
    except RecursionError:
        raise HarnessError(f"{what} {path} is nested too deeply to parse", "write the task as plain keys") from None


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
