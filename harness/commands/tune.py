"""`harness tune`: search a model's configurations (batch size, dtype, quantize=, prune=; the GPU power
limit behind --power-limits) for the least J/example (or J per correct answer) whose every selected
task metric stays non-inferior to the full model at --margin (harness.tune). Needs the `tune` extra
(Optuna); without it, exit 2 with the install line."""
from __future__ import annotations

import argparse
from pathlib import Path

from harness.commands.options import count, number
from harness.spec import MAX_REPEATS

HELP = "find the configuration of a model with the least energy per example at a quality floor (Optuna)"


def add_parser(sub, epilog: str) -> None:
    tune = sub.add_parser(
        "tune", help=HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Search batch size, dtype, quantize= and prune= (and, only with --power-limits, the GPU power "
                    "limit) for the configuration of --model with the least energy, measured with the protocol "
                    "(--repeats), whose every metric of --tasks is non-inferior to the full model at --margin (the "
                    "gate's paired `baseline: {max_drop: M, judge: ci}` rule). A trial that already fails the floor "
                    "on the first half of the items is pruned. The study is kept in OUT/tune.sqlite: the same "
                    "command resumes a killed tune. Writes OUT/tune.json, OUT/tune.html and OUT/tune-gate.yaml.",
        epilog="examples:\n  harness tune --model tiny-gpt2 --tasks facts_mc --limit 32 --trials 6\n"
               "  harness tune --model hf-causal:/models/llama --tasks facts_mc,topic --trials 30 --margin 0.02 "
               "--objective j_per_correct --out reports/tune-llama")
    tune.add_argument("--model", required=True, metavar="SPEC", help="the full model, as `harness run --model` takes it")
    tune.add_argument("--tasks", required=True, metavar="A,B", help="comma-separated tasks whose metrics set the floor")
    tune.add_argument("--limit", type=count("--limit", all_means=None), metavar="N|all",
                      help="the first N examples of each task (default: all)")
    tune.add_argument("--trials", type=count("--trials"), default=20, metavar="N",
                      help="trials in the study, those of a resumed study included (default 20)")
    tune.add_argument("--margin", type=number(0, 1e9), default=0.05, metavar="M",
                      help="the largest drop of a metric allowed, in the metric's units (default 0.05: 5 points "
                           "of accuracy), judged on the paired delta's 95%% CI")
    tune.add_argument("--objective", choices=("j_per_example", "j_per_correct"), default="j_per_example",
                      help="what to minimize (default j_per_example)")
    tune.add_argument("--out", type=Path, default=Path("reports/tune"), metavar="DIR",
                      help="the study, its run folders and its outputs (default reports/tune)")
    tune.add_argument("--repeats", type=count("--repeats", 1, MAX_REPEATS), default=3, metavar="N",
                      help="measured repeats of every configuration (default 3; see harness run --repeats)")
    tune.add_argument("--seed", type=count("--seed", 0, 2**32 - 1), default=1234, metavar="N",
                      help="the runs' seed and the sampler's (default 1234)")
    tune.add_argument("--sampler", choices=("tpe", "nsga2"), default="tpe", help="Optuna's sampler (default tpe)")
    tune.add_argument("--device", help="cpu, cuda or cuda:N (default: cuda when available, else cpu)")
    knobs = tune.add_argument_group("the knobs (comma-separated choices; default: every choice that runs well here)")
    knobs.add_argument("--batch-sizes", metavar="A,B", help="default 1,4,16,64")
    knobs.add_argument("--dtypes", metavar="A,B",
                       help="float32, bfloat16, float16 (default: those not known to be slow on the device)")
    knobs.add_argument("--quantize", metavar="A,B",
                       help="none, int8-dynamic, int8-weight-only (default: none and every scheme torchao runs here)")
    knobs.add_argument("--prune", metavar="F,F", help="fractions of weights to prune (default 0,0.1,0.25,0.5)")
    knobs.add_argument("--power-limits", metavar="W,W",
                       help="also search the GPU power limit over these watts: CHANGES THE GPU'S SETTING for each "
                            "trial (restored after it; needs the right to set it). Never set without this flag")


def execute(args, argv: list[str]) -> int:
    import importlib.util

    from harness.errors import HarnessError
    if importlib.util.find_spec("optuna") is None:
        from harness.tune import INSTALL
        raise HarnessError("harness tune needs Optuna, which is not installed", INSTALL)
    from harness.spec import ModelSpec, RuntimeOptions
    from harness.tune import Settings, tune
    from harness.tune.space import build_space
    tasks = tuple(dict.fromkeys(t.strip() for t in args.tasks.split(",")))   # a task named twice counts once
    if not all(tasks):
        raise HarnessError(f"--tasks {args.tasks!r} holds an empty name", "write --tasks A,B")
    base = ModelSpec.parse(args.model)
    runtime = RuntimeOptions(device=args.device)
    space = build_space(base, runtime, batch_sizes=args.batch_sizes, dtypes=args.dtypes, quantize=args.quantize,
                        prune=args.prune, power_limits=args.power_limits)
    settings = Settings(model=args.model, tasks=tasks, out=args.out, space=space, limit=args.limit, trials=args.trials,
                        margin=args.margin, objective=args.objective, repeats=args.repeats, seed=args.seed,
                        sampler=args.sampler, runtime=runtime)
    result = tune(settings)
    best = result["best"]
    out = args.out
    if best is None:
        print(f"no configuration passed the floor; see {out / 'tune.html'}")
        return 0
    if best.get("is_full_model"):
        print(f"no configuration passed the floor with less {settings.objective} than the full model: keep "
              f"{best['spec']}; see {out / 'tune.html'}")
        return 0
    energy = best[settings.objective]
    lo, hi = energy.get("ci95") or [None, None]
    interval = f" [{lo:.3g}, {hi:.3g}]" if lo is not None and hi is not None else ""
    source = energy.get("source") or "source not recorded"
    print(f"best: {best['spec']}  ({energy['value']:.4g} {energy['unit']}{interval}, {source}{_saving(best)})")
    print(f"run it: {best['command']}")
    print(f"wrote {out / 'tune.json'}, {out / 'tune.html'}, {out / 'tune-gate.yaml'}")
    return 0


def _saving(best: dict) -> str:
    """The saving against the full model with its test: one repeat cannot test it, and a saving the
    repeats do not support (Welch p >= 0.05) is said to be one."""
    saving, p = best.get("saving_pct"), best.get("saving_p")
    if saving is None:
        return ""
    text = f", {saving:.1f}% less than the full model"
    if p is None:
        return text + " (not tested: needs --repeats 2 or more)"
    return text + (f" (Welch p={p:.2g})" if p < 0.05 else f" (not significant: Welch p={p:.2g})")
