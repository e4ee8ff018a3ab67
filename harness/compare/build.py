"""One baseline model against another, item by item: the ``models.<other>`` entry of a comparison
(pure: typed results entries and samples.jsonl records in, a dict out; harness.compare validates the
whole as ``harness.results.comparison.Comparison``, which documents the shape).

Task metrics are recomputed from the paired records with the task's own metric (its additive
per-example statistics, harness/metrics/base.py), both models' statistics built in one call so
they share one column layout (F1 macro's label columns). A recomputed value must equal the one its
run reported wherever the pairing holds every item that run scored: a mismatch (another tokenizer
or normalization) reads not measured instead of a silently re-scored number. Probe headlines go
through ``harness.compare.probes``. Holm's correction runs over the p-values of one compared model
at a time (``adjust``, ``HOLM_FAMILY``): adding a model to a comparison never weakens another's tests.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

import harness.compare.stats as st
from harness.compare.cost import cost
from harness.compare.measures import Measure, metric_spec
from harness.compare.pairing import Pairing, TaskPairing, pair
from harness.compare.probes import rule
from harness.errors import HarnessError
from harness.finite import finite_or_none as _finite
from harness.kinds.base import MetricSpec
from harness.lmeval import GROUP_KIND, is_lm_eval_kind
from harness.metrics.bootstrap import seed_for
from harness.plugins import METRICS
from harness.probes.stats import holm
from harness.results.types import ModelResult

RESAMPLES = 1000                 # paired bootstrap resamples (sacrebleu's default for --paired-bs)
AR_TRIALS = 10_000               # approximate randomization trials (sacrebleu's default for --paired-ar)
FLIPPED_CAP = 50                 # flipped items kept per model (the counts are always complete)
HOLM_FAMILY = "per compared model: every p-value of that model against the baseline (its tasks, probes and metrics)"
RESCORE_TOLERANCE = 1e-6         # relative: a recomputed value that moves more was scored differently


def not_measured(reason: str, higher_is_better: bool = True, n: int = 0) -> dict:
    return {"baseline": None, "other": None, "delta": None, "ci95": [None, None], "n": n, "test": None,
            "p_value": None, "p_holm": None, "significant": False, "too_few_items": n < st.MIN_ITEMS,
            "discordant": None, "higher_is_better": higher_is_better, "reason": reason}


def paired_stat(baseline: np.ndarray, other: np.ndarray, value_from_totals, *, binary: bool, higher_is_better: bool,
                seed: int, resamples: int = RESAMPLES, ar_trials: int = AR_TRIALS, scale: float = 1.0) -> dict:
    """The STAT of two models' per-item statistics (rows paired). Binary: McNemar on column 0 > 0
    (``scale``: the metric's units per 0/1 outcome); otherwise the paired bootstrap's p, with
    approximate randomization's beside it. Both carry the spread a power statement needs."""
    n = len(baseline)
    boot = st.paired_bootstrap(baseline, other, value_from_totals, resamples, seed)
    out = {"baseline": _finite(boot.baseline), "other": _finite(boot.other), "delta": _finite(boot.delta),
           "ci95": [_finite(boot.ci95[0]), _finite(boot.ci95[1])], "n": n, "p_holm": None, "significant": False,
           "too_few_items": n < st.MIN_ITEMS, "higher_is_better": higher_is_better,
           "resamples": resamples, "seed": seed}
    for key, value in (("sd_delta", boot.sd_delta), ("sd_baseline", boot.sd_baseline)):
        if _finite(value) is not None:
            out[key] = _finite(value)
    if binary:
        out["scale"] = scale
        test = st.mcnemar(baseline[:, 0], other[:, 0])
        out.update(test=test.test, p_value=test.p_value,
                   discordant={"baseline_only": test.baseline_only, "other_only": test.other_only})
        if test.statistic is not None:
            out["chi2"] = test.statistic
    else:
        out.update(test="paired_bootstrap", p_value=boot.p_value, discordant=None)
        if ar_trials:
            out["approximate_randomization"] = {
                "p_value": st.approximate_randomization(baseline, other, value_from_totals, ar_trials, seed),
                "trials": ar_trials}
    if out["baseline"] is None or out["other"] is None:
        return {**not_measured("the metric is undefined on the paired items (e.g. a zero denominator)",
                               higher_is_better, n)}
    return out


def _valid_pairs(p: TaskPairing) -> tuple[list[dict], list[dict], int]:
    keep = [(b, o) for b, o in zip(p.baseline, p.other) if "invalid" not in b and "invalid" not in o]
    return [b for b, _ in keep], [o for _, o in keep], p.n - len(keep)


def _view(record: dict, view: str) -> str:
    return record["prediction"] if view == "prediction" else record["views"][view]


def _reported(entry, name: str) -> tuple[float | None, int | None]:
    """What a run's results say of metric ``name`` of a task: its value and how many items it scored."""
    value = entry.metrics.get(name) if entry is not None else None
    if value is None or value.value is None:
        return None, None
    return float(value.value), entry.n


def _rescored(stat: dict, name: str, n: int, sides) -> str | None:
    """Why the recomputed values must not stand: a side whose every scored item is paired, recomputed to
    another value than its run reported (it was scored differently: tokenizer, normalization)."""
    for who, key, entry in sides:
        reported, scored = _reported(entry, name)
        mine = stat.get(key)
        if reported is None or mine is None or scored != n:
            continue
        if abs(mine - reported) > RESCORE_TOLERANCE * max(1.0, abs(reported)):
            return (f"re-scored from samples.jsonl, {who}'s {name} is {mine:.6g} where its run reported {reported:.6g}: "
                    "the runs score it differently (tokenizer or normalization); not compared")
    return None


def task_stats(kind: str, names: Sequence[str], p: TaskPairing, seed: int, resamples: int, ar_trials: int,
               tokenize: str = "", entries: tuple = (None, None)) -> dict:
    """``tokenize``: the task's BLEU tokenizer as its results record it (e.g. zh); ``entries``: both
    sides' TaskResult, whose reported values the recomputed ones are checked against."""
    base, other, _ = _valid_pairs(p)
    out = {}
    for name in names:
        spec = metric_spec(kind, name)
        try:
            metric = METRICS.get(spec.metric)
            if tokenize and "tokenize" in metric.options:
                metric = metric.configured(tokenize=tokenize)
        except HarnessError as exc:
            out[name] = not_measured(f"metric {spec.metric!r} is not installed here ({exc.problem})")
            continue
        if not base:
            out[name] = not_measured("no item was scored under both models", metric.higher_is_better)
            continue
        if metric.unavailable():
            out[name] = not_measured(metric.unavailable(), metric.higher_is_better)
            continue
        references = [r["reference"] for r in base]
        stats = metric.record_stats([_view(r, spec.view) for r in base] + [_view(r, spec.view) for r in other],
                                    references + references, [r.get("scores", {}) for r in base + other])
        stat = paired_stat(stats[:len(base)], stats[len(base):], metric.value_from_totals,
                           binary=getattr(metric, "binary", False), higher_is_better=metric.higher_is_better,
                           seed=seed, resamples=resamples, ar_trials=ar_trials)
        why = _rescored(stat, name, len(base), (("the baseline", "baseline", entries[0]), ("the other", "other", entries[1])))
        out[name] = not_measured(why, metric.higher_is_better, len(base)) if why else stat
    return out


def probe_stats(probe: str, names: Sequence[str], p: TaskPairing, seed: int, resamples: int, ar_trials: int) -> dict:
    found = rule(probe)
    out = {}
    for name in names:
        measure: Measure | None = found.measure(name) if found else None
        if measure is None:
            why = f"probe {probe!r} has no per-item pairing rule" if not found else \
                f"{probe!r} headline {name!r} has no per-item pairing rule (harness/compare/probes.py)"
            out[name] = not_measured(why)
            continue
        units_b, units_o = measure.units(p.baseline), measure.units(p.other)
        keys = [k for k in units_b if k in units_o]
        if not keys:
            out[name] = not_measured(f"no item in the population ({measure.population or 'scored items'}) under both "
                                     "models", measure.higher_is_better)
            continue
        b = np.array([units_b[k] for k in keys], dtype=float)
        o = np.array([units_o[k] for k in keys], dtype=float)
        stat = paired_stat(b, o, measure.value_from_totals, binary=measure.binary,
                           higher_is_better=measure.higher_is_better, seed=seed, resamples=resamples,
                           ar_trials=ar_trials, scale=measure.scale)
        if measure.population:
            stat["population"] = measure.population
        if measure.ideal is not None:
            stat["ideal"] = measure.ideal
        out[name] = stat
    return out


def first_binary(kind: str, names) -> tuple[str, Any] | None:
    """The first of a task's metrics that is a mean of 0/1 outcomes, with its spec."""
    for name in names:
        spec = metric_spec(kind, name)
        if spec.metric in METRICS and getattr(METRICS.get(spec.metric), "binary", False):
            return name, spec
    return None


def flipped(results: ModelResult, pairing: Pairing, cap: int = FLIPPED_CAP, skip: set[str] = frozenset()) -> dict:
    """Items whose 0/1 outcome changed, per task on its first 0/1 metric: "fixed" (the other model
    is right where the baseline was wrong) and "broken" (the reverse). Broken ones are listed first.
    Tasks in ``skip`` (not compared: their configuration differs) are left out."""
    fixed = broken = 0
    items: list[dict] = []
    per_task = {}
    for task, p in pairing.tasks.items():
        if task.startswith("probe:") or task not in results.tasks or task in skip:
            continue
        base, other, _ = _valid_pairs(p)
        entry = results.tasks[task]
        if is_lm_eval_kind(entry.kind):               # its per-item 0/1 values are in the records
            from harness.lmeval.compare import binary_metric
            name = binary_metric(entry, base + other)
            spec, right = MetricSpec(name or "", name or ""), (lambda r, n=name: r["scores"][n] > 0)
        else:
            found = first_binary(entry.kind, entry.metrics)
            name, spec = found if found else (None, None)
            right = (lambda r, s=spec: METRICS.get(s.metric).example_value(_view(r, s.view), r["reference"]) > 0)
        if name is None:
            continue
        counts = {"metric": name, "fixed": 0, "broken": 0}
        for b, o in zip(base, other):
            right_b, right_o = right(b), right(o)
            if right_b == right_o:
                continue
            direction = "fixed" if right_o else "broken"
            counts[direction] += 1
            items.append({"task": task, "id": b["id"], "metric": name, "input": b.get("input"), "reference": b["reference"],
                          "baseline_prediction": _view(b, spec.view), "other_prediction": _view(o, spec.view),
                          "direction": direction})
        fixed, broken = fixed + counts["fixed"], broken + counts["broken"]
        per_task[task] = counts
    items.sort(key=lambda i: i["direction"] != "broken")
    return {"fixed": fixed, "broken": broken, "by_task": per_task, "items": items[:cap],
            "items_kept": min(cap, len(items)), "items_total": len(items)}


def reference_of(results_b: ModelResult, results_o: ModelResult):
    probes = {f"probe:{name}": info.probe or name
              for res in (results_b, results_o) for name, info in res.probes.items()}

    def reference(record: dict) -> Any:
        found = rule(probes.get(record["task"], "")) if record["task"].startswith("probe:") else None
        return found.reference_of(record) if found else record.get("reference")
    return reference


def _missing(name: str, baseline: str, other: str, results_b: ModelResult, results_o: ModelResult) -> str:
    has_b = name in results_b.tasks or name.removeprefix("probe:") in results_b.probes
    who, res = (other, results_o) if has_b else (baseline, results_b)
    why = res.skipped.get(name)
    return f"{who} has no records for {name}" + (f" (skipped: {why})" if why else "")


def compare_pair(baseline: str, results_b: ModelResult, records_b: Sequence[dict], other: str, results_o: ModelResult,
                 records_o: Sequence[dict], run_seed: int, *, resamples: int = RESAMPLES, ar_trials: int = AR_TRIALS,
                 pairing: Pairing | None = None, not_compared: dict[str, str] | None = None,
                 check_reported: bool = False) -> tuple[dict, Pairing]:
    """``models.<other>`` of the comparison, and the pairing it was computed on. ``not_compared``: tasks
    (and ``probe:NAME``) whose configuration differs between the two runs, with why (harness.compare.inputs):
    their every metric reads not measured with that reason. ``check_reported`` (two runs): a recomputed
    value must equal what its run reported (``_rescored``)."""
    pairing = pairing or pair(records_b, records_o, reference_of(results_b, results_o))
    not_compared = dict(not_compared or {})
    tasks, probes = {}, {}
    tasks_b, tasks_o = results_b.tasks, results_o.tasks
    for task in sorted(set(tasks_b) | set(tasks_o)):
        info = tasks_b.get(task) or tasks_o[task]
        names = list(dict.fromkeys([*info.metrics, *(tasks_o[task].metrics if task in tasks_o else {})]))
        both = task in pairing.tasks and task in tasks_b and task in tasks_o
        if task in not_compared:
            tasks[task] = {n: not_measured(not_compared[task], n=pairing.tasks[task].n if task in pairing.tasks else 0)
                           for n in names}
        elif is_lm_eval_kind(info.kind) and (both or info.kind == GROUP_KIND):   # lm-eval's own aggregations
            from harness.lmeval.compare import task_stats as lm_eval_stats
            base, oth, _ = _valid_pairs(pairing.tasks[task]) if task in pairing.tasks else ([], [], 0)
            tasks[task] = lm_eval_stats(info, names, base, oth, seed_for(run_seed, task), resamples, ar_trials,
                                        paired_stat=paired_stat, not_measured=not_measured, st=st)
        elif both:
            tasks[task] = task_stats(info.kind, names, pairing.tasks[task], seed_for(run_seed, task), resamples, ar_trials,
                                     info.tokenize or "", (tasks_b[task], tasks_o[task]) if check_reported else (None, None))
        else:
            tasks[task] = {n: not_measured(_missing(task, baseline, other, results_b, results_o)) for n in names}
    probes_b, probes_o = results_b.probes, results_o.probes
    for probe in sorted(set(probes_b) | set(probes_o)):
        info = probes_b.get(probe) or probes_o[probe]
        names = list(dict.fromkeys([*info.metrics, *(probes_o[probe].metrics if probe in probes_o else {})]))
        key = f"probe:{probe}"
        if key in not_compared:
            probes[probe] = {n: not_measured(not_compared[key]) for n in names}
        elif key in pairing.tasks and probe in probes_b and probe in probes_o:
            probes[probe] = probe_stats(info.probe or probe, names, pairing.tasks[key], seed_for(run_seed, key),
                                        resamples, ar_trials)
        else:
            probes[probe] = {n: not_measured(_missing(key, baseline, other, results_b, results_o)) for n in names}
    both = [t for t in tasks if t in pairing.tasks and not all("reason" in s for s in tasks[t].values())]
    entry = {"baseline": baseline, "tasks": tasks, "probes": probes, "cost": cost(results_b, results_o, both),
             "flipped": flipped(results_b, pairing, skip=set(not_compared))}
    if not_compared:
        entry["not_compared"] = not_compared
    return entry, pairing


def adjust(models: dict) -> None:
    """Holm over the p-values of each compared model (its tasks, probes and metrics), in place: one
    family per model against the baseline (HOLM_FAMILY)."""
    for entry in models.values():
        found = {}
        for section in ("tasks", "probes"):
            for unit, metrics in entry[section].items():
                for name, stat in metrics.items():
                    if stat.get("p_value") is not None:
                        found[(section, unit, name)] = stat
        adjusted = holm({k: s["p_value"] for k, s in found.items()})
        for key, stat in found.items():
            stat["p_holm"] = adjusted[key]
            stat["significant"] = adjusted[key] < st.ALPHA
