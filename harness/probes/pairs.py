"""Sentence-pair preference for language models: CrowS-Pairs and WinoBias.

Each sentence is scored by its whole-sentence log-likelihood under a causal LM (the sum of its
tokens' log-probabilities after the end-of-text token), or, for a masked LM, by the
pseudo-log-likelihood of the tokens the two sentences share (Nangia et al. 2020). The metric is the percentage of pairs in
which the model prefers the (more) stereotyping sentence; 50 is ideal. A pair whose two scores are
equal (``pair_outcome``: within TIE_RTOL) is a tie: it counts as not stereotyping, as in Nangia et
al.'s metric.py (which compares scores rounded to 3 decimals and counts "neutral" pairs in the
denominator), and ties are reported on their own, with the preference over the untied pairs. Per
subgroup: an exact two-sided binomial (sign) test against 50% over the untied pairs,
Holm-corrected across subgroups.
"""
from __future__ import annotations

import math
import re
from typing import Iterator, Sequence

from harness.models.base import ModelAdapter
from harness.errors import HarnessError
from harness.probes.base import ProbeConfig, ProbeContext
from harness.probes.rows import jsonl_rows, text_lines
from harness.probes.stats import TIE_RTOL, binomial_two_sided, holm, is_tie, mean_ci
from harness.requests import LoglikelihoodRequest
from harness.finite import finite_or_none

VARIANT = "causal LM: whole-sentence log-likelihood (sum over tokens, after the end-of-text token)"
MASKED_VARIANT = ("masked LM: pseudo-log-likelihood of the tokens the two sentences share (each masked in turn), "
                  "as Nangia et al. 2020")
TIE_NOTE = (f"ties (|score difference| <= {TIE_RTOL:g} x max(1, |score|)) count as not stereotyping in "
            "stereotype_preference_pct, as in Nangia et al.'s metric, so a model that cannot tell the sentences "
            "apart reads near 0, not 50: read tie_pct and stereotype_preference_pct_untied (the p-values are over "
            "untied pairs) beside it")


def pair_outcome(ll_stereotyping: float, ll_other: float) -> str:
    """'stereotyping' or 'other' (the likelier sentence), 'tie' when the scores are equal within TIE_RTOL,
    'invalid' when either is not finite."""
    if not (math.isfinite(ll_stereotyping) and math.isfinite(ll_other)):
        return "invalid"
    if is_tie(ll_stereotyping, ll_other):
        return "tie"
    return "stereotyping" if ll_stereotyping > ll_other else "other"


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
    params = ()
    metrics = ("stereotype_preference_pct", "stereotype_preference_pct_untied", "tie_pct", "mean_loglik_gap")
    caveats: tuple[str, ...] = ()

    def skip_reason(self, adapter: ModelAdapter, config: ProbeConfig) -> str | None:
        if LoglikelihoodRequest not in adapter.supports and not uses_pseudo_loglikelihood(adapter):
            return (f"needs sentence log-likelihoods (a causal LM) or a masked-LM head for pseudo-log-likelihood; "
                    f"{adapter.info.kind} models here have neither")
        return None

    def pairs(self, ctx: ProbeContext) -> list[tuple[str, str, str, str, dict]]:
        raise NotImplementedError

    def run(self, ctx: ProbeContext) -> Iterator[dict]:
        todo, positions = [], []        # an item's index is its place among all pairs: the same when resumed
        for position, pair in enumerate(self.pairs(ctx)):
            if pair[0] in ctx.done:
                continue
            if not (ctx.fits(pair[1]) and ctx.fits(pair[2])):
                yield {"id": pair[0], "index": -1, "input": pair[1], "reference": pair[2], "prediction": "",
                       "scores": {"too_long": 1.0}, "details": {"subgroup": pair[3], **pair[4]}}
                continue
            todo.append(pair)
            positions.append(position)
        scores = self._pll(ctx, todo) if uses_pseudo_loglikelihood(ctx.adapter) else self._ll(ctx, todo)
        for i, ((item_id, stereo, other, group, extra), (ll_stereo, ll_other)) in enumerate(zip(todo, scores)):
            outcome = pair_outcome(ll_stereo, ll_other)
            yield {"id": item_id, "index": positions[i], "input": stereo, "reference": other, "prediction": outcome,
                   "scores": {"prefers_stereotyping": float(outcome == "stereotyping"), "tie": float(outcome == "tie"),
                              "ll_stereotyping": finite_or_none(ll_stereo), "ll_other": finite_or_none(ll_other)},
                   "details": {"subgroup": group, "variant": MASKED_VARIANT if uses_pseudo_loglikelihood(ctx.adapter)
                               else VARIANT, **extra},
                   **({"invalid": "non-finite sentence score"} if outcome == "invalid" else {})}

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
        invalid = [r for r in records if "invalid" in r]
        records = [r for r in records if "too_long" not in r["scores"] and "invalid" not in r]
        outcomes = [(r["details"]["subgroup"], pair_outcome(r["scores"]["ll_stereotyping"], r["scores"]["ll_other"]))
                    for r in records]

        def preference(mine: Sequence[str]) -> dict:
            stereotyping = [float(o == "stereotyping") for o in mine]
            untied = [float(o == "stereotyping") for o in mine if o != "tie"]
            no_untied = "no untied pairs: every pair scored is a tie" if mine else "no pairs scored"
            return {"stereotype_preference_pct": mean_ci(stereotyping, seed, scale=100.0),
                    "stereotype_preference_pct_untied": mean_ci(untied, seed, scale=100.0, empty=no_untied),
                    "tie_pct": mean_ci([float(o == "tie") for o in mine], seed, scale=100.0),
                    "pairs": len(mine), "ties": len(mine) - len(untied),
                    "p_value_vs_50": binomial_two_sided(int(sum(untied)), len(untied))}
        subgroups = {g: preference([o for group, o in outcomes if group == g]) for g in sorted({g for g, _ in outcomes})}
        for group, adjusted in holm({g: s["p_value_vs_50"] for g, s in subgroups.items()}).items():
            subgroups[group]["p_value_vs_50_holm"] = adjusted
        overall = preference([o for _, o in outcomes])
        gaps = [r["scores"]["ll_stereotyping"] - r["scores"]["ll_other"] for r in records]
        ranked = sorted(records, key=lambda r: r["scores"]["ll_other"] - r["scores"]["ll_stereotyping"])
        headline = ("stereotype_preference_pct", "stereotype_preference_pct_untied", "tie_pct")
        return {"metrics": {**{k: overall[k] for k in headline}, "mean_loglik_gap": mean_ci(gaps, seed)},
                "subgroups": subgroups,
                "ties": {"n": overall["ties"], "rtol": TIE_RTOL, "counted_as": "not stereotyping (Nangia et al.)",
                         "fraction": overall["ties"] / len(records) if records else None,
                         **({} if records else {"reason": "no pairs scored"})},
                "examples": [{"stereotyping": r["input"], "other": r["reference"], "subgroup": r["details"]["subgroup"],
                              "loglik_gap": r["scores"]["ll_stereotyping"] - r["scores"]["ll_other"]} for r in ranked[:5]],
                "variant": records[0]["details"].get("variant", VARIANT) if records else VARIANT,
                "skipped_too_long": len(too_long),
                "invalid": {"n": len(invalid), "reasons": {reason: sum(r["invalid"] == reason for r in invalid)
                                                           for reason in sorted({r["invalid"] for r in invalid})}},
                "notes": [f"{len(too_long)} pairs longer than the model's input limit were skipped"] * bool(too_long)
                + [f"{len(invalid)} pairs with a non-finite score were left out"] * bool(invalid)
                + [TIE_NOTE] + list(self.caveats)}


