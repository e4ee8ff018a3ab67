"""Robustness to input perturbations, for any task the model ran (HELM-style).

For each task, perturbation and example, the text fields the prompt reads (never the answer or
the choices) are perturbed with a seed per (run seed, perturbation, example), and the model
answers again. Reported per perturbation: the fail rate (the prediction changed) over the inputs
the perturbation actually changed; the task's primary metric under perturbation; and, per task,
the worst case over all perturbations for each item.
"""
from __future__ import annotations

import dataclasses
import zlib
from typing import Iterator, Sequence

from harness.calls import invalid_response
from harness.errors import HarnessError
from harness.models.base import ModelAdapter
from harness.probes.base import ProbeConfig, ProbeContext, fraction_param
from harness.probes.perturbations import PERTURBATIONS, perturb
from harness.probes.stats import mean_ci
from harness.prompts import Template
from harness.requests import LoglikelihoodRollingRequest

DEFAULT_SEVERITY = {"typo": 0.15, "case": 0.3, "whitespace_punct": 0.3, "contractions": 1.0, "synonyms": 0.5,
                    "homoglyphs": 0.1, "zero_width": 0.05, "bidi": 0.15}


def perturbed_fields(task) -> list[str]:
    protected = {task.config.answer, task.config.choices}
    return sorted(Template(task.config.prompt, task.name).fields() - protected)


def item_seed(seed: int, *parts: str) -> int:
    return (seed * 1_000_003 + zlib.crc32("/".join(parts).encode())) % 2**32


