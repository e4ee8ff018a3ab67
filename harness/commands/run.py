"""`harness run`: evaluate models on tasks and probes, metered, into OUT/<run-id>/."""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from harness import finish
from harness.commands.options import Parser, count, number, renamed
from harness.errors import HarnessError
from harness.meters.carbon import MAX_G_PER_KWH, MAX_PUE
from harness.spec import MAX_REPEATS, MeasureOptions, MeterOptions, ModelSpec, RunOptions, RunSpec, RuntimeOptions
from harness.store import disk_full

HELP = "evaluate models on tasks and write reports/<run-id>/"


def add_arguments(run: argparse.ArgumentParser) -> None:
    run.add_argument("--model", action="append", metavar="SPEC",
                     help="a model to evaluate; repeat for several (default: tiny-gpt2 and minilm)")
    run.add_argument("--tasks", metavar="A,B", help="comma-separated task names (default: all); lm-eval:NAME for a task, "
                     "tag or group of lm-eval (pip install -e '.[lm-eval]')")
    run.add_argument("--tasks-dir", action="append", type=Path, default=[], metavar="DIR",
                     help="a folder of task YAML files to add; repeatable")
    run.add_argument("--lm-eval-include", action="append", type=Path, default=[], metavar="DIR",
                     help="a folder of lm-eval task YAMLs for --tasks lm-eval:NAME (lm-eval's --include_path); repeatable")
    run.add_argument("--trust-task-code", action="store_true",
                     help="let lm-eval task files outside the lm-eval package run their Python (!function; off by default)")
    run.add_argument("--limit", type=count("--limit", all_means=None), metavar="N|all",
                     help="evaluate only the first N examples of each task (default: all)")
    run.add_argument("--out", type=Path, default=Path("reports"), metavar="DIR",
                     help="where run folders are created (default: ./reports)")
    run.add_argument("--resume", type=Path, metavar="RUN_DIR",
                     help="finish an interrupted run: compute only the examples missing from its samples.jsonl")
    run.add_argument("--device", help="cpu, cuda or cuda:N (default: cuda when available, else cpu)")
    run.add_argument("--dtype", help="float32, bfloat16 or float16 (default: bf16/fp16 on cuda, float32 on cpu)")
    run.add_argument("--batch-size", type=count("--batch-size"), metavar="N",
                     help="fixed batch size (default: automatic, starting at 64 and halving on out-of-memory)")
    run.add_argument("--seed", type=count("--seed", 0, 2**32 - 1), default=1234,
                     help="seed for few-shot draws and the bootstrap, 0 to 2^32-1 (default 1234)")
    run.add_argument("--trust-remote-code", action="store_true",
                     help="allow models that ship their own Python code to run it (off by default)")
    run.add_argument("--no-progress", action="store_true", help="no progress output (bars on a terminal; elsewhere, e.g. a CI log, a "
                                                                   "heartbeat line per task, probe and model load)")
    run.add_argument("--probes", metavar="A,B", help="comma-separated robustness/bias probes (default: all that apply)")
    run.add_argument("--no-probes", action="store_true", help="run no probes")
    run.add_argument("--probe-limit", type=count("--probe-limit", all_means=0), metavar="N|all",
                     help="items per probe (per task, bias type or category; overrides each probe's default; "
                          "`all`: every item)")
    meters = run.add_argument_group("energy and carbon metering")
    meters.add_argument("--no-meters", action="store_true", help="measure no power, energy or telemetry")
    meters.add_argument("--sample-period-ms", type=number(1, 60_000), default=100, metavar="MS",
                        help="GPU telemetry sampling period (default 100 ms)")
    meters.add_argument("--idle-seconds", type=number(0, 3600), default=2.0, metavar="S",
                        help="idle GPU baseline measured before the run, for net-of-idle energy (default 2; 0 skips)")
    meters.add_argument("--country", metavar="ISO3",
                        help="country of the electricity grid (e.g. FRA), for CodeCarbon's offline carbon intensity")
    meters.add_argument("--carbon-intensity", type=number(0, MAX_G_PER_KWH), metavar="G_PER_KWH",
                        help="grid carbon intensity in g CO2e/kWh (wins over --country)")
    meters.add_argument("--pue", type=number(1.0, MAX_PUE), default=1.0,
                        help="data-centre power usage effectiveness (default 1.0)")
    run.add_argument("--verbose", action="store_true",
                     help="print every metric with its interval after the headline (as `harness show` does), and let "
                          "CodeCarbon log what it does")
    meters.add_argument("--repeats", type=count("--repeats", 1, MAX_REPEATS), default=1, metavar="N",
                        help="measure each model's tasks and probes N times after a warm-up pass that also scores "
                             "them: J/example, J/token and s/example get a 95%% interval across repeats (default 1)")
    meters.add_argument("--min-measure-s", type=number(0, 3600), default=0.0, metavar="S",
                        help="repeat the work of a window shorter than S seconds until it lasts S, for meters that "
                             "update slowly (default 0: never)")
    run.add_argument("--show-pii", action="store_true",
                     help="show personal data (e-mail addresses, phone, card and IBAN numbers) in report.html; by "
                          "default the page redacts them (samples.jsonl keeps the raw text)")
    run.add_argument("--baseline-model", dest="baseline", metavar="NAME",
                     help="with several --model: compare each other model with this one, item by item (McNemar, "
                          "paired bootstrap, cost ratios) into results.json's `comparison`")
    renamed(run, "--baseline", "--baseline-model NAME", "--baseline names a run in `harness gate` and `harness history`")
    for _, consumer in finish.consumers():       # the after-run consumers' own flags (harness.plugins.AFTER_RUN)
        consumer.add_arguments(run)


