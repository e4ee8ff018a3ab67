"""A non-editable install carries tasks/ and model/ inside the package."""
from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest

from support import REPO


@pytest.mark.slow
def test_wheel_ships_tasks_and_embedded_model(tmp_path):
    pytest.importorskip("hatchling")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(tmp_path), str(REPO)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in ("harness/cli.py", "harness/report/templates/report.html.j2",
                     "harness/_builtin/tasks/facts_mc/task.yaml", "harness/_builtin/tasks/topic/test.jsonl",
                     "harness/_builtin/model/tiny-gpt2/model.safetensors", "harness/_builtin/model/tiny-gpt2/tokenizer.json",
                     "harness/_builtin/model/minilm-head/head.safetensors", "harness/_builtin/results.schema.json"):
        assert required in names, required
    assert not any(n.split("/")[0] in ("tasks", "model", "tests") for n in names)   # harness is the only top-level package
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    listed = zipfile.ZipFile(wheel).read(entry_points).decode()       # the built-ins register through these
    for line in ("[harness.models]", "tiny-gpt2 = harness.models.embedded:tiny_gpt2", "[harness.after_run]",
                 "compare = harness.compare.after_run", "safety = harness.probes.safety:Safety"):
        assert line in listed, line
