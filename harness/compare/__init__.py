"""Paired comparison of models, item by item: a baseline against each other model, on the items both
answered (harness.compare.pairing), with McNemar's test for 0/1 outcomes and a paired bootstrap
for corpus metrics (harness.compare.stats), every probe headline that pairs per item
(harness.compare.probes), the cost side (harness.compare.cost) and the items whose outcome
flipped. The result is results.json's "comparison" object, typed:
``harness.results.comparison.Comparison``.

``compare_within`` compares the models of one run (``harness run --baseline-model NAME``);
``compare_runs`` compares run folders (``harness compare RUN_A RUN_B``; I/O: it reads each run's
results.json and samples.jsonl).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from harness.compare.build import HOLM_FAMILY, RESAMPLES, adjust, compare_pair, reference_of
from harness.compare.inputs import fingerprints, probe_differences, task_differences
from harness.compare.pairing import PAIRING_KEY, Pairing, pair, refuse_differences
from harness.errors import HarnessError
from harness.registry import unknown_model_of_run
from harness.results.comparison import Comparison
from harness.results.reading import as_results
from harness.results.types import Results
from harness.suggest import did_you_mean

__all__ = ["compare_within", "compare_runs", "load_run"]


def _by_model(records: Sequence[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in records:
        out.setdefault(r["model"], []).append(r)
    return out


def _pairing_summary(pairings: dict[str, Pairing], mode: str) -> dict:
    n_paired: dict[str, int] = {}
    dropped: dict[str, int] = {}
    for p in pairings.values():
        for task, tp in p.tasks.items():
            n_paired[task] = min(n_paired.get(task, tp.n), tp.n)
            dropped[task] = max(dropped.get(task, 0), tp.dropped)
    return {"key": PAIRING_KEY, "mode": mode, "n_paired": n_paired, "dropped": dropped}


def _model_pairing(p: Pairing) -> dict:
    return {"n_paired": {t: tp.n for t, tp in p.tasks.items()}, "dropped": {t: tp.dropped for t, tp in p.tasks.items()},
            "only_baseline": list(p.only_baseline), "only_other": list(p.only_other)}


def compare_within(results: Results | dict, records: Sequence[dict], baseline: str, *,
                   resamples: int = RESAMPLES) -> Comparison:
    """The comparison of every other model of one run with ``baseline``. Items that differ between
    two models of one run (a piece that failed part-way) are compared on the intersection, and the
    pairing says so."""
    results = as_results(results)
    models = results.models
    if baseline not in models:
        raise unknown_model_of_run(baseline, models)
    records_by = _by_model(records)
    seed = results.run.seed
    out_models, pairings = {}, {}
    for other in models:
        if other == baseline:
            continue
        entry, pairings[other] = compare_pair(baseline, models[baseline], records_by.get(baseline, []), other,
                                              models[other], records_by.get(other, []), seed, resamples=resamples)
        entry["pairing"] = _model_pairing(pairings[other])
        out_models[other] = entry
    adjust(out_models)
    mode = "intersection" if any(p.differing() for p in pairings.values()) else "exact"
    run_id = results.run.id
    return Comparison.model_validate(
        {"baseline": baseline, "source": "run", "runs": {m: {"run_id": run_id, "model": m} for m in models},
         "pairing": _pairing_summary(pairings, mode), "models": out_models, "holm_family": HOLM_FAMILY})


def load_run(run_dir: Path) -> tuple[Results, list[dict]]:
    """A run folder's results.json and samples.jsonl records, or a one-line error."""
    from harness.results.reading import read_results
    from harness.store import SampleStore
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise HarnessError(f"{run_dir} is not a run folder", "pass a run folder written by `harness run`")
    results = read_results(run_dir)
    samples = run_dir / "samples.jsonl"
    if not samples.is_file():
        raise HarnessError(f"{run_dir} holds no samples.jsonl", "pass a run folder written by `harness run`")
    return results, SampleStore(samples).records()


def _match(baseline_models: dict, other_model: str, run_id: str) -> str:
    """The baseline run's model that ``other_model`` is compared with."""
    if len(baseline_models) == 1:
        return next(iter(baseline_models))
    if other_model in baseline_models:
        return other_model
    raise HarnessError(f"model {other_model!r} of run {run_id} has no model of that name in the baseline run, which "
                       f"holds several ({', '.join(baseline_models)})",
                       did_you_mean(other_model, baseline_models,
                                    "compare against a baseline run with one model, or name the models alike"))


def not_comparable(base: Results, other: Results, baseline: str, model: str, base_prints: dict,
                   prints: dict) -> dict[str, str]:
    """The tasks (and ``probe:NAME``) both runs hold whose prompt or configuration differ, with why
    (harness.compare.inputs): they are not compared."""
    mb, mo = base.models[baseline], other.models[model]
    out = {}
    for task in sorted(set(mb.tasks) & set(mo.tasks)):
        why = task_differences(task, base_prints, prints, mb.tasks[task], mo.tasks[task])
        if why:
            out[task] = why
    for probe in sorted(set(mb.probes) & set(mo.probes)):
        why = probe_differences(probe, base_prints, prints, mb.probes[probe], mo.probes[probe])
        if why:
            out[f"probe:{probe}"] = why
    return out


