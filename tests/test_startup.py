"""`harness list` and `--help` import no heavy library; the lazy registry entries describe what they load."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from support import REPO

HEAVY = ("torch", "transformers", "evaluate", "datasets", "codecarbon", "sacrebleu", "sklearn", "pandas", "rouge_score")

_PROBE = """
import json, sys
heavy = set(json.loads(sys.argv[2]))
sys.argv = ["harness", *json.loads(sys.argv[1])]
from harness.cli import main
main()
sys.stdout.flush()
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules} & heavy)), file=sys.stderr)
"""


@pytest.mark.parametrize("argv", [["--help"], ["list", "models"], ["list", "metrics"], ["list", "tasks"],
                                  ["list", "probes"], ["list", "meters"], ["list", "sections"],
                                  ["run", "--help"]])
def test_listing_and_help_import_no_heavy_library(argv):
    proc = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(argv), json.dumps(HEAVY)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    imported = json.loads(proc.stderr.strip().splitlines()[-1])
    assert imported == [], f"harness {' '.join(argv)} imported {imported}"


def test_importtime_of_list_models_shows_no_heavy_library():
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "harness", "list", "models"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    modules = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in proc.stderr.splitlines()
               if line.startswith("import time:")}
    assert modules and not modules & set(HEAVY)
    assert "hf-causal" in proc.stdout and "tiny-gpt2" in proc.stdout


def test_built_in_entries_are_described_without_import_and_match_their_docstrings():
    """`harness list` reads each built-in's description from its source file; it is the first line of
    the docstring the imported component has."""
    from harness import plugins
    from harness.registry import Lazy, Registry, first_line
    for registry in vars(plugins).values():
        if not isinstance(registry, Registry):
            continue
        fresh = Registry(registry.kind, registry.group, registry.builtin)
        for name in fresh.names():
            item = fresh._items[name]
            assert isinstance(item, Lazy), name
            described = fresh.describe(name)
            component = fresh.get(name)
            assert described == first_line(getattr(component, "__doc__", None) or ""), (registry.group, name)
            assert fresh.origin(name) == item.module, name
        assert fresh.names() or not registry.builtin, registry.group


def test_metric_registry_holds_light_statistics_and_the_package_exports_evaluate_metrics():
    import evaluate

    import harness.metrics as metrics
    from harness.plugins import METRICS
    bleu = METRICS.get("bleu")
    assert not issubclass(bleu, evaluate.Metric)
    assert issubclass(metrics.Bleu, evaluate.Metric) and issubclass(metrics.Bleu, bleu)
    assert metrics.Bleu is metrics.Bleu                       # built once
    preds, refs = ["the cat sat on the mat"], ["the cat is on the mat"]
    assert metrics.Bleu().compute(predictions=preds, references=refs)["bleu"] == bleu.corpus_value(preds, refs)
    with pytest.raises(AttributeError):
        metrics.NoSuchMetric


def test_fast_exit_keeps_exit_code_atexit_handlers_and_buffered_output():
    code = ("import atexit, sys, threading, time\n"
            "from harness.cli import exit_now\n"
            "atexit.register(lambda: print('bye'))\n"
            "if len(sys.argv) > 1:\n"
            "    threading.Thread(target=lambda: (time.sleep(0.5), print('thread done'))).start()\n"
            "print('buffered', end=' ')\n"
            "exit_now(3)\n")
    fast = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert (fast.returncode, fast.stdout) == (3, "buffered bye\n")
    waited = subprocess.run([sys.executable, "-c", code, "thread"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert waited.returncode == 3 and "thread done" in waited.stdout and "bye" in waited.stdout


def test_each_factorys_options_are_read_from_the_light_table_not_kept_beside_it():
    """One table (harness.models.OPTIONS_OF): each built-in factory's ``options`` is that very object."""
    from harness.models import OPTIONS_OF, declared_options
    from harness.plugins import MODELS
    assert set(OPTIONS_OF) == set(MODELS.names())
    for name in MODELS.names():
        declared = getattr(MODELS.get(name), "options", None)
        assert declared is OPTIONS_OF[name] or declared is None is OPTIONS_OF[name], name
        assert declared_options(name) is declared


def test_lazy_builder_keeps_a_metrics_own_evaluate_interface():
    import evaluate

    import harness.metrics as metrics
    from harness.metrics.base import evaluate_metric
    from harness.plugins import METRICS
    ppl = metrics.WordPerplexity
    assert issubclass(ppl, evaluate.Metric) and set(ppl().info.features) == {"loglikelihood", "words"}
    assert ppl().compute(loglikelihood=[-10.0, -6.0], words=[4, 2])["word_perplexity"] == pytest.approx(2.718281828 ** (16 / 6))
    zh = evaluate_metric(METRICS.get("bleu").configured(tokenize="char"))
    preds, refs = ["猫坐在垫子上"], ["猫在垫子上"]
    assert zh().compute(predictions=preds, references=refs)["bleu"] == zh.corpus_value(preds, refs) != \
        metrics.Bleu.corpus_value(preds, refs)
