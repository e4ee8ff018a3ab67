"""A budgeted greedy word-substitution attack on classifiers (in the manner of TextAttack's
greedy word-importance search).

For each input the model classifies correctly: rank words by how much deleting each one lowers
the gold label's probability; in that order, replace a word by the candidate (shipped synonyms,
then two keyboard typos) that lowers it most, until the label flips (success) or the budget of
changed words is spent (failure). Inputs already misclassified are skipped.
attack success rate = successes / (successes + failures).
"""
from __future__ import annotations

import random
import re
from typing import Iterator, Sequence

from harness.models.base import ModelAdapter
from harness.probes.base import ProbeConfig, ProbeContext, fraction_param
from harness.probes.perturbations import keyboard_typo, synonym_table
from harness.probes.robustness import item_seed
from harness.probes.stats import mean_ci
from harness.requests import ClassifyRequest


def candidates(word: str, seed: int, typos: int = 2) -> list[str]:
    core = re.sub(r"\W", "", word)
    if not core:
        return []
    options = list(synonym_table().get(core.lower(), []))
    rng = random.Random(seed)
    for _ in range(typos * 3):
        if len(options) >= len(synonym_table().get(core.lower(), [])) + typos:
            break
        typo = keyboard_typo(core, 1.0, rng)
        if typo != core and typo not in options:
            options.append(typo)
    return [word.replace(core, opt) for opt in options]


class WordSubstitutionAttack:
    name = "word_substitution_attack"
    params = ("budget",)                     # the fraction of an input's words that may change (default 0.3)
    metrics = ("attack_success_rate", "mean_fraction_words_changed", "mean_queries")

    def check_params(self, config: ProbeConfig) -> None:
        fraction_param(config, "budget", config.params.get("budget", 0.3), low_open=True)

    def skip_reason(self, adapter: ModelAdapter, config: ProbeConfig) -> str | None:
        if ClassifyRequest not in adapter.supports:
            return f"the attack needs a classifier; {adapter.info.kind} models do not classify"
        return None

    def _todo(self, ctx: ProbeContext) -> Iterator[tuple]:
        for task in ctx.tasks:
            if task.kind.request_type is not ClassifyRequest or (ctx.config.tasks and task.name not in ctx.config.tasks):
                continue
            clean = {r["id"]: r for r in ctx.task_records(task.name)}
            for ex in ctx.take([ex for ex in task.examples if ex.id in clean]):
                item_id = f"{task.name}|{ex.id}"
                if item_id not in ctx.done:
                    yield task, ex, clean[ex.id], item_id

    def planned(self, ctx: ProbeContext) -> int:
        """How many items run() will store (for the progress count)."""
        return sum(1 for _ in self._todo(ctx))

    def run(self, ctx: ProbeContext) -> Iterator[dict]:
        budget = float(ctx.config.params.get("budget", 0.3))
        for task, ex, clean, item_id in self._todo(ctx):
            yield self._attack(ctx, task, ex, clean, budget, item_id)

    def _attack(self, ctx, task, ex, clean, budget, item_id) -> dict:
        text = task.contexts[ex.id]
        gold = clean["reference"]
        record = {"id": item_id, "index": ex.index, "input": text, "reference": gold,
                  "details": {"task": task.name, "original_prediction": clean["prediction"]}}
        if clean["prediction"] != gold:
            return {**record, "prediction": clean["prediction"], "scores": {"status_skipped": 1.0}}
        words = text.split(" ")
        max_changes = max(1, int(budget * len(words)))
        deletions = [" ".join(words[:i] + words[i + 1:]) for i in range(len(words))]
        base = ctx.call([ClassifyRequest(text)])[0].probs.get(gold, 0.0)
        drops = [base - r.probs.get(gold, 0.0) for r in ctx.call([ClassifyRequest(t) for t in deletions])]
        order = sorted(range(len(words)), key=lambda i: -drops[i])
        current, changed, queries, label = list(words), 0, 1 + len(words), gold
        current_p = base
        for i in order:
            if changed >= max_changes:
                break
            options = candidates(words[i], item_seed(ctx.seed, item_id, str(i)))
            if not options:
                continue
            trials = [" ".join(current[:i] + [o] + current[i + 1:]) for o in options]
            results = ctx.call([ClassifyRequest(t) for t in trials])
            queries += len(trials)
            best = min(range(len(trials)), key=lambda k: results[k].probs.get(gold, 0.0))
            if results[best].probs.get(gold, 0.0) >= current_p:
                continue
            current[i], changed, current_p, label = options[best], changed + 1, results[best].probs.get(gold, 0.0), results[best].label
            if label != gold:
                break
        success = label != gold
        return {**record, "prediction": label,
                "scores": {"status_success" if success else "status_failure": 1.0, "words_changed": changed,
                           "words": len(words), "fraction_changed": changed / len(words), "queries": queries},
                "details": {**record["details"], "adversarial": " ".join(current), "gold_probability": current_p,
                            "budget_words": max_changes}}

    def summarize(self, records: Sequence[dict], config: ProbeConfig, seed: int) -> dict:
        attacked = [r for r in records if "status_skipped" not in r["scores"]]
        successes = [r for r in attacked if "status_success" in r["scores"]]
        return {
            "metrics": {"attack_success_rate": mean_ci([float("status_success" in r["scores"]) for r in attacked], seed),
                        "mean_fraction_words_changed": mean_ci([r["scores"]["fraction_changed"] for r in successes], seed),
                        "mean_queries": mean_ci([r["scores"]["queries"] for r in attacked], seed)},
            "subgroups": {"counts": {"successes": len(successes), "failures": len(attacked) - len(successes),
                                     "skipped_misclassified": len(records) - len(attacked)}},
            "examples": [{"original": r["input"], "adversarial": r["details"]["adversarial"], "label": r["reference"],
                          "adversarial_label": r["prediction"]} for r in successes[:5]],
            "notes": [f"budget: at most {config.params.get('budget', 0.3):.0%} of an input's words changed; candidates: "
                      "tasks/robustness/synonyms.tsv and keyboard typos"]}
