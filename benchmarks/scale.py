"""Whole-process timings of `harness run` and `lm-eval run` at real model sizes, interleaved.

    python benchmarks/make_models.py /tmp/bench-models
    python benchmarks/scale.py --model /tmp/bench-models/gpt2-26m --rounds 3
    python benchmarks/scale.py --model /tmp/bench-models/gpt2-125m --rounds 3 --limit 64

Workloads (the built-in data repeated with fresh ids, CPU fp32, batch size 32, the same prompts):

* mc0 - facts_mc x8 (256 items, 4 choices), 0-shot;
* mc5 - facts_mc x8, 5-shot with fixed shots (`fewshot: {fixed: true}` for the harness; lm-eval's
        `first_n` sampler over a shots file holding exactly the shots the harness draws, in order);
* gen - toylang x2 (240 items), greedy, stop "\\n", at most 32 new tokens.

Each round runs every workload as harness, then lm-eval (ABAB...), each a fresh process (start-up,
model load, evaluation, metrics and writing results included; the harness with its default meters
on). It prints per workload the median seconds, the median of the paired lm-eval/harness ratios, peak
RSS of each process (os.wait4's ru_maxrss), and a cross-check of every metric both tools report
(identical values required; exit 1 otherwise). --limit N evaluates the first N items of each task
in both tools (the 125M runs).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))          # this checkout's harness, also for the processes it starts
WORKLOADS = {"mc0": ("facts_mc", 8, 0), "mc5": ("facts_mc", 8, 5), "gen": ("toylang", 2, 0)}
SEED = 1234


def _throughput():
    spec = importlib.util.spec_from_file_location("bench_throughput", HERE / "throughput.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fixed_shots(train: Path, k: int) -> list[dict]:
    """The shots `fewshot: {fixed: true}` gives every item (harness.prompts.fixed_fewshot), in order."""
    from harness.data import DataSource, load_examples
    from harness.prompts import fixed_fewshot
    pool = load_examples(DataSource(path=train), "shots")
    ids = [ex.id for ex in fixed_fewshot(pool, k, SEED)]
    rows = {json.loads(line)["id"]: json.loads(line) for line in train.read_text().splitlines()}
    return [rows[i] for i in ids]


def write_tasks(root: Path) -> None:
    import yaml
    from harness.resources import builtin_dir
    bench = _throughput()
    for key, (name, scale, shots) in WORKLOADS.items():
        spec = bench.TASKS[name]
        rows = [json.loads(x) for x in (builtin_dir("tasks") / name / "test.jsonl").read_text().splitlines()]
        rows = [{**r, "id": f"{r['id']}-{k}"} for k in range(scale) for r in rows]
        data = root / "data" / f"{key}.jsonl"
        data.parent.mkdir(parents=True, exist_ok=True)
        data.write_text("".join(json.dumps(r) + "\n" for r in rows))
        ours = {"name": f"bench_{key}", "data": str(data), **spec["harness"]}
        theirs = {"task": f"bench_{key}", "dataset_path": "json", "dataset_kwargs": {"data_files": {"test": str(data)}},
                  "test_split": "test", **spec["lm_eval"]}
        if shots:
            train = builtin_dir("tasks") / name / "train.jsonl"
            shot_file = root / "data" / f"{key}-shots.jsonl"
            shot_file.write_text("".join(json.dumps(r) + "\n" for r in fixed_shots(train, shots)))
            ours["fewshot"] = {"data": str(train), "num": shots, "fixed": True}
            theirs["dataset_kwargs"]["data_files"]["train"] = str(shot_file)
            theirs.update(fewshot_split="train", num_fewshot=shots, fewshot_config={"sampler": "first_n"})
        for tool, config in (("harness", ours), ("lm_eval", theirs)):
            (root / tool).mkdir(exist_ok=True)
            (root / tool / f"{key}.yaml").write_text(yaml.safe_dump(config))


def timed(cmd: list[str], env: dict) -> tuple[float, float, float, float]:
    """Wall seconds, CPU seconds (user + system), peak RSS in MiB, and the wall-clock time it started."""
    with tempfile.TemporaryFile() as err:
        spawned = time.time()
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=REPO)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        tail = err.read().decode(errors="replace")[-2000:]
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{tail}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, spawned


def run_harness(model: Path, root: Path, key: str, limit: int | None, out: Path, env: dict):
    cmd = [sys.executable, "-m", "harness", "run", "--model", f"m=hf-causal:{model}", "--tasks-dir", str(root / "harness"),
           "--tasks", f"bench_{key}", "--batch-size", "32", "--device", "cpu", "--dtype", "float32", "--no-probes",
           "--no-progress", "--out", str(out)] + (["--limit", str(limit)] if limit else [])
    before = set(out.iterdir()) if out.exists() else set()
    elapsed, cpu, rss, spawned = timed(cmd, env)
    (run_dir,) = set(out.iterdir()) - before
    results = json.loads((run_dir / "results.json").read_text())
    metrics = results["models"]["m"]["tasks"][f"bench_{key}"]["metrics"]
    windows = [json.loads(line) for line in (run_dir / "windows.jsonl").read_text().splitlines()]
    first_task = min(datetime.fromisoformat(w["started"]).timestamp() for w in windows if w["kind"] == "task")
    return elapsed, cpu, rss, first_task - spawned, {k: v["value"] for k, v in metrics.items()}


def run_lm_eval(model: Path, root: Path, key: str, limit: int | None, out: Path, env: dict):
    target = out / f"lm-eval-{time.time_ns()}"
    cmd = [sys.executable, "-m", "lm_eval", "run", "--model", "hf", "--model_args", f"pretrained={model},dtype=float32",
           "--tasks", f"bench_{key}", "--include_path", str(root / "lm_eval"), "--batch_size", "32", "--device", "cpu",
           "--output_path", str(target)] + (["--limit", str(limit)] if limit else [])
    elapsed, cpu, rss, _ = timed(cmd, env)
    (found,) = target.rglob("results_*.json")
    metrics = json.loads(found.read_text())["results"][f"bench_{key}"]
    return elapsed, cpu, rss, {k.split(",")[0]: v for k, v in metrics.items() if k.endswith(",none") and "stderr" not in k}


def cross_check(name: str, ours: dict, theirs: dict) -> list[str]:
    shared = _throughput().SHARED_METRICS[name]
    lines = []
    for mine, other in shared.items():
        h, lme = ours.get(mine), theirs.get(other)
        same = h is not None and lme is not None and math.isclose(h, lme, rel_tol=1e-6, abs_tol=1e-9)
        lines.append(f"{mine} {h if h is None else f'{h:.4g}'} vs {lme if lme is None else f'{lme:.4g}'}"
                     + ("" if same else " MISMATCH"))
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True, help="a folder written by benchmarks/make_models.py")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--limit", type=int, help="items per task, in both tools")
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--json", type=Path, help="also write every timing here")
    args = ap.parse_args()
    keys = [k for k in args.workloads.split(",") if k]
    root = Path(tempfile.mkdtemp(prefix="harness-scale-"))
    write_tasks(root)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    times = {k: {f"{tool}_{what}": [] for tool in ("harness", "lm-eval") for what in ("wall", "cpu", "rss")}
             for k in keys}
    for k in keys:
        times[k]["startup"] = []
    values: dict = {}
    for r in range(args.rounds):
        for key in keys:
            t, cpu, rss, startup, ours = run_harness(args.model, root, key, args.limit, root / "runs", env)
            t2, cpu2, rss2, theirs = run_lm_eval(args.model, root, key, args.limit, root / "lm", env)
            for tool, figures in (("harness", (t, cpu, rss)), ("lm-eval", (t2, cpu2, rss2))):
                for what, value in zip(("wall", "cpu", "rss"), figures):
                    times[key][f"{tool}_{what}"].append(value)
            times[key]["startup"].append(startup)
            values[key] = (ours, theirs)
            print(f"round {r + 1} {key}: harness {t:.1f}s ({cpu:.1f} CPU s) lm-eval {t2:.1f}s ({cpu2:.1f} CPU s) "
                  f"ratio {t2 / t:.2f} (CPU {cpu2 / cpu:.2f}); harness start-up {startup:.1f}s", file=sys.stderr, flush=True)
    print(f"\nmodel {args.model.name}, {args.rounds} rounds, limit {args.limit or 'none'}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    print("| workload | harness s | lm-eval s | lm-eval / harness, wall (median of paired; min-max) | harness CPU s | "
          "lm-eval CPU s | lm-eval / harness, CPU (median of paired; min-max) | peak RSS MiB harness / lm-eval | "
          "harness start-up to first batch s | metric: harness vs lm-eval |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    mismatches = []
    for key in keys:
        t = times[key]
        lines = cross_check(WORKLOADS[key][0], *values[key])
        mismatches += [f"{key}: {line}" for line in lines if line.endswith("MISMATCH")]
        cells = [key]
        for what in ("wall", "cpu"):
            ratios = [b / a for a, b in zip(t[f"harness_{what}"], t[f"lm-eval_{what}"])]
            cells += [f"{statistics.median(t[f'harness_{what}']):.1f}", f"{statistics.median(t[f'lm-eval_{what}']):.1f}",
                      f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"]
        cells += [f"{max(t['harness_rss']):.0f} / {max(t['lm-eval_rss']):.0f}", f"{statistics.median(t['startup']):.1f}",
                  "; ".join(lines)]
        print("| " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps({"model": str(args.model), "limit": args.limit, "times": times,
                                         "values": values}, indent=1))
    for line in mismatches:
        print(f"cross-check {line}", file=sys.stderr)
    if mismatches:
        sys.exit(1)


if __name__ == "__main__":
    main()
