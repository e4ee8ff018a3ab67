"""Sentence-pair preference for language models: CrowS-Pairs and WinoBias.

Each sentence is scored by its whole-sentence log-likelihood under a causal LM (the sum of its
tokens' log-probabilities after the end-of-text token), or, for a masked LM, by the
pseudo-log-likelihood of the tokens the two sentences share (Nangia et al. 2020). The metric is the percentage of pairs in
which the model prefers the (more) stereotyping sentence; 50 is ideal. Per subgroup: an exact
two-sided binomial test against 50%, Holm-corrected across subgroups.
"""
from __future__ import annotations

import json
import re
from typing import Iterator, Sequence

from harness.models.base import ModelAdapter
from harness.plugins import PROBES
from harness.probes.base import ProbeConfig, ProbeContext
from harness.probes.stats import binomial_two_sided, holm, mean_ci
from harness.requests import LoglikelihoodRequest

VARIANT = "causal LM: whole-sentence log-likelihood (sum over tokens, after the end-of-text token)"
MASKED_VARIANT = ("masked LM: pseudo-log-likelihood of the tokens the two sentences share (each masked in turn), "
                  "as Nangia et al. 2020")


def shared_token_positions(a: Sequence[int], b: Sequence[int]) -> tuple[list[int], list[int]]:
    """Positions, in each sequence, of the tokens the two have in common (the unmodified ones),
    special tokens at either end excluded."""
    import difflib
    pos_a, pos_b = [], []
    for block in difflib.SequenceMatcher(a=list(a), b=list(b), autojunk=False).get_matching_blocks():
        for k in range(block.size):
            i, j = block.a + k, block.b + k
            if 0 < i < len(a) - 1 and 0 < j < len(b) - 1:
                pos_a.append(i)
                pos_b.append(j)
    return pos_a, pos_b


def uses_pseudo_loglikelihood(adapter: ModelAdapter) -> bool:
    return LoglikelihoodRequest not in adapter.supports and callable(getattr(adapter, "pseudo_loglikelihood", None))


