"""The examples report.html shows for each task, in the view that fits its kind:

* multiple choice and classify: the wrong answers first, then a sample of correct ones (badge
  "wrong" / "correct", the per-example 0/1 score);
* generate: the lowest per-example (sentence-level) scores of the headline metric, each with its
  score - no "correct" badge, since a sentence BLEU of 0 is no success;
* perplexity: the documents with the highest loss per token (nats), with their token count and word
  perplexity, and an excerpt of each document (the whole of it folded) - no prediction or
  reference, which a perplexity task has none of.

Records the model answered with a NaN or infinity ("invalid") come first in every view. Pure:
records in, plain data out; every string is escaped by the template."""
from __future__ import annotations

from typing import Sequence

from harness.report.numbers import sig
from harness.results.types import TaskResult

EXAMPLES_FAILED, EXAMPLES_SAMPLE = 5, 3
WORST = 8                    # generation and perplexity: how many are shown
SAME = 4                     # generation where every example scores the same: how many are shown
EXCERPT = 320                # characters of a perplexity document shown before the fold
PERPLEXITY, GENERATE = "perplexity", "generate"


def pick_examples(records: Sequence[dict], metric: str | None, higher_is_better: bool = True,
                  failed: int = EXAMPLES_FAILED, sample: int = EXAMPLES_SAMPLE) -> list[dict]:
    """The failures first (invalid outputs, then the lowest per-example scores), then a sample of
    the rest in dataset order. Each row gets ``status``: invalid | wrong | correct | unscored."""
    records = sorted(records, key=lambda r: r.get("index", 0))
    invalid = [dict(r, status="invalid") for r in records if "invalid" in r]
    scored = [r for r in records if "invalid" not in r and isinstance((r.get("scores") or {}).get(metric), (int, float))]
    if not scored:
        rest = [dict(r, status="unscored") for r in records if "invalid" not in r]
        return (invalid + rest)[:failed + sample]
    sign = 1 if higher_is_better else -1
    best = max(sign * r["scores"][metric] for r in scored)
    wrong = sorted((r for r in scored if sign * r["scores"][metric] < best), key=lambda r: sign * r["scores"][metric])
    ok = [r for r in scored if sign * r["scores"][metric] >= best]
    chosen = invalid[:failed] + [dict(r, status="wrong") for r in wrong[:max(failed - len(invalid), 0)]]
    return chosen + [dict(r, status="correct") for r in ok[:sample]]


def _score(r: dict, metric: str | None) -> float | None:
    v = (r.get("scores") or {}).get(metric) if metric else None
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def worst_generations(records: Sequence[dict], metric: str | None, higher_is_better: bool = True,
                      n: int = WORST) -> list[dict]:
    """Invalid ones first, then the ``n`` worst per-example scores below the best one (ties in dataset
    order); when every example scores the same, the first few of them."""
    records = sorted(records, key=lambda r: r.get("index", 0))
    invalid = [dict(r, status="invalid") for r in records if "invalid" in r]
    scored = [r for r in records if "invalid" not in r and _score(r, metric) is not None]
    sign = 1 if higher_is_better else -1
    best = max((sign * _score(r, metric) for r in scored), default=None)
    below = sorted((r for r in scored if sign * _score(r, metric) < best), key=lambda r: sign * _score(r, metric))
    chosen = below or scored[:SAME]
    return (invalid + [dict(r, status="") for r in chosen])[:n]


def per_token_loss(r: dict) -> float | None:
    """Mean negative log-likelihood per scored token (nats) of a perplexity record."""
    s = r.get("scores") or {}
    ll, tokens = s.get("loglikelihood"), s.get("tokens")
    if isinstance(ll, (int, float)) and isinstance(tokens, (int, float)) and tokens > 0:
        return -ll / tokens
    return None


