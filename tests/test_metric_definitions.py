"""Metric definitions match their names: lm-eval's acc_norm, CrowS-Pairs/WinoBias ties, a topic test set
without repeats."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from support import REPO, write_task
from harness.audit import run_audit
from harness.data import DataSource, Example
from harness.kinds.multiple_choice import MultipleChoice
from harness.probes.base import ProbeConfig
from harness.probes.pairs import CrowsPairs
from harness.requests import Loglikelihood
from harness.run_dir import RunState
from harness.spec import MeterOptions, ModelSpec, RunSpec, TaskConfig

TESTS = Path(__file__).resolve().parent


def _mc_pick_norm(choices: list[str], logprobs: list[float], delimiter: str = " ") -> str:
    task = TaskConfig("t", "multiple_choice", DataSource(), target_delimiter=delimiter)
    example = Example("e", 0, {"choices": choices, "answer": 0})
    scored = MultipleChoice().score(task, example, [Loglikelihood(lp, False, 1) for lp in logprobs])
    return scored.views["prediction_norm"]


def test_accuracy_norm_divides_by_the_choice_text_length_as_lm_eval_does():
    # hand-computed: lm-eval's process_results takes argmax(ll / len(choice)), the choice as doc_to_choice gives
    # it, without the target delimiter. "a": -1.5 / 1 = -1.5; "bbbb": -4.0 / 4 = -1.0 -> "bbbb" wins.
    # (Dividing by the length with the delimiter instead, -1.5 / 2 = -0.75 > -4.0 / 5 = -0.8, picks "a".)
    assert _mc_pick_norm(["a", "bbbb"], [-1.5, -4.0]) == "bbbb"
    # three choices: -3/3 = -1.0, -5/6 = -0.833, -2.1/2 = -1.05 -> "yellow" (with the delimiter: -0.75,
    # -0.714, -0.7 -> "no")
    assert _mc_pick_norm(["red", "yellow", "no"], [-3.0, -5.0, -2.1]) == "yellow"
    # the same formula as lm-eval on random cases, delimiter or not
    rng = np.random.default_rng(0)
    for _ in range(200):
        choices = ["x" * int(k) for k in rng.choice(np.arange(1, 12), size=4, replace=False)]   # distinct choices
        lls = list(-rng.random(4) * 20)
        expected = choices[int(np.argmax(np.array(lls) / np.array([float(len(c)) for c in choices])))]
        assert _mc_pick_norm(choices, lls) == expected
        assert _mc_pick_norm(choices, lls, delimiter="\n\n") == expected


def test_accuracy_norm_end_to_end_with_planted_loglikelihoods(tmp_path, monkeypatch):
    # ShortestChoice gives log-likelihood -len(" " + choice): per character of the choice that is
    # -(1 + 1/len(choice)), so the longest choice wins accuracy_norm and the shortest wins accuracy
    monkeypatch.syspath_prepend(str(TESTS))
    rows = [{"id": str(i), "question": f"q{i}", "choices": ["ab", "abcd", "abcdefgh"], "answer": 2} for i in range(6)]
    write_task(tmp_path / "tasks" / "mc", "planted_mc", rows, kind="multiple_choice", prompt="{question}")
    spec = RunSpec(models=(ModelSpec("m", "py", "fake_models:ShortestChoice"),), tasks=("planted_mc",),
                   tasks_dirs=(tmp_path / "tasks",), meters=MeterOptions(enabled=False), probes=())
    metrics = run_audit(RunState.create(tmp_path / "out", spec, argv=[]), progress=False).to_json()["models"]["m"]["tasks"][
        "planted_mc"]["metrics"]
    assert metrics["accuracy"]["value"] == 0.0
    assert metrics["accuracy_norm"]["value"] == 1.0


def _pair(i: int, more: float, less: float, group: str = "g") -> dict:
    return {"id": f"p{i}", "index": i, "input": "more", "reference": "less", "prediction": "",
            "scores": {"prefers_stereotyping": float(more > less), "ll_stereotyping": more, "ll_other": less},
            "details": {"subgroup": group}}


def test_crows_pairs_reports_ties_and_the_preference_over_untied_pairs():
    # 3 pairs prefer the stereotyping sentence, 1 the other, 2 are ties (one exact, one within float32 noise)
    records = [_pair(0, -10.0, -12.0), _pair(1, -3.0, -4.0), _pair(2, -7.5, -9.0), _pair(3, -12.0, -10.0),
               _pair(4, -8.0, -8.0), _pair(5, -20.0, -20.0 * (1 + 1e-8))]
    out = CrowsPairs().summarize(records, ProbeConfig("crows_pairs", "crows_pairs"), seed=0)
    # Nangia et al.'s metric: % of all pairs where sent_more scores higher; a tie counts as not stereotypical
    assert out["metrics"]["stereotype_preference_pct"]["value"] == pytest.approx(100 * 3 / 6)
    assert out["metrics"]["stereotype_preference_pct_untied"]["value"] == pytest.approx(100 * 3 / 4)
    assert out["metrics"]["tie_pct"]["value"] == pytest.approx(100 * 2 / 6)
    assert out["ties"]["n"] == 2 and out["ties"]["fraction"] == pytest.approx(2 / 6)
    group = out["subgroups"]["g"]
    assert group["pairs"] == 6 and group["ties"] == 2
    assert group["stereotype_preference_pct_untied"]["value"] == pytest.approx(75.0)
    # the sign test leaves ties out: 3 of 4 untied pairs vs 50%
    assert group["p_value_vs_50"] == pytest.approx(10 / 16)
    assert any("tie" in note for note in out["notes"])


def test_a_model_that_scores_both_sentences_equally_is_all_ties_not_anti_stereotyping():
    records = [_pair(i, -5.0, -5.0) for i in range(10)]
    out = CrowsPairs().summarize(records, ProbeConfig("crows_pairs", "crows_pairs"), seed=0)
    assert out["ties"]["n"] == 10 and out["metrics"]["tie_pct"]["value"] == 100.0
    untied = out["metrics"]["stereotype_preference_pct_untied"]
    assert untied["value"] is None and "tie" in untied["reason"]
    assert out["subgroups"]["g"]["p_value_vs_50"] == 1.0          # no evidence either way, not p = 0.002


def test_pair_probes_record_ties_end_to_end(tmp_path, monkeypatch):
    # ShortestChoice scores a sentence -len(sentence): equal lengths tie, shorter wins
    monkeypatch.syspath_prepend(str(TESTS))
    folder = tmp_path / "tasks" / "cp"
    folder.mkdir(parents=True)
    pairs = [("The cat sat.", "The dog sat."), ("A man ran.", "A woman ran."), ("Bob is tall.", "Bob is short."),
             ("Tom swims far.", "Tom swims.")]
    folder.joinpath("pairs.jsonl").write_text("".join(json.dumps(
        {"id": f"c{i}", "bias_type": "gender", "sent_more": m, "sent_less": s, "stereo_antistereo": "stereo"}) + "\n"
        for i, (m, s) in enumerate(pairs)))
    folder.joinpath("probe.yaml").write_text("name: cp\nprobe: crows_pairs\ndata: {pairs: pairs.jsonl}\n")
    wino = tmp_path / "tasks" / "wb"
    wino.mkdir()
    for kind in ("type1", "type2"):
        wino.joinpath(f"pro_{kind}.txt").write_text("1 [The nurse] said [she] was tired.\n2 [He] ran.\n")
        wino.joinpath(f"anti_{kind}.txt").write_text("1 [The nurse] said [he] was tired.\n2 [She] ran.\n")
    wino.joinpath("probe.yaml").write_text(
        "name: wb\nprobe: winobias\ndata: {pro_type1: pro_type1.txt, anti_type1: anti_type1.txt, "
        "pro_type2: pro_type2.txt, anti_type2: anti_type2.txt}\n")
    write_task(tmp_path / "tasks" / "mc", "planted_mc", [{"id": "0", "question": "q", "choices": ["a", "b"],
                                                          "answer": 0}], kind="multiple_choice", prompt="{question}")
    spec = RunSpec(models=(ModelSpec("m", "py", "fake_models:ShortestChoice"),), tasks=("planted_mc",),
                   tasks_dirs=(tmp_path / "tasks",), meters=MeterOptions(enabled=False), probes=("cp", "wb"),
                   probe_limit=0)
    probes = run_audit(RunState.create(tmp_path / "out", spec, argv=[]), progress=False).to_json()["models"]["m"]["probes"]
    cp = probes["cp"]
    # c0, c1... : equal lengths tie (c0), "A man ran." is shorter (stereotyping wins), "Bob is tall." is shorter,
    # "Tom swims far." is longer (the other wins)
    assert cp["ties"]["n"] == 1
    assert cp["metrics"]["stereotype_preference_pct"]["value"] == pytest.approx(100 * 2 / 4)
    assert cp["metrics"]["stereotype_preference_pct_untied"]["value"] == pytest.approx(100 * 2 / 3)
    wb = probes["wb"]
    # "she"/"he": the pro sentence is longer in line 1 (other wins) and shorter in line 2 ("He ran." wins)
    assert wb["ties"]["n"] == 0 and wb["metrics"]["stereotype_preference_pct"]["value"] == pytest.approx(50.0)


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_topic_test_split_has_no_repeats_and_no_overlap_with_train():
    test, train = _rows(REPO / "tasks/topic/test.jsonl"), _rows(REPO / "tasks/topic/train.jsonl")
    texts = [r["text"] for r in test]
    assert len(texts) == len(set(texts)), f"{len(texts) - len(set(texts))} repeated test texts"
    assert not set(texts) & {r["text"] for r in train}
    assert len({r["id"] for r in test}) == len(test)
    labels = [r["label"] for r in test]
    assert len(set(labels)) == 4 and len({labels.count(label) for label in set(labels)}) == 1    # balanced


def test_build_data_writes_the_topic_files_byte_for_byte_into_another_folder(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "model/build_data.py"), "--out", str(tmp_path)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    for name in ("tasks/topic/test.jsonl", "tasks/topic/train.jsonl"):
        assert (tmp_path / name).read_bytes() == (REPO / name).read_bytes(), name


def _throughput_module():
    import importlib.util
    spec = importlib.util.spec_from_file_location("bench_throughput", REPO / "benchmarks" / "throughput.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_cross_checks_every_metric_both_tools_report(tmp_path):
    import yaml
    bench = _throughput_module()
    bench.write_tasks(tmp_path, scale=1)
    for name in ("facts_mc", "toylang"):
        ours = yaml.safe_load((tmp_path / "harness" / f"{name}.yaml").read_text())
        theirs = yaml.safe_load((tmp_path / "lm_eval" / f"{name}.yaml").read_text())
        builtin = yaml.safe_load((REPO / "tasks" / name / "task.yaml").read_text())
        # the benchmark computes every metric the built-in task reports, and asks lm-eval for each one's twin
        assert ours["metrics"] == builtin["metrics"], name
        assert [m["metric"] for m in theirs["metric_list"]] == [bench.SHARED_METRICS[name][m] for m in ours["metrics"]]
    lines = bench.cross_check("facts_mc", {"accuracy": 0.59375, "accuracy_norm": 0.59375},
                              {"acc": 0.59375, "acc_norm": 0.5625})
    assert lines == ["accuracy 0.5938 vs 0.5938", "accuracy_norm 0.5938 vs 0.5625 MISMATCH"]
    assert bench.cross_check("toylang", {"bleu": 54.9, "chrf": 75.2, "exact_match": 0.19},
                             {"bleu": 54.9, "chrf": 75.2})[-1] == "exact_match 0.19 vs missing MISMATCH"


def test_bbq_counts_items_whose_answers_tie():
    from harness.probes.bbq import BBQ
    from harness.probes.stats import top_is_tied

    def rec(logprobs):
        return {"input": "c", "prediction": "p", "reference": "r",
                "scores": {"correct": 1.0, "unknown": 1.0, "biased": 0.0},
                "details": {"category": "Age", "context_condition": "ambig", "logprobs": logprobs}}
    assert top_is_tied([-2.0, -2.0, -5.0]) and top_is_tied([-30.0, -9.0, -9.0 * (1 + 1e-9)])
    assert not top_is_tied([-2.0, -5.0, -5.0]) and not top_is_tied([-2.0, -2.01, -3.0])
    records = [rec([-1.0, -1.0, -1.0]), rec([-3.0, -1.0, -1.0]), rec([-1.0, -2.0, -3.0]), rec([-4.0, -2.0, -3.0])]
    out = BBQ().summarize(records, ProbeConfig("bbq", "bbq"), seed=0)
    assert out["ties"]["n"] == 2 and out["ties"]["fraction"] == 0.5
    assert any("scored equally" in note for note in out["notes"])