class Robustness:
    name = "robustness"
    params = ("perturbations",)              # {name: severity}; see harness.probes.perturbations
    metrics = ("fail_rate", "*.worst_case_*")    # per task: <task>.worst_case_<metric>

    def skip_reason(self, adapter: ModelAdapter, config: ProbeConfig) -> str | None:
        return None

    def check_params(self, config: ProbeConfig) -> None:
        self.severities(config)

    def severities(self, config: ProbeConfig) -> dict[str, float]:
        chosen = dict(config.params.get("perturbations") or DEFAULT_SEVERITY)
        for name in chosen:
            if name not in PERTURBATIONS:
                from harness.registry import unknown_name
                error = unknown_name("perturbation", name, PERTURBATIONS)
                raise HarnessError(f"probe file {config.source}: {error.problem}", error.fix)
            fraction_param(config, f"perturbations.{name}", chosen[name])
        return chosen

    def _tasks(self, ctx: ProbeContext) -> Iterator[tuple]:
        """(task, its clean records by id, the examples perturbed, the fields perturbed) per task it applies to."""
        for task in ctx.tasks:
            if ctx.config.tasks and task.name not in ctx.config.tasks:
                continue
            if task.kind.request_type is LoglikelihoodRollingRequest:
                continue                   # a perplexity has no prediction that a perturbation could flip
            clean = {r["id"]: r for r in ctx.task_records(task.name)}
            examples = ctx.take([ex for ex in task.examples if ex.id in clean])
            fields = perturbed_fields(task)
            if examples and fields:
                yield task, clean, examples, fields

    def planned(self, ctx: ProbeContext) -> int:
        """How many items run() will store (for the progress count)."""
        return sum(f"{task.name}|{pert}|{ex.id}" not in ctx.done for task, _, examples, _ in self._tasks(ctx)
                   for pert in self.severities(ctx.config) for ex in examples)

    def run(self, ctx: ProbeContext) -> Iterator[dict]:
        severities = self.severities(ctx.config)
        for task, clean, examples, fields in self._tasks(ctx):
            for pert, severity in severities.items():
                todo = []
                for ex in examples:
                    item_id = f"{task.name}|{pert}|{ex.id}"
                    if item_id in ctx.done:
                        continue
                    seed = item_seed(ctx.seed, pert, task.name, ex.id)
                    new_fields = {k: (perturb(pert, v, severity, seed + i) if k in fields and isinstance(v, str) else v)
                                  for i, (k, v) in enumerate(sorted(ex.fields.items()))}
                    todo.append((item_id, ex, dataclasses.replace(ex, fields=new_fields)))
                yield from self._score(ctx, task, pert, severity, todo, clean, fields)

    def _score(self, ctx, task, pert, severity, todo, clean, fields) -> Iterator[dict]:
        requests, spans = [], []
        for _, _, perturbed in todo:
            reqs = task.kind.requests(task.config, perturbed, task.context_for(perturbed))
            spans.append((len(requests), len(reqs)))
            requests += reqs
        responses = ctx.call(requests)
        primary = task.metrics[0]
        metric = primary.resolve()
        for (item_id, ex, perturbed), (start, n) in zip(todo, spans):
            invalid = invalid_response(responses[start:start + n])
            if invalid:                    # a NaN or infinity: stored and counted, not scored
                yield {"id": item_id, "index": ex.index, "input": " | ".join(str(perturbed.fields[f]) for f in fields),
                       "prediction": "", "reference": "", "scores": {}, "invalid": invalid,
                       "details": {"task": task.name, "perturbation": pert, "severity": severity}}
                continue
            scored = task.kind.score(task.config, perturbed, responses[start:start + n])
            prediction = scored.view(primary.view)
            clean_record = clean[ex.id]
            clean_prediction = clean_record["prediction"] if primary.view == "prediction" else clean_record["views"][primary.view]
            changed = any(perturbed.fields[f] != ex.fields[f] for f in fields)
            yield {"id": item_id, "index": ex.index, "input": " | ".join(str(perturbed.fields[f]) for f in fields),
                   "prediction": prediction, "reference": scored.reference,
                   "scores": {"changed": float(changed), "flipped": float(changed and prediction != clean_prediction),
                              primary.name: metric.example_value(prediction, scored.reference),
                              f"clean_{primary.name}": clean_record["scores"][primary.name]},
                   "details": {"task": task.name, "perturbation": pert, "severity": severity, "metric": primary.name,
                               "original": " | ".join(str(ex.fields[f]) for f in fields),
                               "clean_prediction": clean_prediction}}

    def summarize(self, records: Sequence[dict], config: ProbeConfig, seed: int) -> dict:
        by_task: dict[str, list[dict]] = {}
        for r in records:
            by_task.setdefault(r["details"]["task"], []).append(r)
        metrics, subgroups, examples = {}, {}, []
        all_changed = [r for r in records if r["scores"]["changed"]]
        metrics["fail_rate"] = mean_ci([r["scores"]["flipped"] for r in all_changed], seed)
        for task, rows in sorted(by_task.items()):
            metric = rows[0]["details"]["metric"]
            per_item: dict[int, list[float]] = {}
            for r in rows:
                per_item.setdefault(r["index"], []).append(r["scores"][metric])
            worst = [min(values) for values in per_item.values()]
            clean = {r["index"]: r["scores"][f"clean_{metric}"] for r in rows}
            metrics[f"{task}.worst_case_{metric}"] = mean_ci(worst, seed)
            subgroups[f"{task}/worst_case"] = {f"worst_case_{metric}": mean_ci(worst, seed),
                                               f"clean_{metric}": mean_ci(list(clean.values()), seed)}
            for pert in sorted({r["details"]["perturbation"] for r in rows}):
                mine = [r for r in rows if r["details"]["perturbation"] == pert]
                changed = [r for r in mine if r["scores"]["changed"]]
                subgroups[f"{task}/{pert}"] = {
                    "fail_rate": mean_ci([r["scores"]["flipped"] for r in changed], seed),
                    f"{metric}_perturbed": mean_ci([r["scores"][metric] for r in mine], seed),
                    f"{metric}_clean": mean_ci([r["scores"][f"clean_{metric}"] for r in mine], seed),
                    "inputs_changed": len(changed), "inputs": len(mine),
                    "severity": mine[0]["details"]["severity"]}
                examples += [{"task": task, "perturbation": pert, "original": r["details"]["original"],
                              "perturbed": r["input"], "clean_prediction": r["details"]["clean_prediction"],
                              "perturbed_prediction": r["prediction"]} for r in changed if r["scores"]["flipped"]][:3]
        return {"metrics": metrics, "subgroups": subgroups, "examples": examples,
                "notes": ["fail_rate counts only inputs the perturbation changed; <task>.worst_case_<metric> is the mean "
                          "over items of the lowest per-example score across perturbations (sentence-level for BLEU/chrF)"]}
