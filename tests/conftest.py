"""Test isolation (no hub access, a throw-away HF_HOME, quiet libraries) and the shared fixtures.
Helper functions are in support.py (``from support import ...``), never imported from here."""
from __future__ import annotations

import os
import tempfile

import pytest

_HF_HOME = tempfile.mkdtemp(prefix="harness-test-hf-")
os.environ.update({"HF_HOME": _HF_HOME, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
                   "TOKENIZERS_PARALLELISM": "false", "CODECARBON_LOG_LEVEL": "error"})

from support import run_cli  # noqa: E402  (after the environment above: the helpers' subprocesses inherit it)


@pytest.fixture(scope="session")
def default_run(tmp_path_factory):
    """`harness run` with no arguments, once per session (the embedded-model and report-browser tests read it)."""
    out = tmp_path_factory.mktemp("reports")
    proc = run_cli("run", "--out", str(out), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    return proc, next(p for p in out.iterdir() if p.is_dir())   # beside history.sqlite