def compare_runs(baseline_dir: Path, other_dirs: Sequence[Path], *, intersection: bool = False,
                 resamples: int = RESAMPLES) -> Comparison:
    """The comparison of the models of ``other_dirs`` with those of ``baseline_dir``: a baseline run
    with one model is compared with every model of the other runs; with several, models pair by
    name. Runs whose items differ are refused (HarnessError) unless ``intersection``. A task or probe
    whose prompt or configuration differ between the runs is not compared (its metrics read not
    measured with what differs, and the entry's ``not_compared`` lists it); runs that share no task
    or probe asked alike are refused."""
    base_results, base_records = load_run(baseline_dir)
    base_prints = fingerprints(baseline_dir)
    base_models = base_results.models
    if not base_models:
        raise HarnessError(f"{baseline_dir} holds no evaluated model", "pass a run that evaluated a model")
    base_id = base_results.run.id
    base_by = _by_model(base_records)
    seed = base_results.run.seed
    runs: dict[str, dict] = {}
    out_models, pairings = {}, {}
    used_baselines: list[str] = []
    planned = []
    for other_dir in other_dirs:
        results, records = load_run(other_dir)
        run_id = results.run.id
        if Path(other_dir).resolve() == Path(baseline_dir).resolve() or run_id == base_id:
            raise HarnessError(f"{other_dir} (run {run_id}) is the baseline run itself: every delta would be 0 by "
                               "construction", "compare the baseline with another run")
        if not results.models:
            raise HarnessError(f"{other_dir} holds no evaluated model", "pass a run that evaluated a model")
        by = _by_model(records)
        prints = fingerprints(other_dir)
        for model, info in results.models.items():
            planned.append((_match(base_models, model, run_id), model, info, by.get(model, []), run_id, results,
                            other_dir, prints))
    for baseline, *_ in planned:
        if baseline not in used_baselines:
            used_baselines.append(baseline)
            runs[baseline] = {"run_id": base_id, "model": baseline, "dir": str(baseline_dir)}
    for baseline, model, info, records, run_id, results, other_dir, prints in planned:
        key = model if model not in runs else f"{model}@{run_id}"
        if key in runs:
            raise HarnessError(f"run {run_id} is given twice", "pass each run folder once")
        runs[key] = {"run_id": run_id, "model": model, "dir": str(other_dir)}
        pairing = pair(base_by.get(baseline, []), records, reference_of(base_models[baseline], info))
        differ = not_comparable(base_results, results, baseline, model, base_prints, prints)
        if differ and all(unit in differ for unit in pairing.tasks):
            first = next(iter(differ.values()))
            raise HarnessError(f"{model} (run {run_id}) and the baseline {baseline} (run {base_id}) share no task or "
                               f"probe asked alike ({len(differ)} differ; first: {first})",
                               "compare runs made with the same task files and options (max_tokens, stop, tokenize, "
                               "prompt ...)")
        if not intersection:
            refuse_differences(_only(pairing, differ), f"{baseline} (run {base_id})", f"{model} (run {run_id})")
        if not any(tp.n for tp in pairing.tasks.values()):
            ran = sorted({r["task"] for r in records}) or ["nothing"]
            raise HarnessError(f"{model} (run {run_id}) and the baseline {baseline} (run {base_id}) share no item "
                               f"(this run has {', '.join(ran[:5])}; the baseline "
                               f"{', '.join(sorted({r['task'] for r in base_by.get(baseline, [])})[:5]) or 'nothing'})",
                               "compare runs of the same tasks (and --limit)")
        entry, pairings[key] = compare_pair(baseline, base_models[baseline], base_by.get(baseline, []), key, info,
                                            records, seed, resamples=resamples, pairing=pairing, not_compared=differ,
                                            check_reported=True)
        entry["pairing"] = _model_pairing(pairing)
        notes = ([f"run {run_id} used seed {results.run.seed}, the baseline run {seed}"] if results.run.seed != seed
                 else []) + ([f"{len(differ)} task(s)/probe(s) asked differently, not compared: {', '.join(differ)}"]
                             if differ else [])
        if notes:
            entry["note"] = "; ".join(notes)
        out_models[key] = entry
    adjust(out_models)
    return Comparison.model_validate(
        {"baseline": used_baselines[0], "source": "runs", "runs": runs,
         "pairing": _pairing_summary(pairings, "intersection" if intersection else "exact"), "models": out_models,
         "holm_family": HOLM_FAMILY})


def _only(pairing: Pairing, differ: dict[str, str]) -> Pairing:
    """The pairing without the units that are not compared (their items need not match)."""
    return Pairing({t: p for t, p in pairing.tasks.items() if t not in differ}, pairing.only_baseline, pairing.only_other)
