"""lm-eval's Jinja templates compiled once (harness.lmeval.templates): building a few-shot task's
requests compiles each template string once instead of once per rendering, and every prompt is the
text lm-eval's own ``apply_template`` renders."""
from __future__ import annotations

import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from lmeval_tasks import REPO, write

pytest.importorskip("lm_eval", reason="lm-eval is in the test extra")


def _spec(include, **kw):
    return SimpleNamespace(lm_eval_include=(include,), trust_task_code=False, seed=1234, limit=None, **kw)


def test_building_a_few_shot_task_compiles_each_template_once(tmp_path, monkeypatch):
    from jinja2 import Environment

    from harness.lmeval.prepare import prepare
    include = write(tmp_path / "tasks")
    compiled: list[str] = []
    original = Environment.from_string

    def counting(self, source, *args, **kwargs):
        compiled.append(source)
        return original(self, source, *args, **kwargs)

    monkeypatch.setattr(Environment, "from_string", counting)
    from harness.lmeval import templates
    templates._compiled.cache_clear()
    (task,) = prepare(["tl_facts"], _spec(include))
    assert len(task.examples) == 24                   # 3 shots + the item: 4 renderings of each template per item
    assert compiled and len(compiled) == len(set(compiled)), sorted(compiled)


def test_the_prompts_are_the_text_lm_evals_own_apply_template_renders(tmp_path, monkeypatch):
    import lm_eval.utils as utils
    from lm_eval.tasks import TaskManager

    from harness.lmeval import templates
    include = write(tmp_path / "tasks")
    templates.compile_once()
    cached = utils.apply_template
    assert getattr(cached, "__wrapped__", None) is not None

    def requests(apply_template) -> list:
        monkeypatch.setattr(utils, "apply_template", apply_template)
        task = TaskManager(include_path=str(include), include_defaults=False).load(["tl_facts", "tl_gen"])["tasks"]
        out = []
        for t in task.values():
            t.set_fewshot_seed(seed=1234)
            t.build_all_requests(limit=None, rank=0, world_size=1)
            out += [(t.task_name, i.doc_id, i.idx, i.args) for i in t.instances]
        return out

    ours, theirs = requests(cached), requests(cached.__wrapped__)
    assert len(ours) > 100 and ours == theirs


def test_the_request_building_benchmark_runs_and_finds_every_request_the_same(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "lmeval_requests.py"), "--items", "64",
                           "--rounds", "1"], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "64 items, 5 shots per item" in proc.stdout and proc.stdout.rstrip().endswith("| yes |")
