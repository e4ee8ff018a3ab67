"""Single-run bootstrap: one set of resampled indices per task for every model, so two models with
identical predictions get identical intervals whatever their names."""
from __future__ import annotations

from types import SimpleNamespace

from harness.kinds.base import MetricSpec
from harness.results import task_result


def _task():
    examples = [SimpleNamespace(id=f"e{i}") for i in range(30)]
    return SimpleNamespace(name="t", kind=SimpleNamespace(name="generate"), examples=examples,
                           metrics=(MetricSpec("exact_match", "exact_match"), MetricSpec("bleu", "bleu")))


def _records(model: str) -> list[dict]:
    return [{"model": model, "task": "t", "id": f"e{i}", "index": i, "reference": f"the cat sat {i}",
             "prediction": f"the cat sat {i}" if i % 3 else f"a dog ran {i}", "views": {}} for i in range(30)]


def test_identical_predictions_under_different_names_get_identical_intervals():
    task = _task()
    a = task_result(task, _records("full"), "full", 1234, 200)
    b = task_result(task, _records("a-much-longer-name"), "a-much-longer-name", 1234, 200)
    for metric in ("exact_match", "bleu"):
        assert a["metrics"][metric]["value"] == b["metrics"][metric]["value"]
        assert a["metrics"][metric]["stderr"] == b["metrics"][metric]["stderr"]
        assert a["metrics"][metric]["ci95"] == b["metrics"][metric]["ci95"]
    assert a["metrics"]["exact_match"]["stderr"] > 0          # a real interval, not a degenerate one


def test_probe_summaries_do_not_depend_on_the_model_name():
    from harness.plugins import PROBES
    from harness.probes.base import ProbeConfig
    records = [{"model": m, "task": "probe:cf", "id": f"x|{i}", "index": i, "input": "v", "prediction": "a",
                "reference": "a", "scores": {"flipped": float(i % 4 == 0), "score_shift": 0.1 * (i % 5)},
                "details": {"axis": "gender", "original": "o", "task": "t", "shift_of": "probability"}}
               for m in ("m1",) for i in range(25)]
    config = ProbeConfig(name="cf", probe="counterfactual")
    a = PROBES.get("counterfactual")().summarize(records, config, 7)
    b = PROBES.get("counterfactual")().summarize([{**r, "model": "other"} for r in records], config, 7)
    assert a["metrics"] == b["metrics"]