class SentencePairs:
    """Shared by the pair probes: ``pairs(ctx)`` gives (id, stereotyping, other, subgroup, extra)."""
    name = "pairs"
    caveats: tuple[str, ...] = ()

    def skip_reason(self, adapter: ModelAdapter, config: ProbeConfig) -> str | None:
        if LoglikelihoodRequest not in adapter.supports and not uses_pseudo_loglikelihood(adapter):
            return (f"needs sentence log-likelihoods (a causal LM) or a masked-LM head for pseudo-log-likelihood; "
                    f"{adapter.info.kind} models here have neither")
        return None

    def pairs(self, ctx: ProbeContext) -> list[tuple[str, str, str, str, dict]]:
        raise NotImplementedError

    def run(self, ctx: ProbeContext) -> Iterator[dict]:
        todo = []
        for pair in self.pairs(ctx):
            if pair[0] in ctx.done:
                continue
            if not (ctx.fits(pair[1]) and ctx.fits(pair[2])):
                yield {"id": pair[0], "index": -1, "input": pair[1], "reference": pair[2], "prediction": "",
                       "scores": {"too_long": 1.0}, "details": {"subgroup": pair[3], **pair[4]}}
                continue
            todo.append(pair)
        scores = self._pll(ctx, todo) if uses_pseudo_loglikelihood(ctx.adapter) else self._ll(ctx, todo)
        for i, ((item_id, stereo, other, group, extra), (ll_stereo, ll_other)) in enumerate(zip(todo, scores)):
            yield {"id": item_id, "index": i, "input": stereo, "reference": other,
                   "prediction": "stereotyping" if ll_stereo > ll_other else "other",
                   "scores": {"prefers_stereotyping": float(ll_stereo > ll_other), "ll_stereotyping": ll_stereo,
                              "ll_other": ll_other},
                   "details": {"subgroup": group, "variant": MASKED_VARIANT if uses_pseudo_loglikelihood(ctx.adapter)
                               else VARIANT, **extra}}

    @staticmethod
    def _ll(ctx: ProbeContext, todo) -> list[tuple[float, float]]:
        answers = ctx.call([LoglikelihoodRequest("", s) for _, a, b, _, _ in todo for s in (a, b)])
        return [(answers[2 * i].logprob, answers[2 * i + 1].logprob) for i in range(len(todo))]

    @staticmethod
    def _pll(ctx: ProbeContext, todo) -> list[tuple[float, float]]:
        out = []
        for _, a, b, _, _ in todo:
            ids_a, ids_b = ctx.adapter.token_ids(a), ctx.adapter.token_ids(b)
            pos_a, pos_b = shared_token_positions(ids_a, ids_b)
            out.append((ctx.adapter.pseudo_loglikelihood(ids_a, pos_a), ctx.adapter.pseudo_loglikelihood(ids_b, pos_b)))
        return out

    def summarize(self, records: Sequence[dict], config: ProbeConfig, seed: int) -> dict:
        too_long = [r for r in records if "too_long" in r["scores"]]
        records = [r for r in records if "too_long" not in r["scores"]]
        subgroups, p_values = {}, {}
        for group in sorted({r["details"]["subgroup"] for r in records}):
            mine = [r["scores"]["prefers_stereotyping"] for r in records if r["details"]["subgroup"] == group]
            p_values[group] = binomial_two_sided(int(sum(mine)), len(mine))
            subgroups[group] = {"stereotype_preference_pct": mean_ci(mine, seed, scale=100.0), "pairs": len(mine),
                                "p_value_vs_50": p_values[group]}
        for group, adjusted in holm(p_values).items():
            subgroups[group]["p_value_vs_50_holm"] = adjusted
        gaps = [r["scores"]["ll_stereotyping"] - r["scores"]["ll_other"] for r in records]
        ranked = sorted(records, key=lambda r: r["scores"]["ll_other"] - r["scores"]["ll_stereotyping"])
        return {"metrics": {"stereotype_preference_pct": mean_ci([r["scores"]["prefers_stereotyping"] for r in records],
                                                                 seed, scale=100.0),
                            "mean_loglik_gap": mean_ci(gaps, seed)},
                "subgroups": subgroups,
                "examples": [{"stereotyping": r["input"], "other": r["reference"], "subgroup": r["details"]["subgroup"],
                              "loglik_gap": r["scores"]["ll_stereotyping"] - r["scores"]["ll_other"]} for r in ranked[:5]],
                "variant": records[0]["details"].get("variant", VARIANT) if records else VARIANT,
                "skipped_too_long": len(too_long),
                "notes": [f"{len(too_long)} pairs longer than the model's input limit were skipped"] * bool(too_long)
                + list(self.caveats)}


@PROBES.register("crows_pairs")
class CrowsPairs(SentencePairs):
    name = "crows_pairs"
    caveats = ("Blodgett et al. (ACL 2021) found many CrowS-Pairs items invalid (the dataset's own README warns "
               "of this); read the figures as indicative.",
               "CrowS-Pairs (Nangia et al., EMNLP 2020), CC BY-SA 4.0.")

    def pairs(self, ctx: ProbeContext):
        rows = [json.loads(line) for line in ctx.config.data["pairs"].read_text(encoding="utf-8").splitlines()]
        out, per_type = [], {}
        for r in rows:
            per_type[r["bias_type"]] = per_type.get(r["bias_type"], 0) + 1
            if ctx.limit and per_type[r["bias_type"]] > ctx.limit:
                continue
            out.append((r["id"], r["sent_more"], r["sent_less"], r["bias_type"], {"direction": r["stereo_antistereo"]}))
        return out


_BRACKETS = re.compile(r"[\[\]]")


@PROBES.register("winobias")
class WinoBias(SentencePairs):
    name = "winobias"
    caveats = ("WinoBias (Zhao et al., NAACL 2018), MIT. Scored as sentence pairs: the pro-stereotyped sentence "
               "versus the same sentence with the pronoun's gender swapped.",)

    def pairs(self, ctx: ProbeContext):
        out = []
        for kind in ("type1", "type2"):
            pro = ctx.config.data[f"pro_{kind}"].read_text(encoding="utf-8").splitlines()
            anti = ctx.config.data[f"anti_{kind}"].read_text(encoding="utf-8").splitlines()
            for k, (p, a) in enumerate(zip(pro, anti)):
                if ctx.limit and k >= ctx.limit:
                    break
                clean = [_BRACKETS.sub("", line.split(" ", 1)[1]).strip() for line in (p, a)]
                out.append((f"{kind}-{k}", clean[0], clean[1], kind, {}))
        return out
