"""The names a gate policy may use: the built-in tasks, probes and metrics, those of installed
plugins (entry-point names, read without importing them), and whatever the gated run and its
baseline report. Kept static where importing the registries would load torch: a gate must start in
well under a second in CI (tests check these tables against the registries)."""
from __future__ import annotations

from importlib.metadata import entry_points
from typing import Iterable

from harness.gate.policy import Vocabulary

# Every metric a built-in task can report (registered metrics and the views tasks name, e.g. accuracy_norm).
TASK_METRICS = ("accuracy", "accuracy_norm", "exact_match", "f1_macro", "bleu", "chrf", "meteor",
                "rouge1", "rouge2", "rougeL", "rougeLsum", "word_perplexity", "byte_perplexity", "bits_per_byte")

# What each built-in probe reports under models.<m>.probes.<p>.metrics (see harness/probes/*.py).
PROBE_METRICS: dict[str, tuple[str, ...]] = {
    "robustness": ("fail_rate",),                                    # plus <task>.worst_case_<metric>
    "word_substitution_attack": ("attack_success_rate", "mean_fraction_words_changed", "mean_queries"),
    "counterfactual": ("flip_rate", "mean_abs_score_shift"),
    "crows_pairs": ("stereotype_preference_pct", "stereotype_preference_pct_untied", "tie_pct", "mean_loglik_gap"),
    "winobias": ("stereotype_preference_pct", "stereotype_preference_pct_untied", "tie_pct", "mean_loglik_gap"),
    "bbq": ("accuracy_ambiguous", "accuracy_disambiguated", "bias_score_disambiguated", "bias_score_ambiguous"),
    "weat": ("weat_mean_abs_effect_size", "seat_mean_abs_effect_size"),
    "safety": tuple(f"flag_rate_{c}" for c in ("profanity", "email", "phone", "card", "iban", "canary", "classifier",
                                               "any")),   # harness.probes.detectors.CATEGORIES, classifier, any
}
PROBE_METRIC_PATTERNS = ("*.worst_case_*",)     # robustness: worst case over perturbations, per task
EXAMPLE_PATTERN_NAMES = ("facts_mc.worst_case_accuracy", "toylang.worst_case_bleu", "topic.worst_case_accuracy")


def _entry_point_names(group: str) -> set[str]:
    return {ep.name for ep in entry_points(group=group)}


def _builtin_tasks() -> set[str]:
    from harness import catalog
    return set(catalog.discover(()))          # the built-in task files and registered task plugins


def vocabulary(results: Iterable) -> Vocabulary:
    """Known names: built-in, installed plugins, and those in the given results (the gated run and
    its baseline, so a --tasks-dir task or a plugin probe that ran is known)."""
    tasks = _builtin_tasks()
    probes = set(PROBE_METRICS) | _entry_point_names("harness.probes")
    task_metrics = set(TASK_METRICS) | _entry_point_names("harness.metrics")
    probe_metrics = {m for names in PROBE_METRICS.values() for m in names} | set(EXAMPLE_PATTERN_NAMES)
    from harness.results.reading import as_results
    for result in map(as_results, results):
        for model in result.models.values():
            for task, entry in model.tasks.items():
                tasks.add(task)
                task_metrics.update(entry.metrics)
            for probe, entry in model.probes.items():
                probes.add(probe)
                probe_metrics.update(entry.metrics)
            for reason_key in model.skipped:     # skipped tasks/probes are still known names
                name = str(reason_key).removeprefix("probe:")
                (probes if str(reason_key).startswith("probe:") else tasks).add(name)
    return Vocabulary(tasks=frozenset(tasks), probes=frozenset(probes), task_metrics=frozenset(task_metrics),
                      probe_metrics=frozenset(probe_metrics), probe_metric_patterns=PROBE_METRIC_PATTERNS)
