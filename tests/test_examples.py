"""harness.report.examples: each task kind has its own example view - no "ok" at BLEU 0, no
wrong/correct with empty columns for a perplexity document."""
from __future__ import annotations

import results_builder as rb

from harness.report.examples import example_view


def _gen(i: int, bleu: float) -> dict:
    return {"model": "m", "task": "g", "id": f"g{i}", "index": i, "input": f"English {i}", "prediction": "la",
            "reference": "老师", "scores": {"bleu": bleu}}


def test_generation_shows_the_lowest_sentence_scores_with_their_score_and_no_verdict_badge():
    result = rb.task({"bleu": rb.metric(40.0, higher_is_better=True)}, kind="generate")
    records = [_gen(i, s) for i, s in enumerate([100.0, 12.0, 55.0, 100.0, 0.0, 30.0])]
    view = example_view("g", result, records)
    assert [r["cells"][1] for r in view["rows"]] == ["g4", "g1", "g5", "g2"]       # below the best, worst first
    assert [r["cells"][0] for r in view["rows"]] == ["0", "12", "30", "55"]
    assert not view["badges"] and {r["badge"] for r in view["rows"]} == {""}
    assert view["columns"][0] == ("sentence bleu", "num") and "lowest per-example bleu" in view["title"]


def test_generation_that_scores_zero_everywhere_says_so_and_calls_nothing_ok():
    result = rb.task({"bleu": rb.metric(0.0, higher_is_better=True)}, kind="generate")
    view = example_view("toyzh", result, [_gen(i, 0.0) for i in range(30)])
    assert "every one of the 30 scored examples has bleu 0" in view["title"]
    assert all(r["badge"] not in ("ok", "correct") for r in view["rows"]) and len(view["rows"]) == 4


def test_perplexity_shows_the_highest_loss_per_token_and_no_prediction_or_reference():
    result = rb.task({"word_perplexity": rb.metric(33.0, higher_is_better=False)}, kind="perplexity")
    records = [{"model": "m", "task": "p", "id": f"doc-{i}", "index": i, "input": "word " * (100 + i), "prediction": "",
                "reference": "", "scores": {"loglikelihood": -ll, "tokens": 100.0, "word_perplexity": 10.0 + i}}
               for i, ll in enumerate([250.0, 300.0, 120.0])]
    view = example_view("p", result, records)
    labels = [label for label, _ in view["columns"]]
    assert "prediction" not in labels and "reference" not in labels and "loss per token (nats)" in labels
    assert [r["cells"][0] for r in view["rows"]] == ["doc-1", "doc-0", "doc-2"] and view["rows"][0]["cells"][2] == "3"
    document = view["rows"][0]["cells"][4]
    assert document["folded"] and document["whole"] == records[1]["input"] and len(document["excerpt"]) < 330
    assert not view["badges"]


def test_choice_tasks_keep_wrong_then_correct():
    result = rb.task({"accuracy": rb.metric(0.5, higher_is_better=True)})
    records = [{"id": f"q{i}", "index": i, "input": "?", "prediction": "a", "reference": "a" if i % 2 else "b",
                "scores": {"accuracy": float(i % 2)}} for i in range(6)]
    view = example_view("mc", result, records)
    assert [r["badge"] for r in view["rows"]] == ["wrong", "wrong", "wrong", "correct", "correct", "correct"]
