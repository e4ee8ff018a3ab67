"""The cost of metering: the same evaluation with meters on and off, as ratios from one run.

    python benchmarks/meter_overhead.py [--repeats 5] [--scale 8] [--device cuda]

Runs tiny-gpt2 on the built-in facts_mc and toylang data (repeated --scale times), alternating
meters on / off, and prints the median wall times, their ratio, the ratio without the meters'
one-time start-up (CodeCarbon's hardware probe, the GPU idle baseline), and the samplers' own
CPU time. The idle baseline is set to 0 s here so that the ratio measures sampling, not waiting.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from harness.audit import run_audit                                    # noqa: E402
from harness.run_dir import RunState                                   # noqa: E402
from harness.spec import MeterOptions, ModelSpec, RunSpec, RuntimeOptions  # noqa: E402

import throughput                                                       # noqa: E402  (same data as throughput.py)


def one_run(spec: RunSpec, out: Path) -> tuple[float, dict]:
    start = time.perf_counter()
    state = RunState.create(out, spec, argv=["benchmark"])
    results = run_audit(state, progress=False)
    return time.perf_counter() - start, results.to_json()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--scale", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--period-ms", type=float, default=100)
    args = ap.parse_args()

    root = Path(tempfile.mkdtemp(prefix="harness-meter-bench-"))
    throughput.write_tasks(root, args.scale)
    base = dict(models=(ModelSpec("tiny-gpt2", "tiny-gpt2"),), tasks=("bench_facts_mc", "bench_toylang"),
                tasks_dirs=(root / "harness",), runtime=RuntimeOptions(device=args.device, batch_size=args.batch_size),
                probes=())
    on = RunSpec(**base, meters=MeterOptions(enabled=True, period_s=args.period_ms / 1000, idle_s=0.0))
    off = RunSpec(**base, meters=MeterOptions(enabled=False))
    one_run(off, root / "warmup")
    times = {"on": [], "off": []}
    startup, sampler_cpu = [], []
    for _ in range(args.repeats):
        t, _ = one_run(off, root / "off")
        times["off"].append(t)
        t, results = one_run(on, root / "on")
        times["on"].append(t)
        meters = results["energy"]["meters"]
        startup.append(meters.get("startup_s", 0.0))
        sampler_cpu.append(sum(m.get("sampler_cpu_s", 0.0) for m in meters.values() if isinstance(m, dict)))
    med = {k: statistics.median(v) for k, v in times.items()}
    steady = statistics.median([t - s for t, s in zip(times["on"], startup)])
    paired = statistics.median([on / off for on, off in zip(times["on"], times["off"])])
    fastest = min(times["on"]) / min(times["off"])
    print(json.dumps({"gpu": results["energy"]["meters"].get("gpu", {}).get("reason", "measured"),
                      "host": results["energy"]["meters"].get("host", {}).get("source")}))
    print("\n| meters off s | meters on s | on / off (medians) | median of paired on/off | on / off (fastest) | "
          "on without start-up / off | start-up s | sampler CPU s |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {med['off']:.2f} | {med['on']:.2f} | {med['on'] / med['off']:.3f} | {paired:.3f} | {fastest:.3f} | "
          f"{steady / med['off']:.3f} | {statistics.median(startup):.2f} | {statistics.median(sampler_cpu):.4f} |")


if __name__ == "__main__":
    main()
