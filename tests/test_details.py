"""harness.report.details: a probe's subgroup tables fit the page."""
from __future__ import annotations

from harness.report.cells import Notes
from harness.report.details import WIDE_COLUMNS, subgroup_tables


def ci(v: float) -> dict:
    return {"value": v, "stderr": 0.01, "ci95": [v - 0.1, v + 0.1], "n": 30}


def robustness_subgroups() -> dict:
    """The robustness probe's shape: each task's worst case and perturbations, each task with its own metric."""
    groups = {}
    for task, metric in (("facts_mc", "accuracy"), ("toyzh", "bleu"), ("toylang", "rouge1")):
        groups[f"{task}/worst_case"] = {f"worst_case_{metric}": ci(0.1), f"clean_{metric}": ci(0.6)}
        for p in ("typo", "zero_width"):
            groups[f"{task}/{p}"] = {"fail_rate": ci(0.5), f"{metric}_perturbed": ci(0.2), f"{metric}_clean": ci(0.6),
                                     "inputs_changed": 25, "inputs": 30, "severity": 0.05}
    return groups


def test_a_wide_subgroup_table_is_split_by_task_with_only_its_own_columns():
    view = subgroup_tables(robustness_subgroups(), Notes())
    assert view["n"] == 9 and [t["title"] for t in view["tables"]] == ["facts_mc", "toyzh", "toylang"]
    facts = view["tables"][0]
    assert facts["columns"] == ["worst_case_accuracy", "clean_accuracy", "fail_rate", "accuracy_perturbed", "accuracy_clean",
                                "inputs_changed", "inputs", "severity"]
    assert all(len(r["cells"]) == 8 for r in facts["rows"]) and facts["wide"]      # 8 > WIDE_COLUMNS (7): its cells wrap
    assert not any("bleu" in c or "rouge" in c for c in facts["columns"])


def test_a_narrow_subgroup_table_stays_one_table():
    groups = {"gender": {"flip_rate": ci(0.1), "p_value": 0.2}, "race": {"flip_rate": ci(0.2), "p_value": 0.01}}
    view = subgroup_tables(groups, Notes())
    assert len(view["tables"]) == 1 and view["tables"][0]["title"] == "" and not view["tables"][0]["wide"]
    assert len(view["tables"][0]["columns"]) <= WIDE_COLUMNS
