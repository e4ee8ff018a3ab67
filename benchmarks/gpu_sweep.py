"""Issue 20 section 8, ready for a GPU: a Llama-shaped model of about 1B parameters in bf16 (random
weights built from a config, no download), swept over batch sizes with the meters on, then
`harness tune` on it. Metering is read-only: nothing here changes a clock, a power limit or any other
GPU setting (the tune runs without --power-limits).

    python benchmarks/gpu_sweep.py --out /tmp/gpu-sweep                      # on a machine with a GPU
    python benchmarks/gpu_sweep.py --out /tmp/sweep --shape tiny --device cpu --dtype float32 \\
        --batch-sizes 2,4 --limit 4 --repeats 1 --tune-trials 2                # the same path on a CPU

Per batch size, one `harness run` of toylang (generation, at most 32 new tokens) and facts_mc
(multiple choice) with ``--repeats``; per task it reads results.json and windows.jsonl for:
tokens/s (generated tokens over the task's seconds), J/token and J/example (each with its 95%
interval and source), the GPU energy counter against the integrated power (discrepancy %), seconds
per throttle reason, mean GPU power, and the idle power measured before the run. A figure that
was not measured reads "not measured: <reason>". Then `harness tune` over batch sizes and prune=
amounts on facts_mc, and its best configuration. Writes OUT/sweep.json and OUT/sweep.md.

The model: LlamaConfig(hidden 2048, 24 layers, 32 heads with 4 key-value heads, MLP 5632: about
1.06B parameters) with the embedded tiny-gpt2 tokenizer (1,024 tokens), saved in bf16.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SHAPES = {"llama-1b": dict(hidden_size=2048, intermediate_size=5632, num_hidden_layers=24, num_attention_heads=32,
                           num_key_value_heads=4),
          "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                       num_key_value_heads=2)}
TASKS = ("toylang", "facts_mc")


def build(folder: Path, shape: str) -> int:
    """The random-init model and the tokenizer in ``folder``; returns the parameter count."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from harness.resources import builtin_dir
    tokenizer = AutoTokenizer.from_pretrained(builtin_dir("model") / "tiny-gpt2")
    config = LlamaConfig(vocab_size=len(tokenizer), max_position_embeddings=2048, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, **SHAPES[shape])
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).to(torch.bfloat16).eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return sum(p.numel() for p in model.parameters())


def harness(*args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, cwd=REPO)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"harness {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


def shown(figure: dict | None) -> str:
    """A figure as the table shows it: value [interval] (source), or "not measured: <reason>"."""
    if not figure:
        return "not measured: not recorded"
    if figure.get("value") is None:
        return f"not measured: {figure.get('reason') or 'no reason recorded'}"
    lo, hi = figure.get("ci95") or (None, None)
    interval = f" [{lo:.4g}, {hi:.4g}]" if lo is not None and hi is not None else ""
    return f"{figure['value']:.4g}{interval} ({figure.get('source')})"


