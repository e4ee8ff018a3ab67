"""Harness throughput as ratios measured in one run.

    python benchmarks/throughput.py                 # CPU; add --device cuda on a GPU
    python benchmarks/throughput.py --skip-lm-eval  # without the lm-eval comparison

For a multiple-choice and a generate task (the built-in facts_mc and toylang data, repeated
--scale times with fresh ids) it times, interleaved over --repeats rounds:

* bare     - the same adapter calls on the same batches, nothing else (no store, no scoring);
* harness  - a whole `harness run` of the task: data, prompts, batching, model, scoring,
             samples.jsonl, bootstrap, results.json and report.html;
* lm-eval  - lm-evaluation-harness 0.4 (`pip install -e '.[bench]'`) on the same model folder,
             the same JSONL data and prompts, the same batch size.

and prints the medians with harness/bare (overhead) and lm-eval/harness (speed-up) ratios, plus a
cross-check of every metric both tools report on the same items (multiple choice: accuracy = acc,
accuracy_norm = acc_norm; generation: bleu, chrf, exact_match); it exits 1 if any pair differs.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from harness.audit import prepare, run_audit                       # noqa: E402
from harness.batching import Pending, batches, group_requests, split_large  # noqa: E402
from harness.models.embedded import tiny_gpt2                      # noqa: E402
from harness.requests import request_text                          # noqa: E402
from harness.resources import builtin_dir                          # noqa: E402
from harness.run_dir import RunState                               # noqa: E402
from harness.calls import answer_method                            # noqa: E402
from harness.meters.session import read_windows                    # noqa: E402
from harness.spec import MeterOptions, ModelSpec, RunSpec, RuntimeOptions  # noqa: E402

# the metrics both tools compute, harness name -> lm-eval name (same definition and scale)
SHARED_METRICS = {"facts_mc": {"accuracy": "acc", "accuracy_norm": "acc_norm"},
                  "toylang": {"bleu": "bleu", "chrf": "chrf", "exact_match": "exact_match"}}
TASKS = {
    "facts_mc": {"harness": {"kind": "multiple_choice", "prompt": "Question: {question}\nAnswer:",
                             "metrics": list(SHARED_METRICS["facts_mc"])},
                 "lm_eval": {"output_type": "multiple_choice", "doc_to_text": "Question: {{question}}\nAnswer:",
                             "doc_to_choice": "{{choices}}", "doc_to_target": "answer",
                             "metric_list": [{"metric": m} for m in SHARED_METRICS["facts_mc"].values()]}},
    "toylang": {"harness": {"kind": "generate", "prompt": "English: {english}\nToylang:", "answer": "toylang",
                            "stop": ["\n"], "max_tokens": 32, "metrics": list(SHARED_METRICS["toylang"])},
                "lm_eval": {"output_type": "generate_until", "doc_to_text": "English: {{english}}\nToylang:",
                            "doc_to_target": " {{toylang}}",
                            "metric_list": [{"metric": m} for m in SHARED_METRICS["toylang"].values()],
                            "generation_kwargs": {"until": ["\n"], "max_gen_toks": 32, "do_sample": False}}},
}


def cross_check(name: str, harness: dict[str, float], lm_eval: dict[str, float], rel_tol: float = 1e-6) -> list[str]:
    """One line per shared metric, 'METRIC H vs L', with ' MISMATCH' where the two differ."""
    lines = []
    for ours, theirs in SHARED_METRICS[name].items():
        h, lme = harness.get(ours), lm_eval.get(theirs)
        same = h is not None and lme is not None and math.isclose(h, lme, rel_tol=rel_tol, abs_tol=1e-9)
        lines.append(f"{ours} {_fmt(h)} vs {_fmt(lme)}" + ("" if same else " MISMATCH"))
    return lines


def _fmt(value: float | None) -> str:
    return "missing" if value is None else f"{value:.4g}"


def write_tasks(root: Path, scale: int) -> None:
    import yaml
    for name, spec in TASKS.items():
        rows = [json.loads(x) for x in (builtin_dir("tasks") / name / "test.jsonl").read_text().splitlines()]
        rows = [{**r, "id": f"{r['id']}-{k}"} for k in range(scale) for r in rows]
        data = root / "data" / f"{name}.jsonl"
        data.parent.mkdir(parents=True, exist_ok=True)
        data.write_text("".join(json.dumps(r) + "\n" for r in rows))
        (root / "harness").mkdir(exist_ok=True)
        (root / "harness" / f"{name}.yaml").write_text(yaml.safe_dump(
            {"name": f"bench_{name}", "data": str(data), **spec["harness"]}))
        (root / "lm_eval").mkdir(exist_ok=True)
        (root / "lm_eval" / f"{name}.yaml").write_text(yaml.safe_dump(
            {"task": f"bench_{name}", "dataset_path": "json", "dataset_kwargs": {"data_files": {"test": str(data)}},
             "test_split": "test", **spec["lm_eval"]}))


def time_bare(adapter, task, batch_size: int) -> float:
    adapter._encode.cache_clear()          # each harness run starts with a cold tokenizer cache too
    pending = [Pending((ex.id, i), r) for ex in task.examples
               for i, r in enumerate(task.kind.requests(task.config, ex, task.contexts[ex.id]))]
    start = time.perf_counter()
    groups = group_requests(pending, lambda r: adapter.token_count(request_text(r)))
    call = answer_method(adapter, task.kind.request_type)
    for batch in batches(split_large(groups, batch_size), batch_size):
        call([p.request for p in batch])
    return time.perf_counter() - start


def time_harness(spec: RunSpec, out: Path) -> tuple[float, float, dict[str, float]]:
    """End-to-end seconds, the evaluation loop's seconds (the task window), and the metric values."""
    start = time.perf_counter()
    state = RunState.create(out, spec, argv=["benchmark"])
    results = run_audit(state, progress=False)
    elapsed = time.perf_counter() - start
    (task,) = results.models["tiny-gpt2"].tasks.values()
    (loop,) = [w["duration_s"] for w in read_windows(state.dir) if w["kind"] == "task"]
    return elapsed, loop, {k: m.value for k, m in task.metrics.items()}


