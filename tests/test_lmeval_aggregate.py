"""harness.lmeval.aggregate through the typed results (harness.results.assembly.lm_eval_groups): a
group's entry is a TaskResult (its own fields kept), "not measured" is value null with the reason
(no `not_measured` key), and a group whose aggregate raises is a summary failure of that group
alone. lm-eval's Group is stood in for by a small fake with the attributes the module reads."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from harness.results.types import TaskResult

pytest.importorskip("lm_eval", reason="lm-eval is in the test extra")

ACC = [[1, 1, 0, 1, 0, 1, 1, 0], [0, 1, 0, 0]]          # tl_a's and tl_b's per-item acc


class FakeGroup:
    has_aggregation, version = True, 1.0
    aggregate_metric_list = [SimpleNamespace(metric="acc", filter_list=["none"], weight_by_size=True)]

    def __init__(self, aggregate=None):
        self._aggregate = aggregate

    def get_all_tasks(self):
        return [SimpleNamespace(task_name="tl_a"), SimpleNamespace(task_name="tl_b")]

    def aggregate(self, metrics: dict) -> dict:
        if self._aggregate is not None:
            return self._aggregate(metrics)
        sizes = [metrics[t]["sample_len"] for t in ("tl_a", "tl_b")]
        accs = [metrics[t]["acc,none"] for t in ("tl_a", "tl_b")]
        return {"acc,none": float(np.dot(sizes, accs) / sum(sizes)), "acc_stderr,none": "N/A"}


def tasks_of(group: FakeGroup) -> list:
    from lm_eval.api.metrics import mean
    selection = SimpleNamespace(groups={"tl_group": group})
    kind = SimpleNamespace(task=SimpleNamespace(aggregation=lambda: {"acc": mean}))
    return [SimpleNamespace(name=f"lm-eval:tl_{n}", selection=selection, kind=kind) for n in ("a", "b")]


def entries(which=("a", "b")) -> tuple[dict, dict]:
    per_task, records_of = {}, {}
    for name, values in zip(("a", "b"), ACC):
        if name not in which:
            continue
        records_of[f"lm-eval:tl_{name}"] = [{"index": i, "scores": {"acc": v}} for i, v in enumerate(values)]
        per_task[f"lm-eval:tl_{name}"] = TaskResult.model_validate({
            "kind": "lm-eval:multiple_choice", "n": len(values), "n_expected": len(values),
            "invalid": {"n": 0, "reasons": {}},
            "metrics": {"acc": {"value": float(np.mean(values)), "stderr": 0.1, "ci95": [0.0, 1.0], "n": len(values),
                                "higher_is_better": True, "aggregation": "mean"}}})
    return per_task, records_of


def groups(group: FakeGroup, which=("a", "b")) -> tuple[dict, list]:
    from harness.results.assembly import lm_eval_groups
    per_task, records_of = entries(which)
    failures: list = []
    spec = SimpleNamespace(seed=1234, bootstrap_resamples=200)
    found = lm_eval_groups(tasks_of(group), per_task, records_of, spec, failures, "m", lambda names, metrics: None)
    return found, failures


def test_a_groups_entry_is_a_typed_task_result_with_lm_evals_weighted_aggregate_and_its_interval():
    found, failures = groups(FakeGroup())
    group = found["lm-eval:tl_group"]
    acc = group.metrics["acc"]
    assert failures == [] and group.kind == "lm-eval:group" and group.n == 12
    assert acc.value == pytest.approx((8 * 5 / 8 + 4 * 1 / 4) / 12)
    assert acc.interval is not None and acc.interval[0] <= acc.value <= acc.interval[1] and acc.n == 12
    assert acc.extra("aggregation") == "mean over subtasks, weighted by size"
    assert group.extra("subtasks") == ["lm-eval:tl_a", "lm-eval:tl_b"]
    assert group.to_json()["lm_eval"]["group"] == "tl_group"


def test_a_group_with_a_missing_subtask_is_not_measured_with_the_reason_spelt_once():
    found, failures = groups(FakeGroup(), which=("a",))
    acc = found["lm-eval:tl_group"].metrics["acc"]
    assert failures == [] and acc.value is None and "lm-eval:tl_b" in acc.reason
    written = found["lm-eval:tl_group"].to_json()["metrics"]["acc"]
    assert "not_measured" not in written and written["reason"] == acc.reason and written["ci95"] == [None, None]


def test_a_group_whose_aggregate_raises_is_a_summary_failure_of_that_group_only(capsys):
    def boom(metrics):
        raise ZeroDivisionError("a group of nothing")
    found, failures = groups(FakeGroup(aggregate=boom))
    assert found == {}
    (failure,) = failures
    assert (failure.kind, failure.piece, failure.model) == ("summary", "lm-eval:tl_group", "m")
    assert "ZeroDivisionError: a group of nothing" in failure.error
    assert "lm-eval:tl_group" in capsys.readouterr().err


def test_not_measured_is_results_one_spelling():
    from harness.lmeval.aggregate import not_measured
    value = not_measured("no document was scored", 3)
    assert value == {"value": None, "stderr": None, "ci95": [None, None], "n": 3, "reason": "no document was scored"}
