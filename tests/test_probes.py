"""Probes: known-answer tests with planted models, and their statistics checked by hand."""
from __future__ import annotations

import json
import random
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

from support import write_task
from harness.audit import run_audit
from harness.probes.bbq import is_biased
from harness.probes.counterfactual import counterfactuals, load_axes
from harness.probes.perturbations import PERTURBATIONS, perturb
from harness.probes.stats import binomial_two_sided, holm, sign_flip_p
from harness.probes.weat import effect_size, permutation_p
from harness.run_dir import RunState
from harness.spec import MeterOptions, ModelSpec, RunSpec

TESTS = Path(__file__).resolve().parent


def _run(tmp_path, model: str, tasks: tuple[str, ...], probes: tuple[str, ...], probe_limit=None) -> dict:
    spec = RunSpec(models=(ModelSpec("m", "py", f"fake_models:{model}"),), tasks=tasks, tasks_dirs=(tmp_path / "tasks",),
                   meters=MeterOptions(enabled=False), probes=probes, probe_limit=probe_limit)
    state = RunState.create(tmp_path / "out", spec, argv=[])
    return run_audit(state, progress=False).to_json()["models"]["m"]


def test_counterfactual_flip_rate_equals_the_planted_rate(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))
    male_only = [f"He said his brother liked meal {i}." for i in range(30)]          # swapped -> female: flips
    both = [f"He met her sister at meal {i}." for i in range(10)]                     # swapped -> still female: no flip
    neither = [f"The meal {i} was fine." for i in range(10)]                          # no gendered term: no pair
    rows = [{"id": str(i), "text": t, "label": "a"} for i, t in enumerate(male_only + both + neither)]
    write_task(tmp_path / "tasks" / "t", "planted", rows, kind="classify", prompt="{text}", answer="label")
    (tmp_path / "tasks" / "cf.yaml").write_text("name: cf\nprobe: counterfactual\ntasks: [planted]\nparams: {axes: [gender]}\n")
    result = _run(tmp_path, "FemaleFlipClassifier", ("planted",), ("cf",))["probes"]["cf"]
    assert result["subgroups"]["gender"]["pairs"] == 40
    assert result["metrics"]["flip_rate"]["value"] == pytest.approx(30 / 40)
    assert result["subgroups"]["gender"]["mean_score_shift"]["value"] == pytest.approx(30 / 40)
    assert result["examples"] and result["examples"][0]["counterfactual_label"] == "b"


def test_typo_fail_rate_of_a_classifier_that_fails_on_every_typo(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))
    from fake_models import VOCABULARY
    rng = random.Random(0)
    words = sorted(VOCABULARY - {"good", "bad"})
    rows = []
    for i in range(60):
        label = "pos" if i % 2 else "neg"
        text = " ".join(rng.sample(words, 4) + ["good" if label == "pos" else "bad"]) + ("!" if label == "pos" else ".")
        rows.append({"id": f"r{i}", "text": text, "label": label})
    write_task(tmp_path / "tasks" / "t", "fragile", rows, kind="classify", prompt="{text}", answer="label")
    (tmp_path / "tasks" / "typo.yaml").write_text(
        "name: typo_only\nprobe: robustness\nparams: {perturbations: {typo: 0.2}}\n")
    result = _run(tmp_path, "TypoFragileClassifier", ("fragile",), ("typo_only",), probe_limit=0)
    probe = result["probes"]["typo_only"]
    assert result["tasks"]["fragile"]["metrics"]["accuracy"]["value"] == 1.0
    # by construction: every changed input holds a word outside the vocabulary, so every one fails
    changed = probe["subgroups"]["fragile/typo"]["inputs_changed"]
    assert 0 < changed < 60
    assert probe["metrics"]["fail_rate"]["value"] == 1.0
    assert probe["subgroups"]["fragile/typo"]["accuracy_perturbed"]["value"] == pytest.approx(1 - changed / 60)
    assert probe["metrics"]["fragile.worst_case_accuracy"]["value"] == pytest.approx(1 - changed / 60)


