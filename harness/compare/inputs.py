"""Whether two runs asked the same of a task or probe, so that a difference in their numbers is the
model's and not the configuration's (pure, but for ``fingerprints``, which reads run.json).

run.json records, per task, sha256 fingerprints of its data (after --limit, with the few-shot pool),
its prompt (template and few-shot contexts) and its configuration (``max_tokens``, ``stop``,
``tokenize``, ``normalize``, the metrics, ...), and per probe of its data files and configuration
(harness.fingerprint). Two runs whose task configuration differs generate or score differently:
BLEU of ``max_tokens: 2`` against ``max_tokens: 32`` measures the cap, and BLEU re-scored with the
other run's tokenizer is not the number that run reported. Such a task is not compared
(``task_differences``); differences in data and prompts (every rendered input) are left to the item
pairing (harness.compare.pairing), which sees them item by item. results.json's own ``tokenize``/``normalize`` and each BLEU value's
``tokenizer`` are checked too, so runs made before fingerprints were recorded are caught as well.
"""
from __future__ import annotations

import json
from pathlib import Path

from harness.results.types import ProbeResult, TaskResult

PARTS = ("config",)          # what must be equal for a task's numbers to be compared (the prompt's fingerprint holds
                             # every rendered context, so another --limit changes it: the items' inputs are paired)
CONFIG_KEYS = "max_tokens, stop, tokenize, normalize, metrics, fewshot, ..."


def fingerprints(run_dir: Path) -> dict:
    """run.json's ``fingerprints`` ({"task": {name: {data, prompt, config}}, "probe": {...}}), or {}
    for a run folder without them (an older run, or a results.json passed without its folder)."""
    try:
        raw = json.loads((Path(run_dir) / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError, RecursionError):
        return {}
    found = raw.get("fingerprints") if isinstance(raw, dict) else None
    return found if isinstance(found, dict) else {}


def _print(prints: dict, kind: str, name: str) -> dict | None:
    found = (prints.get(kind) or {}).get(name)
    return found if isinstance(found, dict) else None


def part_changes(prints_a: dict, prints_b: dict, kind: str, name: str, parts=PARTS) -> list[str]:
    """The fingerprint parts of task/probe ``name`` that both runs recorded and that differ."""
    a, b = _print(prints_a, kind, name), _print(prints_b, kind, name)
    if a is None or b is None:
        return []
    return [part for part in parts if part in a and part in b and a[part] != b[part]]


def _words(part: str) -> str:
    return {"config": f"config ({CONFIG_KEYS})", "prompt": "prompt (template or few-shot contexts)",
            "data": "data (items after --limit, few-shot pool)"}.get(part, part)


def _scoring(entry: TaskResult) -> dict[str, str]:
    """How a task's text metrics were scored, as its results record it."""
    out = {key: getattr(entry, key) for key in ("tokenize", "normalize") if getattr(entry, key)}
    for name, value in entry.metrics.items():
        tokenizer = value.extra("tokenizer")
        if isinstance(tokenizer, str):
            out[f"{name} tokenizer"] = tokenizer
    return out


def task_differences(name: str, prints_a: dict, prints_b: dict, entry_a: TaskResult | None,
                     entry_b: TaskResult | None) -> str | None:
    """Why task ``name`` of two runs must not be compared (their prompt or config differ), or None."""
    found = [_words(p) for p in part_changes(prints_a, prints_b, "task", name)]
    if entry_a is not None and entry_b is not None:
        a, b = _scoring(entry_a), _scoring(entry_b)
        found += [f"{key} {a.get(key, 'default')} vs {b.get(key, 'default')}"
                  for key in sorted(set(a) | set(b)) if a.get(key) != b.get(key)]
    if not found:
        return None
    return (f"the runs' task {name!r} differs: {'; '.join(dict.fromkeys(found))}; not compared (a difference would "
            "measure the task's configuration, not the model, and neither run is re-scored with the other's settings)")


def probe_differences(name: str, prints_a: dict, prints_b: dict, entry_a: ProbeResult | None = None,
                      entry_b: ProbeResult | None = None) -> str | None:
    """Why probe ``name`` of two runs must not be compared (its configuration differs), or None."""
    found = [f"config ({'params, tasks, limit'})" for _ in part_changes(prints_a, prints_b, "probe", name, ("config",))]
    if entry_a is not None and entry_b is not None and entry_a.variant and entry_b.variant and \
            entry_a.variant != entry_b.variant:
        found.append(f"variant {entry_a.variant} vs {entry_b.variant}")
    if not found:
        return None
    return f"the runs' probe {name!r} differs: {'; '.join(found)}; not compared"
