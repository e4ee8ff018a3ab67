"""Counterfactual substitution: swap gendered terms, first names, religion and nationality terms
(tasks/counterfactual/axes.json) and see whether the model's output moves.

Classifiers: the flip rate (the predicted label changes) and the mean score shift (the original
label's probability, original minus counterfactual). Generate tasks: the flip rate (the generation
changes) and the shift of the task's primary metric against the reference (original minus
counterfactual). Per axis, with 95% intervals, a paired sign-flip test of the shift and Holm's
correction across axes. Gender and name swaps exchange every term at
once; religion and nationality terms are each replaced by every other term of the axis.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Sequence

from harness.data import DataSource, load_examples
from harness.models.base import ModelAdapter
from harness.probes.base import ProbeConfig, ProbeContext
from harness.probes.stats import holm, mean_ci, sign_flip_p
from harness.requests import ClassifyRequest, GenerateRequest
from harness.resources import builtin_dir


@lru_cache(maxsize=4)
def load_axes(folder: Path | None = None) -> dict:
    folder = folder or builtin_dir("tasks") / "counterfactual"
    axes = json.loads((folder / "axes.json").read_text(encoding="utf-8"))
    axes.pop("_about", None)
    extra = folder / "winobias_generalized_swaps.txt"
    if extra.exists():
        pairs = [tuple(w.strip() for w in line.split("\t") if w.strip()) for line in extra.read_text().splitlines()]
        axes["gender"]["pairs"] = axes["gender"]["pairs"] + [list(p) for p in pairs if len(p) == 2]
    return axes


def swap_table(axis: dict) -> dict[str, str]:
    table: dict[str, str] = {}
    if "pairs" in axis:
        for a, b in axis["pairs"]:
            table.setdefault(a.lower(), b.lower())
            table.setdefault(b.lower(), a.lower())
    if "groups" in axis:
        first, second = list(axis["groups"].values())
        for a, b in zip(first, second):
            table[a.lower()], table[b.lower()] = b.lower(), a.lower()
    return table


def _case_like(template: str, word: str) -> str:
    if template.isupper() and len(template) > 1:
        return word.upper()
    return word[0].upper() + word[1:] if template[0].isupper() else word


def counterfactuals(text: str, axis: dict) -> list[str]:
    """Every counterfactual of ``text`` along one axis (empty if the text mentions none of its terms)."""
    if "terms" in axis:
        terms = axis["terms"]
        pattern = re.compile(r"\b(" + "|".join(map(re.escape, terms)) + r")\b")
        found = pattern.findall(text)
        if not found:
            return []
        return [pattern.sub(lambda m: other if m.group(0) == found[0] else m.group(0), text)
                for other in terms if other != found[0]]
    table = swap_table(axis)
    pattern = re.compile(r"\b(" + "|".join(sorted(map(re.escape, table), key=len, reverse=True)) + r")\b", re.IGNORECASE)
    if not pattern.search(text):
        return []
    return [pattern.sub(lambda m: _case_like(m.group(0), table[m.group(0).lower()]), text)]


class Counterfactual:
    name = "counterfactual"
    params = ("axes",)                       # which axes of tasks/counterfactual/axes.json (default all)
    metrics = ("flip_rate", "mean_abs_score_shift")

    KINDS = (ClassifyRequest, GenerateRequest)

    def skip_reason(self, adapter: ModelAdapter, config: ProbeConfig) -> str | None:
        if not adapter.supports & set(self.KINDS):
            return f"counterfactual shifts need classification or generation; {adapter.info.kind} models give neither"
        return None

    def inputs(self, ctx: ProbeContext) -> list[tuple]:
        """(item id prefix, prompt, task) for every input of the chosen classify and generate tasks."""
        rows = []
        for task in ctx.tasks:
            if task.kind.request_type not in self.KINDS or task.kind.request_type not in ctx.adapter.supports:
                continue
            if ctx.config.tasks and task.name not in ctx.config.tasks:
                continue
            rows += [(f"{task.name}|{ex.id}", task.contexts[ex.id], task, ex) for ex in task.examples]
            if "extra" in ctx.config.data:
                extra = load_examples(DataSource(path=ctx.config.data["extra"]), f"probe {ctx.config.name!r}")
                rows += [(f"{task.name}|{ex.id}", task.context_for(ex), task, ex) for ex in extra]
        return rows

    def run(self, ctx: ProbeContext) -> Iterator[dict]:
        axes = {name: axis for name, axis in load_axes().items()
                if name in ctx.config.params.get("axes", list(load_axes()))}
        pairs = []
        for base_id, text, task, ex in self.inputs(ctx):
            for axis_name, axis in axes.items():
                for k, variant in enumerate(counterfactuals(text, axis)):
                    pairs.append((f"{base_id}|{axis_name}|{k}", axis_name, text, variant, task, ex))
        pairs = pairs if not ctx.limit else pairs[: ctx.limit]     # the same items when resumed
        tasks = {p[4].name: p[4] for p in pairs}
        order = [p[0] for name in tasks for p in pairs if p[4].name == name]    # answered task by task
        index = {item_id: i for i, item_id in enumerate(order)}
        pairs = [p for p in pairs if p[0] not in ctx.done]
        tasks = {p[4].name: p[4] for p in pairs}
        for task in tasks.values():
            mine = [p for p in pairs if p[4].name == task.name]
            request = (lambda t: ClassifyRequest(t)) if task.kind.request_type is ClassifyRequest else \
                (lambda t: GenerateRequest(t, stop=task.config.stop, max_tokens=task.config.max_tokens))
            originals = sorted({p[2] for p in mine})
            answers = dict(zip(originals, ctx.call([request(t) for t in originals])))
            variants = ctx.call([request(p[3]) for p in mine])
            for (item_id, axis_name, text, variant, _, ex), cf in zip(mine, variants):
                yield {"id": item_id, "index": index[item_id], "input": variant, **self._compare(task, ex, answers[text], cf),
                       "details": {"axis": axis_name, "original": text, "task": task.name,
                                   "shift_of": "probability" if task.kind.request_type is ClassifyRequest
                                   else task.metrics[0].name}}

    @staticmethod
    def _compare(task, example, original, counterfactual) -> dict:
        if task.kind.request_type is ClassifyRequest:
            shift = original.probs.get(original.label, 0.0) - counterfactual.probs.get(original.label, 0.0)
            return {"prediction": counterfactual.label, "reference": original.label,
                    "scores": {"flipped": float(counterfactual.label != original.label), "score_shift": shift}}
        primary = task.metrics[0]
        metric = primary.resolve()
        reference = task.kind.target(task.config, example)
        before, after = original.text.strip(), counterfactual.text.strip()
        return {"prediction": after, "reference": before,
                "scores": {"flipped": float(before != after),
                           "score_shift": metric.example_value(before, reference) - metric.example_value(after, reference)}}

    def summarize(self, records: Sequence[dict], config: ProbeConfig, seed: int) -> dict:
        subgroups, p_values = {}, {}
        for axis in sorted({r["details"]["axis"] for r in records}):
            mine = [r for r in records if r["details"]["axis"] == axis]
            shifts = [r["scores"]["score_shift"] for r in mine]
            p_values[axis] = sign_flip_p(shifts, seed)
            subgroups[axis] = {"flip_rate": mean_ci([r["scores"]["flipped"] for r in mine], seed),
                               "mean_score_shift": mean_ci(shifts, seed), "pairs": len(mine),
                               "p_value_shift": p_values[axis]}
        for axis, adjusted in holm(p_values).items():
            subgroups[axis]["p_value_shift_holm"] = adjusted
        flipped = sorted((r for r in records if r["scores"]["flipped"]), key=lambda r: -abs(r["scores"]["score_shift"]))
        return {"metrics": {"flip_rate": mean_ci([r["scores"]["flipped"] for r in records], seed),
                            "mean_abs_score_shift": mean_ci([abs(r["scores"]["score_shift"]) for r in records], seed)},
                "subgroups": subgroups,
                "examples": [{"axis": r["details"]["axis"], "original": r["details"]["original"], "counterfactual": r["input"],
                              "original_label": r["reference"], "counterfactual_label": r["prediction"],
                              "score_shift": r["scores"]["score_shift"]} for r in flipped[:8]],
                "notes": ["score shift, classifiers: probability of the original prediction, original minus "
                          "counterfactual; generate tasks: the task's primary metric against the reference, original "
                          "minus counterfactual (scales differ by task: read them per task)",
                          "p-values: paired sign-flip permutation test, Holm-corrected across axes"]}
