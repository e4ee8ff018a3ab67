"""The test tree's layout: tests are found by the module they test, helpers come from support.py (or
another helper module) and fixtures through pytest, never by importing conftest."""
from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
WORK_BRANCH_WORDS = ("attack", "wave", "round", "issue", "fixup")


def test_no_test_imports_conftest():
    found = []
    for path in sorted(TESTS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [node.module] if isinstance(node, ast.ImportFrom) else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if "conftest" in names:
                found.append(f"{path.name}:{node.lineno}")
    assert not found, f"import helpers from support.py and use fixtures, not conftest: {found}"


def test_test_files_are_named_after_what_they_test_not_after_work():
    named = [p.name for p in TESTS.glob("test_*.py") if any(w in p.stem.split("_") for w in WORK_BRANCH_WORDS)]
    assert not named, f"name test files after the module or command they test: {named}"
