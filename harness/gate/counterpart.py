"""Which part of the baseline a gated target is judged against, and whether the two measured the same
thing (pure; run.json's fingerprints are read by the caller, harness.compare.inputs.fingerprints).

* **The model.** The baseline's model of the same name; or, when each run holds one model, the
  baseline's only one if it is the same base model (results' ``spec``: adapter and location; a
  recipe, ``quantize=``, ``prune=``, ``dtype=``, may differ: that is what a variant is gated on).
  Another model (tiny-gpt2 against minilm) is never paired: name the two models alike to compare
  them on purpose.
* **The inputs** of an energy baseline rule. A task's configuration (``max_tokens``, ``stop``, ...)
  must be equal in both runs; for the model's own energy, both runs must have run the same tasks and
  probes, each configured alike. Totals (J, gCO2e, seconds) need the same items too (data after
  --limit); figures per example (J/example, examples/J, gCO2e per 1,000 examples, mean power, quality
  per kJ) may come from a different number of items of the same task.
Anything else is named (``why``), and the rule reads not measured with it, never a number.
"""
from __future__ import annotations

from harness.compare.inputs import part_changes
from harness.results.types import ModelResult, Results

TOTALS = frozenset({"total_energy_j", "gpu_energy_j", "gpu_energy_integrated_j", "gpu_energy_net_j", "cpu_energy_j",
                    "ram_energy_j", "gco2e", "duration_s"})


def paired_model(baseline: Results, results: Results, model: str) -> tuple[str | None, str]:
    """(the baseline's model paired with ``model``, "") or (None, why not)."""
    models = baseline.models
    if model in models:
        return model, ""
    if len(models) == 1 and len(results.models) == 1:
        name, info = next(iter(models.items()))
        mine = results.models.get(model)
        if mine is not None and info.spec and info.spec == mine.spec:
            return name, ""
        return None, (f"the baseline's only model {name!r} ({info.spec or 'spec not recorded'}) is another model than "
                      f"{model!r} ({mine.spec if mine is not None and mine.spec else 'spec not recorded'}): a baseline "
                      "must be the same model or a variant of it (name both models alike to compare them on purpose)")
    return None, f"the baseline has no model {model!r} (it holds {', '.join(models) or 'none'})"


def _pieces(model: ModelResult) -> set[str]:
    return set(model.tasks) | {f"probe:{p}" for p in model.probes}


def input_differences(scope: str, piece: str | None, figure: str, base_model: ModelResult, model: ModelResult,
                      base_prints: dict, prints: dict) -> str:
    """Why the baseline's figure of ``scope``/``piece`` measured other work than this run's, or ""."""
    parts = ("config", "data", "prompt") if figure in TOTALS else ("config",)
    if scope == "model":
        mine, theirs = _pieces(model), _pieces(base_model)
        if mine != theirs:
            only_base, only_here = sorted(theirs - mine), sorted(mine - theirs)
            said = "; ".join(x for x in (f"only the baseline ran {', '.join(only_base)}" if only_base else "",
                                         f"only this run ran {', '.join(only_here)}" if only_here else "") if x)
            return f"the runs evaluated other tasks and probes ({said}): the model's energy measures other work"
        units = [("task", t) for t in sorted(model.tasks)] + [("probe", p) for p in sorted(model.probes)]
    else:
        units = [(scope, piece)]
    changed = [f"{kind} {name!r}: {', '.join(found)}" for kind, name in units
               if (found := part_changes(base_prints, prints, kind, name, parts))]
    if changed:
        return (f"the baseline ran it differently ({'; '.join(changed)} differ"
                + ("" if figure in TOTALS else "; a per-example figure still needs the same configuration")
                + "): the figures measure other work")
    return ""
