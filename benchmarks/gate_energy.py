"""How often the energy gate detects a planted increase and how often it fails an unchanged model
(the README's table under "Energy you can gate").

    python benchmarks/gate_energy.py --seeds 40 --noise 0.03 --noise 0.10 --repeats 1 --repeats 3 --repeats 5

Each run is measured through the real meter stack on the synthetic NVML device
(tests/gate_energy_runs.py: a task of 32 examples at 300 W for ~1.2 s a pass, each pass's duration
drawn with the given run-to-run noise; a warm-up pass, then the given number of repeats). A baseline
run (seed s) is gated against a candidate run (seed s + 1000) drawing 10% more power (seeds 0..n-1)
or the same power (seeds n..2n-1), with the rule `max_increase_pct: 5` (Welch's t at alpha 0.05; one
repeat a side: the point rule). Prints, per cell, fails (and warnings) out of n. The runs are on a
fake clock, so the figures are exact for a given seed and the same on every machine.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]      # this checkout's harness and the synthetic runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=40)
    ap.add_argument("--noise", type=float, action="append", help="run-to-run noise (sd of a pass's duration, a fraction)")
    ap.add_argument("--repeats", type=int, action="append", help="measured repeats a side")
    args = ap.parse_args()
    from gate_energy_runs import rates
    n = args.seeds
    print("| run-to-run noise | repeats a side | planted +10%: fail (warn) | no change: false alarms (warn) |")
    print("|---|---|---|---|")
    for noise in args.noise or [0.03, 0.10]:
        for repeats in args.repeats or [1, 3, 5]:
            with tempfile.TemporaryDirectory() as tmp:
                got = rates(Path(tmp), n, repeats, noise)
            label = f"{repeats} (the point rule)" if repeats == 1 else str(repeats)
            (pf, pw), (uf, uw) = got["planted"], got["unchanged"]
            print(f"| {noise:.0%} | {label} | {pf}/{n} ({pw}) | {uf}/{n} ({uw}) |", flush=True)


if __name__ == "__main__":
    main()
