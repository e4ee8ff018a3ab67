"""Parity with lm-eval itself: every metric lm-eval's simple_evaluate (HFLM, same model folder, same
task YAMLs) reports equals the one `harness run --tasks lm-eval:...` reports, and ours carry 95%
intervals. One task of each output type (multiple choice with 3 shots, generate_until with a regex
filter, loglikelihood_rolling) and a group with a size-weighted aggregate, on tiny-gpt2 and on a
26M-parameter random GPT-2 (benchmarks/make_models.py); --limit takes the same documents."""
from __future__ import annotations

import json
import math
import subprocess
import sys
import time

import pytest

from lmeval_tasks import REPO, write
from run_folders import in_process

pytest.importorskip("lm_eval", reason="lm-eval is in the test extra")
pytestmark = pytest.mark.slow

NAMES = ("tl_facts", "tl_gen", "tl_ppl", "tl_group")
REL = 1e-6             # float32 sums in batches padded differently: the last digits may differ


@pytest.fixture(scope="module")
def include(tmp_path_factory):
    return write(tmp_path_factory.mktemp("lm_eval_tasks"))


@pytest.fixture(scope="module")
def gpt2_26m(tmp_path_factory):
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        from make_models import build
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    return build(tmp_path_factory.mktemp("models"), "gpt2-26m")


def lm_eval_results(model_dir, include, names, limit=None) -> dict:
    cmd = [sys.executable, str(REPO / "tests" / "lmeval_reference.py"), str(model_dir), str(include), ",".join(names)]
    proc = subprocess.run(cmd + ([str(limit)] if limit else []), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def harness_results(capsys, tmp_path, model_spec, include, names, limit=None) -> dict:
    out = tmp_path / "out"
    proc = in_process(capsys, "run", "--model", f"m={model_spec}", "--tasks", ",".join(f"lm-eval:{n}" for n in names),
                      "--lm-eval-include", str(include), "--no-probes", "--no-meters", "--no-progress", "--out", str(out),
                      *(["--limit", str(limit)] if limit else []))
    assert proc.returncode == 0, proc.stderr
    run = next(p for p in out.iterdir() if p.is_dir())
    return json.loads((run / "results.json").read_text())["models"]["m"]["tasks"]


def assert_parity(ours: dict, theirs: dict) -> float:
    """Every metric of lm-eval's equals ours, with an interval around it; returns the largest relative gap."""
    worst = 0.0
    for task, metrics in theirs.items():
        entry = ours[f"lm-eval:{task}"]
        readable = {(k.split(",")[0] if k.endswith(",none") else "{}[{}]".format(*k.split(",", 1))): v
                    for k, v in metrics.items()}
        assert set(entry["metrics"]) == set(readable), (task, sorted(entry["metrics"]), sorted(readable))
        for key, value in readable.items():
            mine = entry["metrics"][key]
            assert mine["value"] == pytest.approx(value, rel=REL, abs=1e-12), (task, key, mine["value"], value)
            worst = max(worst, abs(mine["value"] - value) / max(abs(value), 1e-12))
            low, high = mine["ci95"]
            assert low is not None and high is not None and mine["stderr"] is not None, (task, key, mine)
            assert low - 1e-9 <= mine["value"] <= high + 1e-9 or math.isclose(low, high), (task, key, mine)
    return worst


@pytest.mark.parametrize("model", ["tiny-gpt2", "gpt2-26m"])
def test_every_metric_lm_eval_reports_equals_ours_and_ours_carry_95_intervals(model, include, capsys, tmp_path,
                                                                                request):
    folder = REPO / "model" / "tiny-gpt2" if model == "tiny-gpt2" else request.getfixturevalue("gpt2_26m")
    started = time.perf_counter()
    theirs = lm_eval_results(folder, include, NAMES)
    lm_eval_s = time.perf_counter() - started
    ours = harness_results(capsys, tmp_path, f"hf-causal:{folder}", include, NAMES)
    worst = assert_parity(ours, theirs)
    assert set(theirs) == {"tl_facts", "tl_gen", "tl_ppl", "tl_group", "tl_sounds", "tl_colours"}
    assert ours["lm-eval:tl_group"]["metrics"]["acc"]["aggregation"] == "mean over subtasks, weighted by size"
    sizes = [ours[f"lm-eval:tl_{n}"]["n"] for n in ("sounds", "colours")]
    accs = [ours[f"lm-eval:tl_{n}"]["metrics"]["acc"]["value"] for n in ("sounds", "colours")]
    assert sizes[0] != sizes[1]          # weighted and unweighted means differ unless the accuracies agree
    assert ours["lm-eval:tl_group"]["metrics"]["acc"]["value"] == pytest.approx(
        (sizes[0] * accs[0] + sizes[1] * accs[1]) / sum(sizes))
    print(f"\n{model}: {sum(len(m) for m in theirs.values())} metrics equal, largest relative gap {worst:.1e}; "
          f"lm-eval {lm_eval_s:.1f} s, harness {time.perf_counter() - started - lm_eval_s:.1f} s")


def test_limit_takes_the_documents_and_shots_lm_evals_limit_takes(include, capsys, tmp_path):
    folder = REPO / "model" / "tiny-gpt2"
    theirs = lm_eval_results(folder, include, ("tl_facts", "tl_gen"), limit=5)
    ours = harness_results(capsys, tmp_path, f"hf-causal:{folder}", include, ("tl_facts", "tl_gen"), limit=5)
    assert_parity(ours, theirs)
    assert ours["lm-eval:tl_facts"]["n"] == ours["lm-eval:tl_gen"]["n"] == 5
