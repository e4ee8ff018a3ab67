"""A gated run as a reviewer met it, for the report and terminal tests: the full model and a pruned
variant (prune=0.9) on two tasks, measured energy priced at 400 g/kWh, and a failing gate of 24 rule
targets - two failures, one carbon rule not measured on 6 targets with the same reason, the rest passing.
Built through results_builder.py."""
from __future__ import annotations

import results_builder as rb

CARBON_REASON = "not measured: the baseline run has no gCO2e (no carbon intensity given)"


def _energy(total: float, n: int):
    return rb.energy(duration_s=(total / 20, "s", "clock"), total_energy_j=(total, "J"),
                     cpu_energy_j=(total * 0.3, "J"), ram_energy_j=(total * 0.7, "J"),
                     j_per_example=(total / n, "J/example"), gco2e=(total / 3.6e6 * 400, "gCO2e"),
                     gco2e_per_1000_examples=(total / n / 3.6e3 * 400, "gCO2e/1000 examples"))


def gated(pruned_accuracy: float = 0.125):
    tasks = lambda acc, bleu, j: {  # noqa: E731
        "facts_mc": rb.task({"accuracy": rb.metric(acc, n=32, higher_is_better=True)}, n=32, energy=_energy(j, 32)),
        "toylang": rb.task({"bleu": rb.metric(bleu, n=40, ci=(max(0.0, bleu - 4), bleu + 4), higher_is_better=True)}, kind="generate",
                           n=40, energy=_energy(j * 2, 40))}
    models = {"full": rb.model("tiny-gpt2", tasks=tasks(0.594, 54.9, 27.0), energy=_energy(120.0, 72)),
              "pruned": rb.model("tiny-gpt2", tasks=tasks(pruned_accuracy, 0.85, 30.0), energy=_energy(130.0, 72),
                                 recipe={"dtype": None, "quantize": None, "prune": 0.9})}
    rules = [{"name": "facts accuracy floor", "target": "pruned/facts_mc/accuracy", "value": pruned_accuracy,
              "threshold": ">= 0.5", "verdict": "fail", "reason": f"{pruned_accuracy} < 0.5"},
             {"name": "bleu floor", "target": "pruned/toylang/bleu", "value": 0.85, "threshold": ">= 40", "verdict": "fail",
              "reason": "0.85 < 40"}]
    rules += [{"name": "carbon vs baseline", "target": f"{m}/{t}/energy/gco2e_per_1000_examples", "value": None,
               "threshold": "increase <= 10%", "verdict": "fail", "reason": CARBON_REASON}
              for m in ("full", "pruned") for t in ("facts_mc", "toylang", "model")]
    rules += [{"name": f"budget {i}", "target": f"full/facts_mc/energy/j_per_example#{i}", "value": 0.8,
               "threshold": "<= 5", "verdict": "pass", "reason": "0.8 <= 5"} for i in range(16)]
    return rb.results("gated-run", models, run_energy=_energy(260.0, 144), gate=rb.verdict(rules, "fail"))
