"""Finished run folders of planted fake classifiers (tests/fake_models.py PlantedFlips), metered, made in
this process in seconds: for the compare.html tests."""
from __future__ import annotations

import json
from pathlib import Path

TESTS = Path(__file__).resolve().parent
VARIANTS = (("full", "1"), ("small", "2-3-4-5-6-7"), ("tiny", "2-3-9"))


def planted_runs(root: Path, variants=VARIANTS[:2]) -> list[Path]:
    """One run folder per (name, wrong items) under ``root``; the caller has tests/ on sys.path."""
    from harness.cli import main
    rows = [{"id": f"q{i}", "text": f"item {i}: label {'a' if i % 2 else 'b'}", "label": "a" if i % 2 else "b"}
            for i in range(40)]
    task = root / "tasks" / "t"
    task.mkdir(parents=True)
    (task / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (task / "task.yaml").write_text('name: t\ndata: data.jsonl\nkind: classify\nprompt: "{text}"\nanswer: label\n'
                                    'labels: [a, b]\nmetrics: [accuracy, f1_macro]\n')
    runs = []
    for name, wrong in variants:
        code = main(["run", "--model", f"{name}=py:fake_models:PlantedFlips,wrong={wrong}", "--tasks", "t", "--tasks-dir",
                     str(root / "tasks"), "--no-probes", "--no-progress", "--idle-seconds", "0",
                     "--carbon-intensity", "300", "--out", str(root / name)])
        assert code == 0
        runs.append(next(p for p in (root / name).iterdir() if p.is_dir()))
    return runs
