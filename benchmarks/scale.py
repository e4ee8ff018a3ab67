"""Whole-process timings of `harness run` and `lm-eval run` at real model sizes, interleaved.

    python benchmarks/make_models.py /tmp/bench-models
    OMP_NUM_THREADS=1 python benchmarks/scale.py --model /tmp/bench-models/gpt2-26m --rounds 3
    OMP_NUM_THREADS=1 python benchmarks/scale.py --model /tmp/bench-models/gpt2-26m --rounds 3 --lm-eval-tasks
    OMP_NUM_THREADS=1 python benchmarks/scale.py --model /tmp/bench-models/gpt2-26m --pairs lm-eval-task
    OMP_NUM_THREADS=1 python benchmarks/scale.py --model /tmp/bench-models/gpt2-125m --rounds 3 --limit 64

Workloads (the built-in data repeated with fresh ids, CPU fp32, batch size 32, the same prompts):

* mc0  - facts_mc x8 (256 items, 4 choices), 0-shot;
* mc5  - facts_mc x8, 5-shot with fixed shots (`fewshot: {fixed: true}` for the harness; lm-eval's
         `first_n` sampler over a shots file holding exactly the shots the harness draws, in order);
* mc5i - facts_mc x8, 5-shot with shots drawn per item (the harness's own draw, seed + item index;
         lm-eval reads each item's rendered shots from a data field, so both see the same prompts);
* gen  - toylang x2 (240 items), greedy, stop "\\n", at most 32 new tokens;
* genv - gen with the stop sequences "\\n", "s" and "t": a random-init model rarely writes "\\n", so in
         gen nearly every row runs to the 32-token cap; here rows stop at different lengths, as a
         trained model's answers do (not a workload of the issue's goals: it shows what continuous
         batching saves once rows finish at different steps).

Each round runs every workload as harness, then lm-eval (ABAB...), each a fresh process (start-up,
model load, evaluation, metrics and writing results included; the harness with its default meters
on). With --lm-eval-tasks a third process runs the same workload as an lm-eval task inside the
harness (`harness run --tasks lm-eval:bench_KEY --lm-eval-include DIR`), paired with `lm-eval run`
on that same YAML: for mc0, mc5 and gen the YAML is the one above, so the lm-eval process is
shared; for mc5i it is a plain lm-eval 5-shot task (lm-eval's own sampler draws the shots per item),
which lm-eval then also runs. With --baseline CHECKOUT another checkout of the harness (the code
before a change) runs our own tasks as a further process in the same rounds. It prints per workload and pair the median seconds, the median of the
paired lm-eval/harness ratios, peak RSS of each process (os.wait4's ru_maxrss), the load average
around the pair, and a cross-check of every metric both tools report (identical values required;
exit 1 otherwise). --limit N evaluates the first N items of each task in both tools.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))          # this checkout's harness, also for the processes it starts
SEED = 1234


@dataclass(frozen=True)
class Workload:
    task: str              # built-in data under tasks/
    copies: int            # the test set repeated with fresh ids
    shots: int = 0
    fixed: bool = False    # the same shots for every item (else drawn per item)
    stop: tuple[str, ...] = ()   # generation: other stop sequences than the task's


WORKLOADS = {"mc0": Workload("facts_mc", 8), "mc5": Workload("facts_mc", 8, 5, fixed=True),
             "mc5i": Workload("facts_mc", 8, 5), "gen": Workload("toylang", 2),
             "genv": Workload("toylang", 2, stop=("\n", "s", "t"))}
PAIRS = ("task", "lm-eval-task")       # our own task format; the same workload as an lm-eval task


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


def drawn_shots(task_file: Path) -> dict[str, str]:
    """Item id -> the text before the item's own prompt in the harness's context: its per-item shots
    with their delimiters, as harness.prepared renders them."""
    from harness.prepared import prepare_task
    from harness.prompts import Template
    from harness.spec import load_task_file
    task = prepare_task(load_task_file(task_file), None, SEED)
    out = {}
    for ex in task.examples:
        own = Template(task.config.prompt, "bench").render(ex.fields)
        context = task.contexts[ex.id]
        assert context.endswith(own)
        out[ex.id] = context[: len(context) - len(own)]
    return out


def write_tasks(root: Path) -> None:
    """root/harness (our YAMLs), root/lm_eval (lm-eval YAMLs giving the same prompts) and
    root/lm_eval_tasks (the lm-eval YAMLs that --lm-eval-tasks runs in both tools)."""
    import yaml
    from harness.resources import builtin_dir
    bench = _throughput()
    for folder in ("harness", "lm_eval", "lm_eval_tasks", "data"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for key, work in WORKLOADS.items():
        spec = bench.TASKS[work.task]
        rows = [json.loads(x) for x in (builtin_dir("tasks") / work.task / "test.jsonl").read_text().splitlines()]
        rows = [{**r, "id": f"{r['id']}-{k}"} for k in range(work.copies) for r in rows]
        data = root / "data" / f"{key}.jsonl"
        data.write_text("".join(json.dumps(r) + "\n" for r in rows))
        ours = {"name": f"bench_{key}", "data": str(data), **spec["harness"]}
        theirs = {"task": f"bench_{key}", "dataset_path": "json", "dataset_kwargs": {"data_files": {"test": str(data)}},
                  "test_split": "test", **spec["lm_eval"]}
        if work.stop:
            ours["stop"] = list(work.stop)
            theirs["generation_kwargs"] = {**theirs["generation_kwargs"], "until": list(work.stop)}
        native = theirs
        train = builtin_dir("tasks") / work.task / "train.jsonl"
        if work.shots and work.fixed:
            shot_file = root / "data" / f"{key}-shots.jsonl"
            shot_file.write_text("".join(json.dumps(r) + "\n" for r in fixed_shots(train, work.shots)))
            ours["fewshot"] = {"data": str(train), "num": work.shots, "fixed": True}
            theirs["dataset_kwargs"]["data_files"]["train"] = str(shot_file)
            theirs.update(fewshot_split="train", num_fewshot=work.shots, fewshot_config={"sampler": "first_n"})
        elif work.shots:
            ours["fewshot"] = {"data": str(train), "num": work.shots}
            (root / "harness" / f"{key}.yaml").write_text(yaml.safe_dump(ours))
            prefixes = drawn_shots(root / "harness" / f"{key}.yaml")
            with_shots = root / "data" / f"{key}-with-shots.jsonl"
            with_shots.write_text("".join(json.dumps({**r, "shots": prefixes[r["id"]]}) + "\n" for r in rows))
            native = json.loads(json.dumps(theirs))
            native["dataset_kwargs"]["data_files"]["train"] = str(train)
            native.update(fewshot_split="train", num_fewshot=work.shots)
            theirs["dataset_kwargs"]["data_files"]["test"] = str(with_shots)
            theirs["doc_to_text"] = "{{shots}}" + theirs["doc_to_text"]
        (root / "harness" / f"{key}.yaml").write_text(yaml.safe_dump(ours))
        (root / "lm_eval" / f"{key}.yaml").write_text(yaml.safe_dump(theirs))
        (root / "lm_eval_tasks" / f"{key}.yaml").write_text(yaml.safe_dump(native))


def timed(cmd: list[str], env: dict, cwd: Path = REPO) -> dict:
    """Wall seconds, CPU seconds (user + system), peak RSS in MiB, the wall-clock time it started and
    the 1-minute load average before and after."""
    with tempfile.TemporaryFile() as err:
        load = os.getloadavg()[0]
        spawned = time.time()
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        tail = err.read().decode(errors="replace")[-2000:]
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{tail}")
    return {"wall": elapsed, "cpu": usage.ru_utime + usage.ru_stime, "rss": usage.ru_maxrss / 1024,
            "spawned": spawned, "load": (load + os.getloadavg()[0]) / 2}


def run_harness(model: Path, root: Path, key: str, limit: int | None, out: Path, env: dict, as_lm_eval: bool,
                checkout: Path = REPO) -> dict:
    tasks = (["--tasks", f"lm-eval:bench_{key}", "--lm-eval-include", str(root / "lm_eval_tasks")] if as_lm_eval
             else ["--tasks-dir", str(root / "harness"), "--tasks", f"bench_{key}"])
    cmd = [sys.executable, "-m", "harness", "run", "--model", f"m=hf-causal:{model}", *tasks, "--batch-size", "32",
           "--device", "cpu", "--dtype", "float32", "--no-probes", "--no-progress", "--out", str(out)]
    cmd += ["--limit", str(limit)] if limit else []
    before = set(out.iterdir()) if out.exists() else set()
    if checkout != REPO:                      # another checkout's harness (--baseline)
        env = {**env, "PYTHONPATH": os.pathsep.join([str(checkout), env.get("PYTHONPATH", "")])}
    got = timed(cmd, env, cwd=checkout)
    (run_dir,) = {p for p in set(out.iterdir()) - before if p.is_dir()}   # history.sqlite sits beside the runs
    results = json.loads((run_dir / "results.json").read_text())
    (task,) = [t for name, t in results["models"]["m"]["tasks"].items() if name.endswith(f"bench_{key}")]
    windows = [json.loads(line) for line in (run_dir / "windows.jsonl").read_text().splitlines()]
    first_task = min(datetime.fromisoformat(w["started"]).timestamp() for w in windows if w["kind"] == "task")
    return {**got, "startup": first_task - got["spawned"],
            "metrics": {k: v["value"] for k, v in task["metrics"].items() if isinstance(v, dict) and "value" in v}}


def run_lm_eval(model: Path, include: Path, key: str, limit: int | None, out: Path, env: dict) -> dict:
    target = out / f"lm-eval-{time.time_ns()}"
    cmd = [sys.executable, "-m", "lm_eval", "run", "--model", "hf", "--model_args", f"pretrained={model},dtype=float32",
           "--tasks", f"bench_{key}", "--include_path", str(include), "--batch_size", "32", "--device", "cpu",
           "--output_path", str(target)] + (["--limit", str(limit)] if limit else [])
    got = timed(cmd, env)
    (found,) = target.rglob("results_*.json")
    metrics = json.loads(found.read_text())["results"][f"bench_{key}"]
    return {**got, "metrics": {k: v for k, v in metrics.items() if "," in k and "_stderr" not in k
                               and isinstance(v, (int, float))}}


def _same(a, b) -> bool:
    return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)


def _fmt(value) -> str:
    return "missing" if value is None else f"{value:.4g}"


def cross_check(key: str, pair: str, ours: dict, theirs: dict) -> list[str]:
    """One line per metric both report, 'METRIC H vs L' with ' MISMATCH' where they differ. Our own
    tasks: the metrics of benchmarks/throughput.py's table; lm-eval tasks: every metric lm-eval
    reports ('acc,none' is our 'acc'; 'exact_match,strip' our 'exact_match[strip]')."""
    if pair == "task":
        names = _throughput().SHARED_METRICS[WORKLOADS[key].task]
        pairs = [(mine, ours.get(mine), theirs.get(f"{other},none")) for mine, other in names.items()]
    else:
        pairs = []
        for name, value in theirs.items():
            metric, _, filt = name.partition(",")
            mine = metric if filt == "none" else f"{metric}[{filt}]"
            pairs.append((mine, ours.get(mine), value))
    return [f"{name} {_fmt(h)} vs {_fmt(lme)}" + ("" if _same(h, lme) else " MISMATCH") for name, h, lme in pairs]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True, help="a folder written by benchmarks/make_models.py")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--limit", type=int, help="items per task, in both tools")
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--lm-eval-tasks", action="store_true",
                    help="also run each workload as an lm-eval task inside the harness (--tasks lm-eval:...)")
    ap.add_argument("--pairs", help=f"which pairs to run, comma-separated from {list(PAIRS)} (default: 'task', "
                                    "or both with --lm-eval-tasks)")
    ap.add_argument("--baseline", type=Path, metavar="CHECKOUT",
                    help="another checkout of the harness (e.g. the code before a change), run as a third process in "
                         "the same rounds on our own tasks")
    ap.add_argument("--json", type=Path, help="also write every timing here")
    args = ap.parse_args()
    keys = [k for k in args.workloads.split(",") if k]
    unknown = [k for k in keys if k not in WORKLOADS]
    if unknown:
        ap.error(f"unknown workloads {unknown}; choose from {list(WORKLOADS)}")
    pairs = tuple(p for p in (args.pairs or "").split(",") if p) or (PAIRS if args.lm_eval_tasks else PAIRS[:1])
    if set(pairs) - set(PAIRS):
        ap.error(f"unknown pairs {sorted(set(pairs) - set(PAIRS))}; choose from {list(PAIRS)}")
    root = Path(tempfile.mkdtemp(prefix="harness-scale-"))
    write_tasks(root)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    runs: dict = {(k, p): {"harness": [], "lm-eval": [], "baseline": []} for k in keys for p in pairs}
    uptime = [subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()]
    for r in range(args.rounds):
        for key in keys:
            native_differs = WORKLOADS[key].shots and not WORKLOADS[key].fixed
            lm_eval_run = None
            for pair in pairs:
                ours = run_harness(args.model, root, key, args.limit, root / "runs", env, as_lm_eval=pair != "task")
                if lm_eval_run is None or native_differs:
                    include = root / ("lm_eval" if pair == "task" else "lm_eval_tasks")
                    lm_eval_run = run_lm_eval(args.model, include, key, args.limit, root / "lm", env)
                runs[key, pair]["harness"].append(ours)
                runs[key, pair]["lm-eval"].append(lm_eval_run)
                if args.baseline and pair == "task":
                    base = run_harness(args.model, root, key, args.limit, root / "base", env, False, args.baseline)
                    runs[key, pair]["baseline"].append(base)
                    print(f"round {r + 1} {key} (baseline): {base['wall']:.1f}s ({base['cpu']:.1f} CPU s)",
                          file=sys.stderr, flush=True)
                print(f"round {r + 1} {key} ({pair}): harness {ours['wall']:.1f}s ({ours['cpu']:.1f} CPU s) lm-eval "
                      f"{lm_eval_run['wall']:.1f}s ({lm_eval_run['cpu']:.1f} CPU s) ratio "
                      f"{lm_eval_run['wall'] / ours['wall']:.2f}; harness start-up {ours['startup']:.1f}s; load "
                      f"{ours['load']:.2f}/{lm_eval_run['load']:.2f}", file=sys.stderr, flush=True)
    uptime.append(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    print(f"\nmodel {args.model.name}, {args.rounds} rounds, limit {args.limit or 'none'}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    print(f"uptime before: {uptime[0]}\nuptime after:  {uptime[1]}")
    print("| workload | harness runs it as | harness s | lm-eval s | lm-eval / harness, wall (median of paired; min-max) | "
          "harness CPU s | lm-eval CPU s | lm-eval / harness, CPU (median of paired; min-max) | peak RSS MiB harness / "
          "lm-eval | harness start-up to first batch s | load average (1 min) during the pairs, median (min-max) | "
          "metric: harness vs lm-eval |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    mismatches = []
    for (key, pair), got in runs.items():
        h, lm = got["harness"], got["lm-eval"]
        lines = [line for i in range(len(h)) for line in cross_check(key, pair, h[i]["metrics"], lm[i]["metrics"])]
        mismatches += [f"{key} ({pair}): {line}" for line in lines if line.endswith("MISMATCH")]
        cells = [key, "our task" if pair == "task" else f"lm-eval:bench_{key}"]
        for what in ("wall", "cpu"):
            ratios = [b[what] / a[what] for a, b in zip(h, lm)]
            cells += [f"{statistics.median(x[what] for x in h):.1f}", f"{statistics.median(x[what] for x in lm):.1f}",
                      f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"]
        loads = [x["load"] for x in h + lm]
        cells += [f"{max(x['rss'] for x in h):.0f} / {max(x['rss'] for x in lm):.0f}",
                  f"{statistics.median(x['startup'] for x in h):.1f}",
                  f"{statistics.median(loads):.2f} ({min(loads):.2f}-{max(loads):.2f})",
                  "; ".join(cross_check(key, pair, h[-1]["metrics"], lm[-1]["metrics"]))]
        print("| " + " | ".join(cells) + " |")
    if args.baseline:
        print(f"\nbaseline {args.baseline} (the same rounds, our own tasks):")
        print("| workload | baseline s | harness s | baseline / harness, wall (median of paired; min-max) | baseline CPU s | "
              "harness CPU s | baseline / harness, CPU (median of paired; min-max) | metrics equal |")
        print("|---|---|---|---|---|---|---|---|")
        for (key, pair), got in runs.items():
            h, b = got["harness"], got["baseline"]
            if not b:
                continue
            cells = [key]
            for what in ("wall", "cpu"):
                ratios = [y[what] / x[what] for x, y in zip(h, b)]
                cells += [f"{statistics.median(x[what] for x in b):.1f}", f"{statistics.median(x[what] for x in h):.1f}",
                          f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"]
            same = all(_same(x["metrics"].get(m), y["metrics"].get(m)) for x, y in zip(h, b) for m in y["metrics"])
            cells.append("yes" if same else "NO")
            print("| " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps({"model": str(args.model), "limit": args.limit, "uptime": uptime,
                                         "runs": {f"{k}/{p}": v for (k, p), v in runs.items()}}, indent=1))
    for line in mismatches:
        print(f"cross-check {line}", file=sys.stderr)
    if mismatches:
        sys.exit(1)


if __name__ == "__main__":
    main()
