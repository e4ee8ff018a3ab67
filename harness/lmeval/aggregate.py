"""Metric values of lm-eval tasks and groups, from the stored records (pure: records in, dicts out;
harness.results.assembly validates each as a ``TaskResult``, whose unnamed fields ``aggregation``,
``lm_eval`` and ``subtasks`` are kept).

The value of each metric is lm-eval's own aggregation (``task.aggregation()``, mean where the task
names none, as lm-eval's evaluator does) applied to the per-item values lm-eval's
``process_results`` returned, read back from samples.jsonl, so a resumed run gives the same numbers.
A group's value is lm-eval's own ``Group.aggregate`` over its subtasks' values (weighted by size
where the group says so).

Intervals come from the bootstrap over items, seeded as every harness task (run seed and task name,
so every model is resampled with the same items): for an aggregation over sums (mean, perplexity,
weighted_perplexity, bits_per_byte, and BLEU, chrF, chrF++ and TER from sacrebleu's per-sentence
statistics, as the harness's own BLEU) each resample's value comes from the summed statistics; for
any other (F1, MCC, a task's own function) the aggregation is recomputed on each resample of the
items. A group's interval resamples each subtask's items and aggregates the replicates as the
group aggregates its values. The resampler is the harness's own (``harness.metrics.bootstrap``:
its multinomial draw and percentile interval), so every interval here is drawn as ours are.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from harness.invalid import invalid_summary
from harness.lmeval import GROUP_KIND, PREFIX
from harness.lmeval.kind import NO_FILTER, metric_key, parse_key
from harness.metrics.bootstrap import interval, resample_counts, seed_for, values_of
from harness.results.types import TaskResult
from harness.results.values import MetricValue

LN2 = math.log(2)


def _rows(row: Callable[[Any], list[float]]) -> Callable[[list], np.ndarray]:
    return lambda items: np.asarray([row(v) for v in items], dtype=float).reshape(len(items), -1)


def _sacrebleu(name: str) -> tuple[Callable[[list], np.ndarray], Callable[[np.ndarray], float]]:
    """sacrebleu's per-sentence statistics of lm-eval's (reference, prediction) items, and the corpus
    score from their sums: what lm-eval's bleu/chrf/chrf++/ter aggregations compute in one call."""
    def scorer():
        from sacrebleu.metrics import BLEU, CHRF, TER
        return {"bleu": BLEU, "chrf": CHRF, "chrf++": lambda: CHRF(word_order=2), "ter": TER}[name]()

    def stats(items: list) -> np.ndarray:
        from lm_eval.api.metrics import _sacreformat
        refs, preds = _sacreformat(list(zip(*items))[0], list(zip(*items))[1])
        return np.asarray(scorer()._extract_corpus_statistics(list(preds), refs), dtype=float)

    def value(totals: np.ndarray) -> float:
        counts = list(totals) if name == "ter" else [int(round(t)) for t in totals]
        return float(scorer()._compute_score_from_stats(counts).score)
    return stats, value


# aggregation name -> (per-item statistics, one row per item; the value from the rows' sums)
ADDITIVE: dict[str, tuple[Callable[[list], np.ndarray], Callable[[np.ndarray], float]]] = {
    "mean": (_rows(lambda v: [float(v), 1.0]), lambda t: t[0] / t[1]),
    "perplexity": (_rows(lambda v: [float(v), 1.0]), lambda t: math.exp(-t[0] / t[1])),
    "weighted_perplexity": (_rows(lambda v: [float(v[0]), float(v[1])]), lambda t: math.exp(-t[0] / t[1])),
    "bits_per_byte": (_rows(lambda v: [float(v[0]), float(v[1])]), lambda t: -t[0] / t[1] / LN2),
    **{name: _sacrebleu(name) for name in ("bleu", "chrf", "chrf++", "ter")},
}


def additive_stats(name: str, items: list) -> np.ndarray | None:
    """The items' statistics when ``name`` is an aggregation over sums, else None."""
    if name not in ADDITIVE or not items:
        return None
    try:
        return ADDITIVE[name][0](items)
    except (TypeError, ValueError, IndexError):
        return None


def aggregation_name(fn: Callable) -> str:
    from lm_eval.api.registry import AGGREGATION_REGISTRY
    for name, registered in AGGREGATION_REGISTRY.items():
        if registered is fn:
            return name
    return f"custom:{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def aggregations(lm_task) -> dict[str, tuple[str, Callable]]:
    from lm_eval.api.metrics import mean
    return {metric: (aggregation_name(fn), fn) for metric, fn in lm_task.aggregation().items()} | {"": ("mean", mean)}