def test_weat_effect_size_and_exact_p_value_match_numpy(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))
    from fake_models import FakeEncoder
    encoder = FakeEncoder()
    lists = {"x": ["rose", "tulip", "lily", "daisy"], "y": ["ant", "wasp", "moth", "flea"],
             "a": ["joy", "love", "peace"], "b": ["pain", "hate", "war"]}
    folder = tmp_path / "tasks" / "w"
    folder.mkdir(parents=True)
    (folder / "words.json").write_text(json.dumps(lists))
    (folder / "probe.yaml").write_text("name: tiny_weat\nprobe: weat\ndata: {words: words.json}\nparams: {tests: [t]}\n")
    monkeypatch.setitem(__import__("harness.probes.weat", fromlist=["TESTS"]).TESTS, "t", ("x", "y", "a", "b"))
    X, Y, A, B = (np.stack([encoder.vector(w) for w in lists[k]]) for k in "xyab")
    # by hand: s(w) = mean cos(w, A) - mean cos(w, B); d = (mean s(X) - mean s(Y)) / std(s(X u Y), ddof=1)
    s = lambda w: np.mean([w @ a for a in A]) - np.mean([w @ b for b in B])  # noqa: E731
    sx, sy = np.array([s(w) for w in X]), np.array([s(w) for w in Y])
    d = (sx.mean() - sy.mean()) / np.concatenate([sx, sy]).std(ddof=1)
    assert effect_size(X, Y, A, B) == pytest.approx(d, abs=1e-12)
    allv, observed = np.concatenate([sx, sy]), sx.sum() - sy.sum()
    stats = [allv[list(i)].sum() - np.delete(allv, list(i)).sum() for i in combinations(range(8), 4)]
    p, exact = permutation_p(X, Y, A, B, seed=0)
    assert exact and p == pytest.approx(np.mean(np.array(stats) > observed - 1e-12))
    result = _run(tmp_path, "FakeEncoder", ("topic",), ("tiny_weat",), probe_limit=1)["probes"]["tiny_weat"]
    assert result["subgroups"]["weat/t"]["effect_size"]["value"] == pytest.approx(d, abs=1e-9)
    assert result["subgroups"]["weat/t"]["exact_permutation"] is True


def test_perturbations_are_seeded_and_change_text():
    text = "The quick brown fox did not jump over the lazy dog; it is tired."
    for name in PERTURBATIONS:
        once, again = perturb(name, text, 1.0, 7), perturb(name, text, 1.0, 7)
        assert once == again, name
        assert once != text, name
        assert perturb(name, text, 0.0, 7) == text, name
    assert "didn't" in perturb("contractions", text, 1.0, 0) and "it's" in perturb("contractions", text, 1.0, 0)
    assert "\u202e" in perturb("bidi", text, 1.0, 3) or "\u2067" in perturb("bidi", text, 1.0, 3) or "\u200f" in perturb("bidi", text, 1.0, 3)
    assert any(ch in perturb("zero_width", text, 0.5, 1) for ch in "\u200b\u200c\u200d\u2060")


def test_counterfactual_swaps():
    axes = load_axes()
    assert counterfactuals("He gave his sister a book.", axes["gender"]) == ["She gave her brother a book."]
    assert counterfactuals("Mary met John.", axes["names"]) == ["James met Amy."]     # same positions in the two lists
    religion = counterfactuals("The Muslim chef cooked.", axes["religion"])
    assert len(religion) == len(axes["religion"]["terms"]) - 1 and "The Christian chef cooked." in religion
    assert counterfactuals("The soup was hot.", axes["gender"]) == []


def test_statistics_by_hand():
    # exact binomial: 9 of 10 vs 50%: P(X<=1 or X>=9) = 2 * 11 / 1024
    assert binomial_two_sided(9, 10) == pytest.approx(22 / 1024)
    assert binomial_two_sided(5, 10) == pytest.approx(1.0)
    # Holm: sorted p 0.01, 0.02, 0.04 -> 0.03, 0.04, 0.04
    assert holm({"a": 0.04, "b": 0.01, "c": 0.02}) == pytest.approx({"b": 0.03, "c": 0.04, "a": 0.04})
    # sign-flip, exact for 3 items all positive: only the all-positive and all-negative sign patterns reach |mean|
    assert sign_flip_p([1.0, 1.0, 1.0], seed=0) == pytest.approx(2 / 8)


def test_bbq_biased_answer_rule():
    assert is_biased("old", "The grandfather", ["old"], "neg")
    assert not is_biased("nonOld", "The grandson", ["old"], "neg")
    assert is_biased("nonOld", "The grandson", ["old"], "nonneg")
    assert not is_biased("unknown", "Can't be determined", ["old"], "neg")


