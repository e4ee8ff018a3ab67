"""Write the built-in tasks' data files under tasks/ from the toy world (deterministic).

    python model/build_data.py [--out DIR]      # DIR (default: the repository) gets DIR/tasks/...

Re-running it rewrites byte-identical files; tests/test_embedded_models.py checks that.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import toyworld  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows), encoding="utf-8")


def fewshot_pools() -> dict[str, list[dict]]:
    """Few-shot examples come from training material, never from the test sets."""
    trained, _ = toyworld.split_facts()
    import random
    rng = random.Random(toyworld.SEED + 6)
    facts = []
    for i, f in enumerate(trained):
        pool = sorted({g.answer for g in toyworld.facts() if g.relation == f.relation} - {f.answer})
        choices = rng.sample(pool, 3) + [f.answer]
        rng.shuffle(choices)
        facts.append({"id": f"facts-train-{i:03d}", "question": f.question, "choices": choices,
                      "answer": choices.index(f.answer), "relation": f.relation})
    held_out = {r["english"] for r in toyworld.task_splits()["toylang"]}
    toy, seen = [], set()
    while len(toy) < 20:
        en, tl = toyworld.toylang_pair(rng)
        if en not in held_out and en not in seen:
            seen.add(en)
            toy.append({"id": f"toylang-train-{len(toy):03d}", "english": en, "toylang": tl})
    return {"facts_mc": facts, "toylang": toy}


def bilingual() -> tuple[list[dict], list[dict]]:
    """English -> Chinese toy pairs: 10 few-shot pairs and 30 test pairs, no sentence in both."""
    train = toyworld.bilingual_items(10, toyworld.SEED + 9, "toyzh-train")
    test = toyworld.bilingual_items(30, toyworld.SEED + 10, "toyzh", frozenset(r["english"] for r in train))
    return train, test


GENERATED = ("tasks/facts_mc/test.jsonl", "tasks/facts_mc/train.jsonl", "tasks/toylang/test.jsonl",
             "tasks/toylang/train.jsonl", "tasks/stories/test.jsonl", "tasks/topic/train.jsonl", "tasks/topic/test.jsonl",
             "tasks/counterfactual/topic_people.jsonl", "tasks/toytext/test.jsonl",
             "tasks/toyzh/train.jsonl", "tasks/toyzh/test.jsonl")


def main(argv: list[str] | None = None) -> None:
    import argparse
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT, help="write DIR/tasks/... (default: this repository)")
    out = ap.parse_args(argv).out
    splits = toyworld.task_splits()
    pools = fewshot_pools()
    rows = [splits["facts_mc"], pools["facts_mc"], splits["toylang"], pools["toylang"], splits["stories"],
            splits["topic_train"], splits["topic_test"], toyworld.topic_people(80, toyworld.SEED + 7),
            toyworld.held_out_documents(), *bilingual()]
    for relative, data in zip(GENERATED, rows, strict=True):
        write_jsonl(out / relative, data)
    print(f"wrote {len(GENERATED)} files under {out / 'tasks'}")


if __name__ == "__main__":
    main()
