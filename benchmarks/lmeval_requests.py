"""lm-eval's request building with its own ``apply_template`` and with the harness's compiled-once
templates (harness.lmeval.templates), interleaved in one process, on the same lm-eval YAML.

    python benchmarks/lmeval_requests.py --items 2048 --shots 5 --rounds 5

The task is the built-in facts_mc test set repeated with fresh ids up to ``--items``, 5 shots drawn
per item by lm-eval's own sampler from the train split (as MMLU-style 5-shot tasks do). Each round
builds the task's requests with lm-eval's ``build_all_requests`` once each way (the dataset is
loaded before the first round, so both time request building only). Prints the median seconds of
each, the median of the paired ratios (min-max) and whether every request is the same (exit 1 if not).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def write_task(root: Path, items: int, shots: int) -> None:
    import yaml
    rows = [json.loads(x) for x in (REPO / "tasks/facts_mc/test.jsonl").read_text().splitlines()]
    rows = [{**r, "id": f"{r['id']}-{k}"} for k in range(items // len(rows) + 1) for r in rows][:items]
    (root / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / "bench_requests.yaml").write_text(yaml.safe_dump({
        "task": "bench_requests", "dataset_path": "json", "output_type": "multiple_choice",
        "dataset_kwargs": {"data_files": {"test": str(root / "test.jsonl"),
                                          "train": str(REPO / "tasks/facts_mc/train.jsonl")}},
        "test_split": "test", "fewshot_split": "train", "num_fewshot": shots,
        "doc_to_text": "Question: {{question}}\nAnswer:", "doc_to_choice": "{{choices}}", "doc_to_target": "answer",
        "metric_list": [{"metric": "acc"}]}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=2048)
    ap.add_argument("--shots", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    from functools import partial

    import lm_eval.api.task as task_module
    import lm_eval.utils as utils
    from lm_eval.tasks import TaskManager
    task_module.tqdm = partial(task_module.tqdm, disable=True)

    from harness.lmeval import templates
    root = Path(tempfile.mkdtemp(prefix="harness-requests-"))
    write_task(root, args.items, args.shots)
    (task,) = TaskManager(include_path=str(root), include_defaults=False).load(["bench_requests"])["tasks"].values()
    own = utils.apply_template
    templates.compile_once()
    once = utils.apply_template
    times: dict[str, list[float]] = {"lm-eval": [], "compiled once": []}
    built: dict[str, list] = {}
    for _ in range(args.rounds):
        for name, apply in (("lm-eval", own), ("compiled once", once)):
            utils.apply_template = apply
            templates._compiled.cache_clear()          # every round compiles afresh, as a new process does
            task.set_fewshot_seed(seed=1234)
            start = time.perf_counter()
            task.build_all_requests(limit=None, rank=0, world_size=1)
            times[name].append(time.perf_counter() - start)
            built[name] = [(i.doc_id, i.idx, i.args) for i in task.instances]
    same = built["lm-eval"] == built["compiled once"]
    ratios = [a / b for a, b in zip(times["lm-eval"], times["compiled once"])]
    print(f"{args.items} items, {args.shots} shots per item drawn by lm-eval's sampler, {len(built['lm-eval'])} requests, "
          f"{args.rounds} interleaved rounds")
    print("| lm-eval's apply_template s | compiled once s | ratio (median of paired; min-max) | every request the same |")
    print("|---|---|---|---|")
    print(f"| {statistics.median(times['lm-eval']):.2f} | {statistics.median(times['compiled once']):.2f} | "
          f"{statistics.median(ratios):.1f} ({min(ratios):.1f}-{max(ratios):.1f}) | {'yes' if same else 'NO'} |")
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