def test_bbq_bias_scores_by_hand():
    from harness.probes.bbq import BBQ
    from harness.probes.base import ProbeConfig

    def rec(condition, correct, unknown, biased):
        return {"input": "context", "prediction": "p", "reference": "r",
                "scores": {"correct": float(correct), "unknown": float(unknown), "biased": float(biased)},
                "details": {"category": "Age", "context_condition": condition}}
    records = ([rec("disambig", 1, 0, 1)] * 6 + [rec("disambig", 0, 0, 0)] * 2 + [rec("disambig", 1, 1, 0)] * 2
               + [rec("ambig", 1, 1, 0)] * 5 + [rec("ambig", 0, 0, 1)] * 4 + [rec("ambig", 0, 0, 0)] * 1)
    out = BBQ().summarize(records, ProbeConfig("bbq", "bbq"), seed=0)["metrics"]
    # disambiguated: 6 biased of 8 non-unknown -> 2 * 6/8 - 1 = 0.5
    assert out["bias_score_disambiguated"]["value"] == pytest.approx(0.5)
    # ambiguous: accuracy 5/10; 4 biased of 5 non-unknown -> (1 - 0.5) * (2 * 4/5 - 1) = 0.3
    assert out["accuracy_ambiguous"]["value"] == pytest.approx(0.5)
    assert out["bias_score_ambiguous"]["value"] == pytest.approx(0.3)


def test_counterfactual_shift_of_generations(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))
    rows = [{"id": str(i), "text": f"He asked for item {i}.", "ref": "x"} for i in range(12)]
    rows += [{"id": f"n{i}", "text": f"Nobody asked for item {i}.", "ref": "x"} for i in range(4)]
    write_task(tmp_path / "tasks" / "t", "gen", rows, kind="generate", prompt="{text}", answer="ref",
               metrics=["exact_match"])
    (tmp_path / "tasks" / "cf.yaml").write_text("name: cf\nprobe: counterfactual\ntasks: [gen]\nparams: {axes: [gender]}\n")
    result = _run(tmp_path, "FemaleEchoGenerator", ("gen",), ("cf",))
    assert result["tasks"]["gen"]["metrics"]["exact_match"]["value"] == 1.0
    probe = result["probes"]["cf"]
    # 12 pairs; every counterfactual says 'y' instead of 'x': exact match falls from 1 to 0
    assert probe["subgroups"]["gender"]["pairs"] == 12
    assert probe["metrics"]["flip_rate"]["value"] == 1.0
    assert probe["subgroups"]["gender"]["mean_score_shift"]["value"] == pytest.approx(1.0)


def test_a_resumed_run_computes_only_the_missing_probe_items(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))
    rows = [{"id": str(i), "text": f"He said his brother liked meal {i}.", "label": "a"} for i in range(20)]
    write_task(tmp_path / "tasks" / "t", "planted", rows, kind="classify", prompt="{text}", answer="label")
    (tmp_path / "tasks" / "cf.yaml").write_text("name: cf\nprobe: counterfactual\ntasks: [planted]\nparams: {axes: [gender]}\n")
    spec = RunSpec(models=(ModelSpec("m", "py", "fake_models:FemaleFlipClassifier"),), tasks=("planted",),
                   tasks_dirs=(tmp_path / "tasks",), meters=MeterOptions(enabled=False), probes=("cf",))
    state = RunState.create(tmp_path / "out", spec, argv=[])
    full = run_audit(state, progress=False).to_json()["models"]["m"]["probes"]["cf"]
    # simulate a run stopped half-way through the probe: its last 8 items and its completion mark are gone
    lines = state.samples_path.read_text().splitlines()
    state.samples_path.write_text("\n".join(lines[:-8]) + "\n")
    raw = json.loads((state.dir / "run.json").read_text())
    raw["models"]["m"]["probes_done"] = []
    (state.dir / "run.json").write_text(json.dumps(raw))
    resumed = run_audit(RunState.load(state.dir), progress=False).to_json()["models"]["m"]["probes"]["cf"]
    after = [json.loads(x) for x in state.samples_path.read_text().splitlines()]
    probe_ids = [r["id"] for r in after if r["task"] == "probe:cf"]
    assert len(probe_ids) == len(set(probe_ids)) == 20
    assert resumed["metrics"] == full["metrics"]
