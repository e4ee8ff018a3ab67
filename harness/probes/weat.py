"""WEAT and SEAT for encoders (Caliskan et al., Science 2017; May et al., NAACL 2019).

effect size d = (mean_x s(x,A,B) - mean_y s(y,A,B)) / std_{w in X u Y} s(w,A,B),
s(w,A,B) = mean_a cos(w,a) - mean_b cos(w,b). The p-value is the one-sided permutation test of
Caliskan et al. over equal-size re-partitions of X u Y: exact when there are at most 100,000,
else 10,000 sampled. The 95% interval re-samples the target words (bootstrap). WEAT embeds the
words alone; SEAT embeds them in this project's sentence templates (the SEAT sentence files are
CC BY-NC and are not used). Holm's correction runs across the tests of each family.
"""
from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

from harness.models.base import ModelAdapter
from harness.probes.rows import json_document
from harness.probes.base import ProbeConfig, ProbeContext
from harness.probes.stats import holm, mean_ci, permutation_partitions

TESTS = {
    "weat1_flowers_insects": ("flowers", "insects", "pleasant_5", "unpleasant_5a"),
    "weat2_instruments_weapons": ("instruments", "weapons", "pleasant_5", "unpleasant_5a"),
    "weat3_ea_aa_names": ("european_american_names_5", "african_american_names_5", "pleasant_5", "unpleasant_5b"),
    "weat4_ea_aa_names": ("european_american_names_7", "african_american_names_7", "pleasant_5", "unpleasant_5b"),
    "weat5_ea_aa_names": ("european_american_names_7", "african_american_names_7", "pleasant_9", "unpleasant_9"),
    "weat6_names_career_family": ("male_names", "female_names", "career", "family"),
    "weat7_math_arts_gender": ("math", "arts", "male_terms", "female_terms"),
    "weat8_science_arts_gender": ("science", "arts_2", "male_terms_2", "female_terms_2"),
    "weat9_mental_physical_disease": ("mental_disease", "physical_disease", "temporary", "permanent"),
    "weat10_young_old_names": ("young_people_names", "old_people_names", "pleasant_9", "unpleasant_9"),
}
SEAT_TEMPLATES = ("This is {w}.", "That is {w}.", "There is {w}.", "Here is {w}.", "{w} is here.", "{w} is there.",
                  "It is {w}.", "Look at {w}.")


def _unit(m: np.ndarray) -> np.ndarray:
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def associations(W: np.ndarray, A: np.ndarray, B: np.ndarray) -> np.ndarray:
    W, A, B = _unit(W), _unit(A), _unit(B)
    return (W @ A.T).mean(axis=1) - (W @ B.T).mean(axis=1)


def effect_size(X: np.ndarray, Y: np.ndarray, A: np.ndarray, B: np.ndarray) -> float:
    sx, sy = associations(X, A, B), associations(Y, A, B)
    return float((sx.mean() - sy.mean()) / np.concatenate([sx, sy]).std(ddof=1))


def permutation_p(X, Y, A, B, seed: int) -> tuple[float, bool]:
    s = np.concatenate([associations(X, A, B), associations(Y, A, B)])
    n_x = len(X)
    observed = s[:n_x].sum() - s[n_x:].sum()
    partitions, exact = permutation_partitions(len(s), n_x, seed, limit=100_000)
    stats = 2 * s[partitions].sum(axis=1) - s.sum()
    if exact:
        return float(np.mean(stats > observed - 1e-12)), True
    return float((np.sum(stats > observed - 1e-12) + 1) / (len(stats) + 1)), False


def effect_size_ci(X, Y, A, B, seed: int, resamples: int = 1000) -> tuple[float, list[float]]:
    """Bootstrap over target words: a word's association s(w,A,B) does not depend on the others,
    so each resample only re-draws the precomputed associations."""
    sx, sy = associations(X, A, B), associations(Y, A, B)
    rng = np.random.default_rng(seed)
    rx = sx[rng.integers(0, len(sx), (resamples, len(sx)))]
    ry = sy[rng.integers(0, len(sy), (resamples, len(sy)))]
    spread = np.concatenate([rx, ry], axis=1).std(axis=1, ddof=1)
    keep = spread > 0
    values = (rx.mean(axis=1) - ry.mean(axis=1))[keep] / spread[keep]
    return float(values.std(ddof=1)), [float(v) for v in np.percentile(values, [2.5, 97.5])]