def task_row(run_dir: Path, task: str) -> dict:
    results = json.loads((run_dir / "results.json").read_text())
    (model,) = results["models"].values()
    energy = model["tasks"][task]["energy"]
    windows = [json.loads(line) for line in (run_dir / "windows.jsonl").read_text().splitlines()]
    mine = [w for w in windows if w.get("kind") == "task" and w.get("task") == task and w.get("completed")]
    seconds = sum(w["duration_s"] for w in mine)
    tokens = sum(w.get("generated_tokens", 0) for w in mine)
    gpu = results["energy"]["meters"].get("gpu", {})
    idle = (gpu.get("idle_baseline") or {}).get("power_w")
    return {"task": task, "tokens": tokens, "seconds": seconds,
            "tokens_per_s": tokens / seconds if tokens and seconds else None,
            "j_per_token": energy.get("j_per_generated_token"), "j_per_example": energy.get("j_per_example"),
            "gpu_energy_j": energy.get("gpu_energy_j"),
            "discrepancy_pct": energy.get("gpu_energy_discrepancy_pct"),
            "throttle_s": {k: v.get("value") for k, v in (energy.get("throttle_s") or {}).items()},
            "gpu_power_mean_w": energy.get("gpu_power_mean_w"),
            "idle_power_w": idle if idle else f"not measured: {gpu.get('reason') or 'no idle baseline recorded'}",
            "device": model.get("device"), "dtype": model.get("dtype"), "status": results["run"]["status"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--shape", choices=sorted(SHAPES), default="llama-1b")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dtype", default="bfloat16")
    ap.add_argument("--batch-sizes", default="1,4,16,64")
    ap.add_argument("--limit", type=int, default=64, help="items per task")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tune-trials", type=int, default=4, help="0: no tune")
    args = ap.parse_args()
    from harness.output_guard import run_folder_of
    inside = run_folder_of(args.out.resolve())
    if inside is not None:
        ap.error(f"--out {args.out} lies in the run folder {inside}: pass a folder of its own")
    try:
        batches = [int(b) for b in args.batch_sizes.split(",")]
    except ValueError:
        ap.error(f"--batch-sizes {args.batch_sizes!r}: write whole numbers, e.g. 1,4,16,64")
    args.out.mkdir(parents=True, exist_ok=True)
    folder = args.out / f"model-{args.shape}"
    started = time.monotonic()
    parameters = build(folder, args.shape) if not (folder / "config.json").is_file() else None
    spec = f"{args.shape}=hf-causal:{folder},dtype={args.dtype}"
    rows = []
    for batch in batches:
        out = args.out / f"batch{batch}"
        harness("run", "--model", spec, "--tasks", ",".join(TASKS), "--limit", str(args.limit), "--batch-size",
                str(batch), "--repeats", str(args.repeats), "--device", args.device, "--no-probes", "--no-progress",
                "--out", str(out))
        (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
        for task in TASKS:
            rows.append({"batch_size": batch, **task_row(run_dir, task)})
            print(json.dumps(rows[-1], default=str), flush=True)
    best = None
    if args.tune_trials:
        tune = harness("tune", "--model", spec, "--tasks", "facts_mc", "--limit", str(args.limit), "--trials",
                       str(args.tune_trials), "--batch-sizes", args.batch_sizes, "--dtypes", args.dtype,
                       "--quantize", "none", "--prune", "0,0.25", "--repeats", str(max(2, args.repeats)),
                       "--device", args.device, "--out", str(args.out / "tune"))
        best = {"stdout": tune.stdout.strip().splitlines(), "tune_json": str(args.out / "tune" / "tune.json")}
    report = {"shape": args.shape, "parameters": parameters, "device": args.device, "dtype": args.dtype,
              "limit": args.limit, "repeats": args.repeats, "rows": rows, "tune": best,
              "seconds": time.monotonic() - started}
    (args.out / "sweep.json").write_text(json.dumps(report, indent=1, default=str))
    lines = ["| batch | task | tokens/s | J/token | J/example | GPU J (counter) | counter vs integrated % | "
             "throttle s | GPU W mean | idle W |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        rate = f"{r['tokens_per_s']:.4g}" if r["tokens_per_s"] else "not measured: no tokens generated"
        lines.append(f"| {r['batch_size']} | {r['task']} | {rate} | {shown(r['j_per_token']) if r['task'] == 'toylang' else '-'} | "
                     f"{shown(r['j_per_example'])} | {shown(r['gpu_energy_j'])} | {shown(r['discrepancy_pct'])} | "
                     f"{r['throttle_s'] or 'none recorded'} | {shown(r['gpu_power_mean_w'])} | {r['idle_power_w']} |")
    (args.out / "sweep.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    if best:
        print("\n".join(best["stdout"]))


if __name__ == "__main__":
    main()
