"""harness.compare.inputs and the comparison across runs: a task asked differently in the two runs
(max_tokens, stop, tokenize: its config fingerprint in run.json, or the tokenizer its results record)
is not compared, and no run is ever re-scored with the other's settings."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import results_builder as rb
from harness.cli import main
from harness.compare import compare_runs
from harness.errors import HarnessError
from harness.metrics.text import Bleu

REFS = [f"la kato {w} vidas la hundo {v} ." for w, v in zip(["granda", "ruĝa", "eta", "bela"] * 8,
                                                            ["blanka", "nova", "malnova", "rapida"] * 8)]


def _preds(kind: str) -> list[str]:
    if kind == "good":
        return [r if i % 3 else r.replace("la hundo", "hundo") for i, r in enumerate(REFS)]
    return [" ".join(r.split()[:2]) for r in REFS]                         # max_tokens 2: cut after two words


def _bleu(preds: list[str], tokenize: str = "13a") -> float:
    metric = Bleu.configured(tokenize=tokenize)
    stats = metric.record_stats(preds, REFS, [{}] * len(preds))
    return float(metric.value_from_totals(np.asarray(stats).sum(axis=0)))


def _run(folder: Path, run_id: str, preds: list[str], tokenize: str | None = None, config: str | None = "c" * 64,
         tag: bool = True, reported: float | None = None) -> Path:
    value = _bleu(preds, tokenize or "13a") if reported is None else reported
    extra = {"tokenizer": tokenize or "13a"} if tag else {}
    task = rb.task({"bleu": rb.metric(value, n=len(preds), **extra)}, kind="generate", n=len(preds),
                   **({"tokenize": tokenize} if tokenize and tag else {}))
    data = rb.results(run_id, {"tiny-gpt2": rb.model(tasks={"toylang": task, "facts_mc": rb.task(
        {"accuracy": rb.metric(1.0, n=2)}, n=2)})})
    records = [{"model": "tiny-gpt2", "task": "toylang", "id": f"t{i}", "index": i, "input": f"English {i}",
                "prediction": p, "reference": REFS[i], "scores": {}, "views": {}, "details": {}}
               for i, p in enumerate(preds)]
    records += [{"model": "tiny-gpt2", "task": "facts_mc", "id": f"f{i}", "index": i, "input": f"Q{i}", "prediction": "a",
                 "reference": "a", "scores": {}, "views": {}, "details": {}} for i in range(2)]
    rb.write(folder, data, samples="".join(json.dumps(r) + "\n" for r in records))
    if config is not None:
        prints = {"task": {"toylang": {"data": "d" * 64, "prompt": "p" * 64, "config": config},
                           "facts_mc": {"data": "e" * 64, "prompt": "q" * 64, "config": "f" * 64}}, "probe": {}}
        (folder / "run.json").write_text(json.dumps({"id": run_id, "fingerprints": prints}))
    return folder


def test_another_max_tokens_is_not_compared(tmp_path, capsys):
    """max_tokens 32 against 2: BLEU fell 55.7 -> 0 and the drop was put on the model."""
    a = _run(tmp_path / "a", "run-a", _preds("good"))
    b = _run(tmp_path / "b", "run-b", _preds("cut"), config="0" * 64)
    comparison = compare_runs(a, [b])
    entry = comparison.models["tiny-gpt2@run-b"]
    stat = entry.tasks["toylang"]["bleu"]
    assert stat.delta is None and "config (max_tokens, stop, tokenize" in stat.reason and "not compared" in stat.reason
    assert "toylang" in entry.not_compared and "not compared: toylang" in entry.note
    assert entry.tasks["facts_mc"]["accuracy"].delta == 0                  # what is asked alike is still compared
    assert "toylang" not in entry.cost.tasks
    code = main(["compare", str(a), str(b), "--json", str(tmp_path / "c.json")])
    out = capsys.readouterr().out
    assert code == 0 and "NOT COMPARED toylang: the runs' task 'toylang' differs" in out


def test_runs_sharing_nothing_asked_alike_are_refused(tmp_path):
    a = _run(tmp_path / "a", "run-a", _preds("good"))
    b = _run(tmp_path / "b", "run-b", _preds("cut"), config="0" * 64)
    data = json.loads((b / "results.json").read_text())
    del data["models"]["tiny-gpt2"]["tasks"]["facts_mc"]
    (b / "results.json").write_text(json.dumps(data))
    (b / "samples.jsonl").write_text("".join(line + "\n" for line in (b / "samples.jsonl").read_text().splitlines()
                                             if '"facts_mc"' not in line))
    with pytest.raises(HarnessError, match="share no task or probe asked alike"):
        compare_runs(a, [b])


def test_another_tokenizer_is_never_rescored_with_the_baselines(tmp_path):
    """Under tokenize: char the other run reported 79.2; compare showed 55.7, re-scored with 13a."""
    a = _run(tmp_path / "a", "run-a", _preds("good"))
    b = _run(tmp_path / "b", "run-b", _preds("good"), tokenize="char", config=None)     # an old run: no fingerprints
    assert _bleu(_preds("good"), "char") != pytest.approx(_bleu(_preds("good")))
    stat = compare_runs(a, [b]).models["tiny-gpt2@run-b"].tasks["toylang"]["bleu"]
    assert stat.delta is None and "tokenize default vs char" in stat.reason and "bleu tokenizer 13a vs char" in stat.reason


def test_a_recomputed_value_that_is_not_what_its_run_reported_is_not_shown(tmp_path):
    """Neither a fingerprint nor a tokenizer tag says so, but the other run's BLEU was scored otherwise:
    its reported value is not what re-scoring its records gives."""
    a = _run(tmp_path / "a", "run-a", _preds("good"), config=None, tag=False)
    reported = _bleu(_preds("good"), "char")
    b = _run(tmp_path / "b", "run-b", _preds("good"), config=None, tag=False, reported=reported)
    stat = compare_runs(a, [b]).models["tiny-gpt2@run-b"].tasks["toylang"]["bleu"]
    assert stat.delta is None and "re-scored from samples.jsonl" in stat.reason
    assert f"where its run reported {reported:.6g}" in stat.reason


def test_runs_asked_alike_compare_as_before(tmp_path):
    a = _run(tmp_path / "a", "run-a", _preds("good"))
    b = _run(tmp_path / "b", "run-b", _preds("cut"))
    entry = compare_runs(a, [b]).models["tiny-gpt2@run-b"]
    stat = entry.tasks["toylang"]["bleu"]
    assert entry.not_compared == {} and stat.delta == pytest.approx(_bleu(_preds("cut")) - _bleu(_preds("good")))
    assert stat.other == pytest.approx(_bleu(_preds("cut")))