def time_lm_eval(lm, name: str, task_manager) -> tuple[float, dict[str, float]]:
    import lm_eval
    start = time.perf_counter()
    out = lm_eval.simple_evaluate(model=lm, tasks=[f"bench_{name}"], task_manager=task_manager, log_samples=False,
                                  bootstrap_iters=1000)
    elapsed = time.perf_counter() - start
    metrics = out["results"][f"bench_{name}"]
    return elapsed, {m: metrics[f"{m},none"] for m in SHARED_METRICS[name].values() if f"{m},none" in metrics}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--scale", type=int, default=8, help="copies of each test set (default 8)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--skip-lm-eval", action="store_true")
    args = ap.parse_args()

    root = Path(tempfile.mkdtemp(prefix="harness-bench-"))
    write_tasks(root, args.scale)
    runtime = RuntimeOptions(device=args.device, batch_size=args.batch_size)
    adapter = tiny_gpt2(ModelSpec("tiny-gpt2", "tiny-gpt2"), runtime)
    lm = task_manager = None
    if not args.skip_lm_eval:
        import logging
        from lm_eval.models.huggingface import HFLM
        from lm_eval.tasks import TaskManager
        logging.getLogger("lm-eval").setLevel(logging.ERROR)
        lm = HFLM(pretrained=str(builtin_dir("model") / "tiny-gpt2"), device=args.device, batch_size=args.batch_size,
                  dtype="float32" if args.device == "cpu" else "auto")
        task_manager = TaskManager(include_path=str(root / "lm_eval"))

    print(f"device {adapter.info.device}, batch size {args.batch_size}, {args.repeats} rounds, torch threads "
          f"{__import__('torch').get_num_threads()}")
    rows = []
    for name in TASKS:
        spec = RunSpec(models=(ModelSpec("tiny-gpt2", "tiny-gpt2"),), tasks=(f"bench_{name}",),
                       tasks_dirs=(root / "harness",), runtime=runtime, meters=MeterOptions(enabled=False), probes=())
        (task,) = prepare(spec)
        times: dict[str, list[float]] = {"bare": [], "harness": [], "loop": [], "lm-eval": []}
        values = {}
        time_bare(adapter, task, args.batch_size)                 # warm-up
        for _ in range(args.repeats):
            times["bare"].append(time_bare(adapter, task, args.batch_size))
            t, loop, values["harness"] = time_harness(spec, root / "runs")
            times["harness"].append(t)
            times["loop"].append(loop)
            if lm is not None:
                t, values["lm-eval"] = time_lm_eval(lm, name, task_manager)
                times["lm-eval"].append(t)
        med = {k: statistics.median(v) for k, v in times.items() if v}
        paired = statistics.median([loop / bare for loop, bare in zip(times["loop"], times["bare"])])
        fastest = min(times["loop"]) / min(times["bare"])
        rows.append((name, len(task.examples), med, values, paired, fastest))

    print("\n| task | examples | bare loop s | harness loop s | harness end-to-end s | lm-eval s | "
          "loop / bare (medians; paired; fastest) | end-to-end / bare | lm-eval / harness end-to-end | metric: harness vs lm-eval |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, n, med, values, paired, fastest in rows:
        lme = med.get("lm-eval")
        cells = [name, str(n), f"{med['bare']:.2f}", f"{med['loop']:.2f}", f"{med['harness']:.2f}",
                 f"{lme:.2f}" if lme else "-", f"{med['loop'] / med['bare']:.3f}; {paired:.3f}; {fastest:.3f}",
                 f"{med['harness'] / med['bare']:.3f}",
                 f"{lme / med['harness']:.2f}" if lme else "-",
                 "; ".join(cross_check(name, values["harness"], values["lm-eval"])) if lme else "-"]
        print("| " + " | ".join(cells) + " |")
    mismatches = [(name, line) for name, _, med, values, _, _ in rows if med.get("lm-eval")
                  for line in cross_check(name, values["harness"], values["lm-eval"]) if line.endswith("MISMATCH")]
    for name, line in mismatches:
        print(f"cross-check {name}: {line}", file=sys.stderr)
    if mismatches:
        sys.exit(1)


if __name__ == "__main__":
    main()