def hardest_documents(records: Sequence[dict], n: int = WORST) -> list[dict]:
    """Invalid ones first, then the documents with the highest loss per token."""
    invalid = [dict(r, status="invalid") for r in records if "invalid" in r]
    scored = [r for r in records if "invalid" not in r and per_token_loss(r) is not None]
    scored.sort(key=lambda r: (-per_token_loss(r), r.get("index", 0)))
    return (invalid + [dict(r, status="") for r in scored])[:n]


def _generation_title(rows: list[dict], records: Sequence[dict], metric: str | None, hib: bool) -> tuple[str, str]:
    scored = [_score(r, metric) for r in records if "invalid" not in r and _score(r, metric) is not None]
    shown = [r for r in rows if r.get("status") != "invalid"]
    sentence = f"{metric} of each example alone (sentence level); {'higher' if hib else 'lower'} is better"
    if scored and len(set(scored)) == 1:
        return f"every one of the {len(scored)} scored examples has {metric} {sig(scored[0])}; {len(shown)} of them", sentence
    best = (max if hib else min)(scored, default=None)
    at_best = sum(1 for v in scored if v == best)
    return (f"the {len(shown)} lowest per-example {metric or 'scores'}, of {len(records)}",
            sentence + (f"; {at_best} examples score the best, {sig(best)}" if at_best else ""))


def example_view(task: str, result: TaskResult, records: Sequence[dict]) -> dict:
    """{task, kind, title, note, columns: [(label, style)], rows: [{badge, cells, invalid}]}; style:
    text | pre | num | doc (an excerpt with the whole folded)."""
    metric = next(iter(result.metrics), None)
    first = result.metrics.get(metric) if metric else None
    hib = first.higher_is_better if first is not None and first.higher_is_better is not None else True
    total = len(records)
    if result.kind == PERPLEXITY:
        rows = hardest_documents(records)
        columns = [("id", "text"), ("tokens", "num"), ("loss per token (nats)", "num"), ("word perplexity", "num"),
                   ("document", "doc")]
        cells = [[r.get("id"), sig((r.get("scores") or {}).get("tokens")), sig(per_token_loss(r)),
                  sig((r.get("scores") or {}).get("word_perplexity")), _document(r.get("input"))] for r in rows]
        title = f"the {len(rows)} documents with the highest loss per token, of {total}"
        note = "lower is better; the loss is the mean negative log-likelihood of each scored token"
    elif result.kind == GENERATE:
        rows = worst_generations(records, metric, hib)
        columns = [(f"sentence {metric}" if metric else "score", "num"), ("id", "text"), ("input", "pre"),
                   ("prediction", "pre"), ("reference", "pre")]
        cells = [[sig(_score(r, metric)), r.get("id"), r.get("input"), r.get("prediction"), r.get("reference")] for r in rows]
        title, note = _generation_title(rows, records, metric, hib)
    else:
        rows = pick_examples(records, metric, hib)
        columns = [("id", "text"), ("input", "pre"), ("prediction", "pre"), ("reference", "pre"), (metric or "score", "num")]
        cells = [[r.get("id"), r.get("input"), r.get("prediction"), r.get("reference"), sig(_score(r, metric))] for r in rows]
        shown = sum(1 for r in rows if r["status"] in ("wrong", "invalid"))
        title = f"{shown} wrong shown first, then correct ones, of {total}"
        note = ""
    out_rows = [{"badge": r.get("status", ""), "cells": c, "invalid": r.get("invalid", "")} for r, c in zip(rows, cells)]
    return {"task": task, "kind": result.kind, "metric": metric, "title": title, "note": note, "columns": columns,
            "rows": out_rows, "badges": any(r["badge"] for r in out_rows)}


def _document(text) -> dict:
    text = "" if text is None else str(text)
    return {"excerpt": text if len(text) <= EXCERPT else text[:EXCERPT].rstrip() + " …", "whole": text,
            "folded": len(text) > EXCERPT, "length": len(text)}