def keys_of(records: Sequence[dict]) -> list[str]:
    keys: dict[str, None] = {}
    for r in records:
        keys.update(dict.fromkeys(((r.get("details") or {}).get("lm_eval") or {}).get("metrics") or ()))
    return list(keys)


def items_of(records: Sequence[dict], key: str) -> list:
    return [r["scores"][key] if key in r.get("scores", {}) else r["details"]["lm_eval"]["values"][key] for r in records]


def _safe(fn: Callable[[], float]) -> float:
    try:
        value = float(fn())
    except (ArithmeticError, ValueError, TypeError, IndexError, KeyError):
        return math.nan
    return value if math.isfinite(value) else math.nan


def replicates(items: list, name: str, fn: Callable, resamples: int, seed: int) -> np.ndarray:
    counts = resample_counts(len(items), resamples, seed)
    stats = additive_stats(name, items)
    if stats is not None:
        value = ADDITIVE[name][1]
        return values_of(counts @ stats, lambda t: _safe(lambda: value(t)))
    index = np.arange(len(items))
    return np.array([_safe(lambda row=row: fn([items[i] for i in np.repeat(index, row)])) for row in counts])


def summarize(value: float, reps: np.ndarray, n: int) -> dict:
    finite = reps[np.isfinite(reps)]
    if not math.isfinite(value):
        return not_measured(f"the aggregation gave {value} on these items", n)
    if len(finite) == 0:
        return {"value": value, "stderr": None, "ci95": [None, None], "n": n}
    return interval(value, finite, n).to_json()


def not_measured(reason: str, n: int = 0) -> dict:
    """A metric without a value, and why: results.json's one spelling (value null with the reason)."""
    return MetricValue.not_measured(reason, n).to_json()


def _direction(lm_task, metric: str) -> bool:
    found = lm_task.higher_is_better().get(metric)
    return True if found is None else bool(found)


def expected_keys(lm_task) -> list[str]:
    return [metric_key(m, f.name) for f in lm_task._filters for m in lm_task._metric_fn_list]


def task_result(task, records: Sequence[dict], seed: int, resamples: int) -> dict:
    """The results.json entry of one lm-eval task for one model."""
    from harness.calibration import calibration
    lm_task, stored = task.kind.task, len(records)
    invalid = invalid_summary(records)
    records = sorted((r for r in records if "invalid" not in r), key=lambda r: r["index"])
    found = aggregations(lm_task)
    metrics = {}
    for key in keys_of(records) or expected_keys(lm_task):
        metric, _ = parse_key(key)
        name, fn = found.get(metric, found[""])
        entry = {"higher_is_better": _direction(lm_task, metric), "aggregation": name}
        if not records:
            metrics[key] = {**not_measured("no document was scored: every model output was invalid (see invalid)"), **entry}
            continue
        items = items_of(records, key)
        value = _safe(lambda: fn(items))
        metrics[key] = {**summarize(value, replicates(items, name, fn, resamples, seed_for(seed, task.name)),
                                    len(items)), **entry}
    config = task.config
    result = {"kind": task.kind.name, "n": len(records), "n_expected": len(task.examples),
              "complete": stored == len(task.examples), "invalid": invalid, "metrics": metrics,
              "lm_eval": {"task": config.task, "output_type": config.output_type, "version": str(lm_task.VERSION),
                          "num_fewshot": config.num_fewshot, "fewshot_seed": config.fewshot_seed, "limit": config.limit,
                          "lm_eval_version": config.lm_eval_version}}
    if config.output_type == "multiple_choice":
        forecasts = [f for f in map(task.kind.forecast, records) if f is not None]
        result["calibration"] = calibration(forecasts, task.kind.forecast_source,
                                            seed_for(seed, task.name, "calibration"), resamples)
    return result


def _group_metric(group, metric: str, filter_name: str, leaves: list, tasks: dict, per_task: dict[str, TaskResult],
                  records_of: dict, seed: int, resamples: int) -> np.ndarray:
    """The bootstrap replicates of one aggregated metric of a group: each subtask's items resampled
    (with the subtask's own seed and aggregation), the replicates combined as the group combines values."""
    key = metric_key(metric, filter_name)
    config = next(c for c in group.aggregate_metric_list if c.metric == metric)
    rows, sizes = [], []
    for leaf in leaves:
        entry = per_task[leaf].metrics.get(key)
        if entry is None or entry.value is None:
            continue
        records = sorted((r for r in records_of[leaf] if "invalid" not in r), key=lambda r: r["index"])
        found = aggregations(tasks[leaf].kind.task)
        name, fn = found.get(metric, found[""])
        rows.append(replicates(items_of(records, key), name, fn, resamples, seed_for(seed, leaf)))
        sizes.append(per_task[leaf].n)
    weights = np.asarray(sizes if config.weight_by_size else [1] * len(sizes), dtype=float)
    return (weights @ np.vstack(rows)) / weights.sum() if rows else np.array([])


