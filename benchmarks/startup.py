"""Start-up to the first batch: `harness run` against `lm-eval run`, and against the floor that the
model libraries alone set, interleaved in one run.

    python benchmarks/startup.py --rounds 5                               # the embedded tiny-gpt2
    python benchmarks/startup.py --model /tmp/bench-models/gpt2-26m       # benchmarks/make_models.py

Each round starts three fresh processes, in turn:

* floor   - `python -c "import torch, transformers.modeling_utils, <the model's modeling module>"`:
            the time to the end of those imports, which every tool that runs this model through
            transformers pays before its first batch;
* harness - `harness run` on facts_mc (0-shot, --limit 8, meters on, probes off): the time to the
            start of its first task window (windows.jsonl), that is, after the meters started
            and the model loaded;
* lm-eval - `lm-eval run` on the same task, items and model: the time to its first model call
            (HFLM._model_call, patched in by this script to note the time).

Every time is from the moment the parent spawned the process. It prints medians, the min-max, and
the harness's own share (harness - floor), and writes the rows as JSON with --json.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

FLOOR = """
import json, sys, time
config = json.load(open(sys.argv[1]))
import torch, transformers.modeling_utils, importlib
model_type = config["model_type"].replace("-", "_")
importlib.import_module(f"transformers.models.{model_type}.modeling_{model_type}")
print(time.time(), flush=True)
"""

# lm-eval with its first model call timed: the patch notes the wall-clock time once, then runs on.
LM_EVAL = """
import os, runpy, sys, time
import lm_eval.models.huggingface as hf
stamp = os.environ["BENCH_FIRST_CALL_FILE"]
for name in ("_model_call", "_model_generate"):
    original = getattr(hf.HFLM, name)
    def timed(self, *args, _original=original, **kwargs):
        if not os.path.exists(stamp):
            with open(stamp, "w") as fh:
                fh.write(repr(time.time()))
        return _original(self, *args, **kwargs)
    setattr(hf.HFLM, name, timed)
sys.argv = ["lm-eval", *sys.argv[1:]]
runpy.run_module("lm_eval", run_name="__main__", alter_sys=True)
"""


def _scale():
    spec = importlib.util.spec_from_file_location("bench_scale", HERE / "scale.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module          # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def run(cmd: list[str], env: dict) -> tuple[float, str]:
    """The wall-clock time the process was spawned, and its stdout; exits on failure."""
    spawned = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} ... failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return spawned, proc.stdout


def floor(model: Path, env: dict) -> float:
    spawned, out = run([sys.executable, "-c", FLOOR, str(model / "config.json")], env)
    return float(out.strip().splitlines()[-1]) - spawned


def harness(model: Path, root: Path, limit: int, env: dict) -> float:
    out = root / "runs"
    before = set(out.glob("*/")) if out.exists() else set()
    spawned, _ = run([sys.executable, "-m", "harness", "run", "--model", f"m=hf-causal:{model}", "--tasks-dir",
                      str(root / "harness"), "--tasks", "bench_mc0", "--limit", str(limit), "--device", "cpu",
                      "--no-probes", "--no-progress", "--out", str(out)], env)
    (run_dir,) = set(out.glob("*/")) - before          # history.sqlite sits beside the run folders
    windows = [json.loads(line) for line in (run_dir / "windows.jsonl").read_text().splitlines()]
    return min(datetime.fromisoformat(w["started"]).timestamp() for w in windows if w["kind"] == "task") - spawned


def lm_eval(model: Path, root: Path, limit: int, env: dict) -> float:
    stamp = root / f"first-call-{time.time_ns()}"
    spawned, _ = run([sys.executable, "-c", LM_EVAL, "run", "--model", "hf", "--model_args",
                      f"pretrained={model},dtype=float32", "--tasks", "bench_mc0", "--include_path",
                      str(root / "lm_eval"), "--limit", str(limit), "--device", "cpu",
                      "--output_path", str(root / "lm")], {**env, "BENCH_FIRST_CALL_FILE": str(stamp)})
    return float(stamp.read_text()) - spawned


def main() -> None:
    from harness.resources import builtin_dir
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=builtin_dir("model") / "tiny-gpt2",
                    help="a GPT-2 folder (default: the embedded tiny-gpt2)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--limit", type=int, default=8)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="harness-startup-"))
    _scale().write_tasks(root)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    rows = {"floor": [], "harness": [], "lm-eval": []}
    for r in range(args.rounds):
        rows["floor"].append(floor(args.model, env))
        rows["harness"].append(harness(args.model, root, args.limit, env))
        rows["lm-eval"].append(lm_eval(args.model, root, args.limit, env))
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in rows.items()), file=sys.stderr, flush=True)
    own = [h - f for h, f in zip(rows["harness"], rows["floor"])]
    ratio = [lm / h for lm, h in zip(rows["lm-eval"], rows["harness"])]
    print(f"\nmodel {args.model.name}, {args.rounds} rounds, `--limit {args.limit}`; seconds from spawn, median (min-max)")
    print("| libraries alone (floor) | harness to first batch | harness's own share | lm-eval to first batch | lm-eval / harness |")
    print("|---|---|---|---|---|")
    cell = lambda v: f"{statistics.median(v):.2f} ({min(v):.2f}-{max(v):.2f})"     # noqa: E731
    print(f"| {cell(rows['floor'])} | {cell(rows['harness'])} | {cell(own)} | {cell(rows['lm-eval'])} | {cell(ratio)} |")
    if args.json:
        args.json.write_text(json.dumps({"model": str(args.model), "limit": args.limit, **rows}, indent=1))


if __name__ == "__main__":
    main()
