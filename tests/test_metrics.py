"""Every metric's value equals the reference library's on the same predictions."""
from __future__ import annotations

import random

import numpy as np
import pytest
import sacrebleu
from rouge_score import rouge_scorer
from sklearn.metrics import accuracy_score, f1_score

from harness.metrics import (Accuracy, Bleu, Chrf, ExactMatch, F1Macro, Rouge1, Rouge2, RougeL, RougeLsum,
                             bootstrap)

HYPS = ["the cat sat on the mat .", "a dog runs in the park", "hello world", "the quick brown fox jumps",
        "it was sunny when Tom walked to the beach", "la miko rudo dormas .", "", "one two three four five six"]
REFS = ["the cat is on the mat .", "the dog ran in the park", "hello there world", "a quick brown fox jumped over",
        "Tom walked to the beach", "la miko rudo dormas .", "nothing at all", "one two three four five six seven"]


def test_bleu_and_chrf_equal_sacrebleu():
    assert Bleu.corpus_value(HYPS, REFS) == pytest.approx(sacrebleu.corpus_bleu(HYPS, [REFS]).score, abs=1e-9)
    assert Chrf.corpus_value(HYPS, REFS) == pytest.approx(sacrebleu.corpus_chrf(HYPS, [REFS]).score, abs=1e-9)


@pytest.mark.parametrize("metric,kind", [(Rouge1, "rouge1"), (Rouge2, "rouge2"), (RougeL, "rougeL"),
                                         (RougeLsum, "rougeLsum")])
def test_rouge_equals_rouge_score(metric, kind):
    scorer = rouge_scorer.RougeScorer([kind])
    expected = np.mean([scorer.score(r, h)[kind].fmeasure for h, r in zip(HYPS, REFS)])
    assert metric.corpus_value(HYPS, REFS) == pytest.approx(expected, abs=1e-12)


def test_classification_metrics_equal_sklearn():
    rng = random.Random(0)
    labels = ["food", "sports", "tech", "weather", "rare"]
    refs = [rng.choice(labels[:4]) for _ in range(200)]
    preds = [r if rng.random() < 0.6 else rng.choice(labels) for r in refs]   # "rare" is predicted, never true
    assert Accuracy.corpus_value(preds, refs) == pytest.approx(accuracy_score(refs, preds))
    assert F1Macro.corpus_value(preds, refs) == pytest.approx(f1_score(refs, preds, average="macro"))
    assert ExactMatch.corpus_value([" a ", "b"], ["a", "c"]) == 0.5


def test_evaluate_metric_interface_works_offline():
    assert Bleu().compute(predictions=HYPS, references=REFS)["bleu"] == pytest.approx(
        sacrebleu.corpus_bleu(HYPS, [REFS]).score)
    assert F1Macro().compute(predictions=["a", "b", "b"], references=["a", "b", "a"])["f1_macro"] == pytest.approx(
        f1_score(["a", "b", "a"], ["a", "b", "b"], average="macro"))


def test_bootstrap_matches_the_analytic_standard_error_for_a_mean():
    rng = np.random.default_rng(1)
    correct = (rng.random(400) < 0.7).astype(float)
    stats = np.column_stack([correct, np.ones_like(correct)])
    value = bootstrap(stats, Accuracy.value_from_totals, resamples=2000, seed=3)
    p = correct.mean()
    assert value.value == pytest.approx(p)
    assert value.stderr == pytest.approx(np.sqrt(p * (1 - p) / len(correct)), rel=0.1)
    assert value.ci95[0] < p < value.ci95[1]
    assert value.ci95[1] - value.ci95[0] == pytest.approx(2 * 1.96 * value.stderr, rel=0.15)
    assert bootstrap(stats, Accuracy.value_from_totals, resamples=2000, seed=3) == value   # seeded


def test_bootstrap_of_a_corpus_metric_recomputes_from_resampled_sentences():
    stats = Bleu.example_stats(HYPS, REFS)
    value = bootstrap(stats, Bleu.value_from_totals, resamples=200, seed=0)
    assert value.value == pytest.approx(sacrebleu.corpus_bleu(HYPS, [REFS]).score)
    # one replicate by hand: the multinomial counts pick sentences, and sacrebleu scores that corpus
    counts = np.random.default_rng(0).multinomial(len(HYPS), np.full(len(HYPS), 1 / len(HYPS)), size=200)[0]
    picked = [i for i, c in enumerate(counts) for _ in range(c)]
    by_hand = sacrebleu.corpus_bleu([HYPS[i] for i in picked], [[REFS[i] for i in picked]]).score
    assert Bleu.value_from_totals(counts @ stats) == pytest.approx(by_hand)


def test_example_values_equal_the_metric_on_one_example():
    for metric in (Accuracy, ExactMatch, F1Macro, Chrf, Rouge1, RougeL):
        for h, r in zip(HYPS, REFS):
            assert metric.example_value(h, r) == pytest.approx(metric.corpus_value([h], [r]))
    for h, r in zip(HYPS, REFS):       # one example's BLEU is sentence BLEU (effective order), as sacrebleu's
        assert Bleu.example_value(h, r) == pytest.approx(sacrebleu.sentence_bleu(h, [r]).score)