def _invalid(entries: list[TaskResult]) -> dict:
    reasons: dict[str, int] = {}
    for entry in entries:
        for reason, count in (entry.invalid.reasons if entry.invalid else {}).items():
            reasons[reason] = reasons.get(reason, 0) + count
    return {"n": sum(reasons.values()), "reasons": dict(sorted(reasons.items()))}


def groups_of(tasks: Sequence) -> dict[str, Any]:
    """The lm-eval groups with an aggregate_metric_list among ``tasks``: harness task name -> Group."""
    selections = {id(t.selection): t.selection for t in tasks if getattr(t, "selection", None) is not None}
    return {PREFIX + name: group for selection in selections.values() for name, group in selection.groups.items()
            if group.has_aggregation}


def _group_metrics(group, leaves: list[str], tasks: dict, per_task: dict[str, TaskResult], records_of: dict,
                   seed: int, resamples: int) -> dict[str, dict]:
    """lm-eval's own ``Group.aggregate`` over the subtasks' values, each with its bootstrap interval."""
    lm_metrics = {}
    for leaf in leaves:
        row: dict[str, Any] = {"sample_len": per_task[leaf].n}
        for key, entry in per_task[leaf].metrics.items():
            metric, filter_name = parse_key(key)
            if entry.value is not None:
                row[f"{metric},{filter_name}"] = entry.value
                row[f"{metric}_stderr,{filter_name}"] = entry.stderr
        lm_metrics[leaf.removeprefix(PREFIX)] = row
    metrics = {}
    for lm_key, value in group.aggregate(lm_metrics).items():
        if "," not in lm_key or "_stderr," in lm_key or not isinstance(value, (int, float)):
            continue
        metric, filter_name = lm_key.split(",", 1)
        key = metric_key(metric, filter_name)
        reps = _group_metric(group, metric, filter_name, leaves, tasks, per_task, records_of, seed, resamples)
        config = next(c for c in group.aggregate_metric_list if c.metric == metric)
        directions = {per_task[leaf].metrics[key].higher_is_better for leaf in leaves
                      if key in per_task[leaf].metrics} - {None}
        metrics[key] = {**summarize(float(value), reps, sum(per_task[leaf].n for leaf in leaves)),
                        "higher_is_better": directions.pop() if len(directions) == 1 else True,
                        "aggregation": "mean over subtasks" + (", weighted by size" if config.weight_by_size else "")}
    return metrics


def group_result(name: str, group, tasks: Sequence, per_task: dict[str, TaskResult], records_of: dict, seed: int,
                 resamples: int, energy_of: Callable[[list[str], dict], dict]) -> dict:
    """The results.json entry of the lm-eval group ``name`` (``lm-eval:GROUP``) for the model whose
    task entries are ``per_task`` (typed) and stored records ``records_of`` (per task)."""
    leaves = [PREFIX + t.task_name for t in group.get_all_tasks()]
    missing = [leaf for leaf in leaves if leaf not in per_task]
    if missing:
        reason = f"subtask {missing[0]} has no result for this model (skipped or failed)"
        metrics = {metric_key(c.metric, f): not_measured(reason)
                   for c in group.aggregate_metric_list for f in (c.filter_list or [NO_FILTER])}
    else:
        metrics = _group_metrics(group, leaves, {t.name: t for t in tasks}, per_task, records_of, seed, resamples)
    entries = [per_task[leaf] for leaf in leaves if leaf in per_task]
    return {"kind": GROUP_KIND, "n": sum(e.n for e in entries), "n_expected": sum(e.n_expected or 0 for e in entries),
            "complete": not missing and all(e.complete for e in entries),
            "invalid": _invalid(entries), "metrics": metrics, "subtasks": leaves,
            "lm_eval": {"group": name.removeprefix(PREFIX), "version": group.version,
                        "aggregate_metric_list": [{"metric": c.metric, "weight_by_size": c.weight_by_size,
                                                   "filter_list": c.filter_list} for c in group.aggregate_metric_list]},
            "energy": energy_of([leaf for leaf in leaves if leaf in per_task], metrics)}