class CrowsPairs(SentencePairs):
    name = "crows_pairs"
    caveats = ("Blodgett et al. (ACL 2021) found many CrowS-Pairs items invalid (the dataset's own README warns "
               "of this); read the figures as indicative.",
               "CrowS-Pairs (Nangia et al., EMNLP 2020), CC BY-SA 4.0.")

    FIELDS = {"id": str, "sent_more": str, "sent_less": str, "bias_type": str, "stereo_antistereo": str}

    def check_data(self, config: ProbeConfig) -> None:
        jsonl_rows(config, "pairs", self.FIELDS)

    def pairs(self, ctx: ProbeContext):
        rows = jsonl_rows(ctx.config, "pairs", self.FIELDS)
        out, per_type = [], {}
        for r in rows:
            per_type[r["bias_type"]] = per_type.get(r["bias_type"], 0) + 1
            if ctx.limit and per_type[r["bias_type"]] > ctx.limit:
                continue
            out.append((r["id"], r["sent_more"], r["sent_less"], r["bias_type"], {"direction": r["stereo_antistereo"]}))
        return out


_BRACKETS = re.compile(r"[\[\]]")


class WinoBias(SentencePairs):
    name = "winobias"
    caveats = ("WinoBias (Zhao et al., NAACL 2018), MIT. Scored as sentence pairs: the pro-stereotyped sentence "
               "versus the same sentence with the pronoun's gender swapped.",)

    def check_data(self, config: ProbeConfig) -> None:
        for key in ("pro_type1", "anti_type1", "pro_type2", "anti_type2"):
            for lineno, line in enumerate(text_lines(config, key), 1):
                if " " not in line.strip():
                    raise HarnessError(f"probe {config.name!r}: {config.data[key]}:{lineno} is not `NUMBER SENTENCE`",
                                       "write each line as WinoBias does: its number, a space, the sentence")

    def pairs(self, ctx: ProbeContext):
        out = []
        for kind in ("type1", "type2"):
            pro = text_lines(ctx.config, f"pro_{kind}")
            anti = text_lines(ctx.config, f"anti_{kind}")
            for k, (p, a) in enumerate(zip(pro, anti)):
                if ctx.limit and k >= ctx.limit:
                    break
                clean = [_BRACKETS.sub("", line.split(" ", 1)[1]).strip() for line in (p, a)]
                out.append((f"{kind}-{k}", clean[0], clean[1], kind, {}))
        return out