def add_parser(sub, epilog: str) -> None:
    run = sub.add_parser("run", help=HELP, epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter,
                         description="Evaluate models on tasks. Writes results.json, samples.jsonl and report.html "
                                     "to OUT/<run-id>/ and prints a summary.")
    add_arguments(run)


RESUME_TAKES = {"resume", "no_progress", "baseline"}


def refuse_resume_options(argv: list[str]) -> None:
    """A resume finishes the run as it was started (run.json): any other run option given with
    --resume would be ignored or would change the run half-way, so it is refused."""
    parser = Parser(prog="harness run")
    add_arguments(parser)
    for action in parser._actions:
        action.default = argparse.SUPPRESS
    takes = RESUME_TAKES | finish.resume_options()
    given = sorted(set(vars(parser.parse_args(argv[argv.index("run") + 1:]))) - takes)
    if given:
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        raise HarnessError(f"--resume continues a run with the options it was started with; it cannot take {flags}",
                           "drop them to finish the run as it was started, or start a new run with them")


def _resumable(state) -> tuple[list, list]:
    """What a resume checks before it touches anything: no other process works on the folder, its
    samples.jsonl and windows.jsonl read, and the inputs are those the run started with (a refusal comes at once;
    the lock is taken again for the run itself). Returns the prepared tasks and probes."""
    from harness.fingerprint import check_unchanged, fingerprints
    from harness.lock import run_lock
    from harness.store import SampleStore
    from harness.meters.session import read_windows
    with run_lock(state.dir):
        SampleStore(state.samples_path).records()
        read_windows(state.dir)
    for directory in state.spec.tasks_dirs:         # --tasks-dir cannot be given again with --resume
        if not directory.is_dir():
            raise HarnessError(f"the tasks directory {directory} run {state.id} was started with is gone",
                               "put it back at that path (run.json records it), or start a new run")
    from harness.audit import prepare, prepare_probes
    tasks, probes = prepare(state.spec), prepare_probes(state.spec)
    check_unchanged(state.id, state.fingerprints, fingerprints(tasks, probes))
    return tasks, probes


def run_options(args: argparse.Namespace, argv: list[str]) -> RunOptions:
    """`harness run`'s parsed flags as the typed value the run and its end are handed; bad flags are
    refused here, before anything is read or created."""
    if args.resume:
        refuse_resume_options(argv)
    if args.no_probes and args.probes is not None:
        raise HarnessError(f"--no-probes and --probes {args.probes} contradict each other",
                           "keep --probes to run those probes, or --no-probes to run none")
    if args.no_meters and (args.repeats > 1 or args.min_measure_s > 0):   # they would rerun the work to measure nothing
        flag = f"--repeats {args.repeats}" if args.repeats > 1 else f"--min-measure-s {args.min_measure_s:g}"
        raise HarnessError(f"{flag} repeats the work to measure its energy, but --no-meters measures none",
                           f"drop --no-meters to measure the repeats, or drop {flag.split()[0]}")
    common = dict(argv=tuple(argv), resume=args.resume, out=args.out, progress=not args.no_progress,
                  consumers=finish.consumer_options(args))
    if args.resume:
        return RunOptions(**common, baseline=args.baseline)
    from harness.models import DEFAULT_MODELS       # not .embedded: that imports torch for every run
    models = tuple(ModelSpec.parse(m) for m in (args.model or DEFAULT_MODELS))
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise HarnessError(f"two models share a name in {names}", "name them: --model a=SPEC --model b=SPEC")
    task_names = () if args.tasks is None else names_option("--tasks", args.tasks, "tasks")
    probe_names = () if args.no_probes else None if args.probes is None else names_option("--probes", args.probes, "probes")
    spec = RunSpec(models=models, tasks=task_names,
                   tasks_dirs=tuple(p.resolve() for p in args.tasks_dir), limit=args.limit, seed=args.seed,
                   runtime=RuntimeOptions(device=args.device, dtype=args.dtype, batch_size=args.batch_size,
                                          trust_remote_code=args.trust_remote_code),
                   meters=MeterOptions(enabled=not args.no_meters, period_s=args.sample_period_ms / 1000,
                                       idle_s=args.idle_seconds, country=args.country,
                                       carbon_intensity=args.carbon_intensity, pue=args.pue, verbose=args.verbose),
                   probes=probe_names, probe_limit=args.probe_limit, baseline=args.baseline, show_pii=args.show_pii,
                   lm_eval_include=tuple(p.resolve() for p in args.lm_eval_include),
                   trust_task_code=args.trust_task_code,
                   measure=MeasureOptions(repeats=args.repeats, min_measure_s=args.min_measure_s))
    if spec.lm_eval_include and not any(t.startswith("lm-eval:") for t in spec.tasks):
        raise HarnessError("--lm-eval-include adds lm-eval task files, but --tasks names no lm-eval:NAME task",
                           "select the tasks with --tasks lm-eval:NAME[,lm-eval:NAME...]")
    return RunOptions(**common, spec=spec)