class Weat:
    name = "weat"
    params = ("tests",)                      # which of TESTS (default all)
    metrics = ("weat_mean_abs_effect_size", "seat_mean_abs_effect_size")

    def skip_reason(self, adapter: ModelAdapter, config: ProbeConfig) -> str | None:
        if not callable(getattr(adapter, "embed", None)):
            return f"WEAT/SEAT need sentence embeddings; {adapter.info.kind} models here give none"
        return None

    def check_data(self, config: ProbeConfig) -> None:
        json_document(config, "words")

    def run(self, ctx: ProbeContext) -> Iterator[dict]:
        lists = json_document(ctx.config, "words")
        tests = ctx.config.params.get("tests", list(TESTS))
        cache: dict[str, np.ndarray] = {}

        def embed(texts: list[str]) -> np.ndarray:
            missing = [t for t in dict.fromkeys(texts) if t not in cache]
            for i in range(0, len(missing), 64):
                vectors = ctx.adapter.embed(missing[i:i + 64])
                cache.update(zip(missing[i:i + 64], np.asarray(vectors.cpu() if hasattr(vectors, "cpu") else vectors, float)))
            return np.stack([cache[t] for t in texts])

        for index, name in enumerate(tests):
            for variant in ("weat", "seat"):
                item_id = f"{variant}/{name}"
                if item_id in ctx.done:
                    continue
                sets = []
                for key in TESTS[name]:
                    words = lists[key]
                    texts = words if variant == "weat" else [t.format(w=w) for w in words for t in SEAT_TEMPLATES]
                    sets.append(embed(texts))
                X, Y, A, B = sets
                d = effect_size(X, Y, A, B)
                p, exact = permutation_p(X, Y, A, B, ctx.seed + index)
                stderr, ci = effect_size_ci(X, Y, A, B, ctx.seed + index)
                yield {"id": item_id, "index": index, "input": " / ".join(TESTS[name]), "prediction": f"{d:.4f}",
                       "reference": "0", "scores": {"effect_size": d, "p_value": p, "stderr": stderr},
                       "details": {"variant": variant, "test": name, "ci95": ci, "exact_permutation": exact,
                                   "sizes": [len(s) for s in sets]}}

    def summarize(self, records: Sequence[dict], config: ProbeConfig, seed: int) -> dict:
        subgroups, metrics = {}, {}
        for variant in ("weat", "seat"):
            mine = [r for r in records if r["details"]["variant"] == variant]
            adjusted = holm({r["details"]["test"]: r["scores"]["p_value"] for r in mine})
            for r in mine:
                test = r["details"]["test"]
                subgroups[f"{variant}/{test}"] = {
                    "effect_size": {"value": r["scores"]["effect_size"], "stderr": r["scores"]["stderr"],
                                    "ci95": r["details"]["ci95"]},
                    "p_value": r["scores"]["p_value"], "p_value_holm": adjusted[test],
                    "exact_permutation": r["details"]["exact_permutation"], "set_sizes": r["details"]["sizes"]}
            if mine:
                sizes = [abs(r["scores"]["effect_size"]) for r in mine]
                metrics[f"{variant}_mean_abs_effect_size"] = mean_ci(sizes, seed)
        strongest = sorted(records, key=lambda r: -abs(r["scores"]["effect_size"]))[:5]
        return {"metrics": metrics, "subgroups": subgroups,
                "examples": [{"test": f"{r['details']['variant']}/{r['details']['test']}", "sets": r["input"],
                              "effect_size": r["scores"]["effect_size"]} for r in strongest],
                "notes": ["positive d: X is closer to A (and Y to B); Holm-corrected within each family",
                          "mean_abs_effect_size: mean |d| over the tests, its interval a bootstrap over tests; "
                          "each test's own interval is in subgroups",
                          "WEAT word lists: Caliskan et al. 2017 via WEFE (MIT); SEAT templates written for this project"]}