def execute(args, argv: list[str]) -> int:
    options = run_options(args, argv)
    from harness.distributed.run import execute as execute_sharded, wanted
    if wanted(options.resume):          # under torchrun, or finishing a sharded run folder
        if options.spec is not None and options.spec.measure.repeats > 1:
            raise HarnessError("--repeats is not supported under torchrun yet",
                               "measure the repeats in one process (harness run --repeats N without torchrun)")
        return execute_sharded(options, lambda: start(options))
    from harness.audit import run_audit
    from harness.finish import FinishedRun
    from harness.lock import run_lock
    state, tasks, probes = start(options)
    print(f"run folder: {state.dir}", file=sys.stderr)
    with run_lock(state.dir):
        try:
            results = run_audit(state, progress=options.progress, tasks=tasks, probes=probes)
        except OSError as exc:
            raise disk_full(exc, state.dir) or exc
    return finish.finish(options, FinishedRun(state.dir, state.spec, results))


def start(options: RunOptions) -> tuple:
    """The run folder (created, or loaded and checked for --resume) with its prepared tasks and probes."""
    from harness.audit import prepare, prepare_probes
    from harness.run_dir import RunState
    if options.resume:
        state = RunState.load(options.resume)
        if options.baseline is not None:           # --baseline-model with --resume: the comparison run.json records
            state.spec = dataclasses.replace(state.spec, baseline=options.baseline)
        finish.check(options, state.spec)
        _preload(state.spec.models, state.spec.meters.enabled)
        tasks, probes = _resumable(state)
        if options.baseline is not None:
            state.save()
    else:
        spec = options.spec
        finish.check(options, spec)
        from harness.meters.carbon import resolve_intensity
        from harness.preflight import check_models
        check_models(spec.models, spec.runtime)               # bad input fails before a run folder exists
        _preload(spec.models, spec.meters.enabled)
        tasks, probes = prepare(spec), prepare_probes(spec)
        resolve_intensity(spec.meters.country, spec.meters.carbon_intensity, spec.meters.pue)
        from harness.fingerprint import fingerprints
        state = RunState.create(options.out, spec, argv=list(options.argv), fingerprints=fingerprints(tasks, probes))
    from harness.slow_dtypes import warnings as slow_dtypes
    for line in slow_dtypes(state.spec.models, state.spec.runtime):     # before the run, not after its minutes
        print(f"harness: warning: {line}", file=sys.stderr)
    return state, tasks, probes


def names_option(flag: str, text: str, what: str) -> tuple[str, ...]:
    """A comma-separated list of names, each once in the order given. A list that names nothing
    (`--tasks ""`, `--tasks ,` from an empty shell variable) is refused: read as "every one", it
    would start the whole audit instead of the subset asked for."""
    names = tuple(dict.fromkeys(n for n in text.split(",") if n))
    if not names:
        raise HarnessError(f"{flag} {text!r} names no {what}",
                           f"give {flag} a comma-separated list (`harness list {what}` shows them), or leave "
                           f"{flag} out for all of them")
    return names


def _preload(models, meters: bool) -> None:
    """What takes seconds and needs nothing from the main thread starts now, on threads:
    CodeCarbon's hardware probe (with the meters on) and the models' libraries (harness.preload)."""
    if meters:
        from harness.meters.cpu import probe_hardware_early
        probe_hardware_early()
    from harness import preload
    preload.start(models)
