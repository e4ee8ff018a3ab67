"""The `harness` command. The one place that maps errors to exit codes:
0 done, 2 bad usage or input (one line, no traceback), 1 internal error (a bug: traceback),
3 finished with errors (failed pieces recorded in results.json, or nothing evaluated),
130 Ctrl-C, 143 SIGTERM (both write what was computed, marked incomplete)."""
from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import threading
import traceback
from pathlib import Path

from harness import __version__
from harness.errors import HarnessError, Terminated
from harness.store import disk_full

EPILOG = """\
examples:
  harness run                                   audit the embedded models on every built-in task
  harness run --tasks facts_mc,topic --limit 20 a quick subset
  harness run --model tiny-gpt2 --model small=hf-causal:/models/gpt2-small
  harness run --model py:my_models:MyAdapter    your own torch module (see examples/custom_model.py)
  harness run --resume reports/20261122-101500-ab12
  harness list tasks
  harness show reports/20261122-101500-ab12

model specs: [NAME=]ADAPTER[:LOCATION][,key=value...]
  adapters: tiny-gpt2, minilm (embedded); hf-causal, hf-seq2seq, hf-classifier, encoder (a folder or hub
  name; hub names need a network); py:MODULE:CALLABLE (your adapter). `harness list models` lists them.
"""


def number(low: float, high: float = math.inf):
    """An argparse type: a finite float in [low, high] (nan and inf pass float() but are no setting)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not (math.isfinite(value) and low <= value <= high):
            bounds = f"at least {low:g}" if high == math.inf else f"from {low:g} to {high:g}"
            raise argparse.ArgumentTypeError(f"{text} is not a finite number {bounds}")
        return value
    parse.__name__ = "number"
    return parse


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:   # argparse's own errors: one line, exit 2
        raise HarnessError(f"{self.prog}: {message}", f"see `{self.prog} --help`")


def build_parser(defaults: bool = True) -> argparse.ArgumentParser:
    """``defaults=False`` leaves out every `run` option the command line does not give (see _given)."""
    parser = _Parser(prog="harness", description="Audit ML models before they ship: quality, safety and energy.",
                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"harness {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="evaluate models on tasks and write reports/<run-id>/",
                         description="Evaluate models on tasks. Writes results.json, samples.jsonl and report.html "
                                     "to OUT/<run-id>/ and prints a summary.",
                         epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("--model", action="append", metavar="SPEC",
                     help="a model to evaluate; repeat for several (default: tiny-gpt2 and minilm)")
    run.add_argument("--tasks", metavar="A,B", help="comma-separated task names (default: all)")
    run.add_argument("--tasks-dir", action="append", type=Path, default=[], metavar="DIR",
                     help="a folder of task YAML files to add; repeatable")
    run.add_argument("--limit", type=int, metavar="N", help="evaluate only the first N examples of each task")
    run.add_argument("--out", type=Path, default=Path("reports"), metavar="DIR",
                     help="where run folders are created (default: ./reports)")
    run.add_argument("--resume", type=Path, metavar="RUN_DIR",
                     help="finish an interrupted run: compute only the examples missing from its samples.jsonl")
    run.add_argument("--device", help="cpu, cuda or cuda:N (default: cuda when available, else cpu)")
    run.add_argument("--dtype", help="float32, bfloat16 or float16 (default: bf16/fp16 on cuda, float32 on cpu)")
    run.add_argument("--batch-size", type=int, metavar="N",
                     help="fixed batch size (default: automatic, starting at 64 and halving on out-of-memory)")
    run.add_argument("--seed", type=int, default=1234, help="seed for few-shot draws and the bootstrap (default 1234)")
    run.add_argument("--trust-remote-code", action="store_true",
                     help="allow models that ship their own Python code to run it (off by default)")
    run.add_argument("--no-progress", action="store_true", help="hide progress bars")
    run.add_argument("--probes", metavar="A,B", help="comma-separated robustness/bias probes (default: all that apply)")
    run.add_argument("--no-probes", action="store_true", help="run no probes")
    run.add_argument("--probe-limit", type=int, metavar="N",
                     help="items per probe (per task, bias type or category; overrides each probe's default; 0 = all)")
    meters = run.add_argument_group("energy and carbon metering")
    meters.add_argument("--no-meters", action="store_true", help="measure no power, energy or telemetry")
    meters.add_argument("--sample-period-ms", type=number(1, 60_000), default=100, metavar="MS",
                        help="GPU telemetry sampling period (default 100 ms)")
    meters.add_argument("--idle-seconds", type=number(0, 3600), default=2.0, metavar="S",
                        help="idle GPU baseline measured before the run, for net-of-idle energy (default 2; 0 skips)")
    meters.add_argument("--country", metavar="ISO3",
                        help="country of the electricity grid (e.g. FRA), for CodeCarbon's offline carbon intensity")
    meters.add_argument("--carbon-intensity", type=number(0), metavar="G_PER_KWH",
                        help="grid carbon intensity in g CO2e/kWh (wins over --country)")
    meters.add_argument("--pue", type=number(1.0), default=1.0, help="data-centre power usage effectiveness (default 1.0)")
    meters.add_argument("--verbose", action="store_true", help="let CodeCarbon log what it does")

    lst = sub.add_parser("list", help="list registered tasks, models, metrics or probes")
    lst.add_argument("what", nargs="?", default="tasks", choices=["tasks", "models", "metrics", "probes", "meters"])
    lst.add_argument("--tasks-dir", action="append", type=Path, default=[], metavar="DIR")

    show = sub.add_parser("show", help="print the summary table of a finished run")
    show.add_argument("run_dir", type=Path)
    if not defaults:
        for action in run._actions:
            action.default = argparse.SUPPRESS
    return parser


RESUME_TAKES = {"resume", "no_progress"}


def _refuse_resume_options(argv: list[str] | None) -> None:
    """A resume finishes the run as it was started (run.json): any other run option given with
    --resume would be ignored or would change the run half-way, so it is refused."""
    given = sorted(set(vars(build_parser(defaults=False).parse_args(argv))) - RESUME_TAKES - {"command"})
    if given:
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        raise HarnessError(f"--resume continues a run with the options it was started with; it cannot take {flags}",
                           "drop them to finish the run as it was started, or start a new run with them")


def _resumable(state) -> tuple[list, list]:
    """What a resume checks before it touches anything: no other process works on the folder, its
    samples.jsonl reads, and the inputs are those the run started with (a refusal comes at once;
    the lock is taken again for the run itself). Returns the prepared tasks and probes."""
    from harness.fingerprint import check_unchanged, fingerprints
    from harness.lock import run_lock
    from harness.store import SampleStore
    with run_lock(state.dir):
        SampleStore(state.samples_path).records()
    from harness.audit import prepare, prepare_probes
    tasks, probes = prepare(state.spec), prepare_probes(state.spec)
    check_unchanged(state.id, state.fingerprints, fingerprints(tasks, probes))
    return tasks, probes


def _run(args) -> int:
    from harness.lock import run_lock
    from harness.run_dir import RunState
    from harness.spec import MeterOptions, ModelSpec, RunSpec, RuntimeOptions

    if args.probe_limit is not None and args.probe_limit < 0:
        raise HarnessError(f"--probe-limit must be 0 (all) or more, got {args.probe_limit}", "pass a whole number")
    for name in ("limit", "batch_size"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise HarnessError(f"--{name.replace('_', '-')} must be at least 1, got {value}", "pass a positive number")
    tasks = probes = None
    if args.resume:
        state = RunState.load(args.resume)
        tasks, probes = _resumable(state)
    else:
        from harness.models.embedded import DEFAULT_MODELS
        models = tuple(ModelSpec.parse(m) for m in (args.model or DEFAULT_MODELS))
        names = [m.name for m in models]
        if len(set(names)) != len(names):
            raise HarnessError(f"two models share a name in {names}", "name them: --model a=SPEC --model b=SPEC")
        spec = RunSpec(models=models, tasks=tuple(t for t in (args.tasks or "").split(",") if t),
                       tasks_dirs=tuple(p.resolve() for p in args.tasks_dir), limit=args.limit, seed=args.seed,
                       runtime=RuntimeOptions(device=args.device, dtype=args.dtype, batch_size=args.batch_size,
                                              trust_remote_code=args.trust_remote_code),
                       meters=MeterOptions(enabled=not args.no_meters, period_s=args.sample_period_ms / 1000,
                                           idle_s=args.idle_seconds, country=args.country,
                                           carbon_intensity=args.carbon_intensity, pue=args.pue, verbose=args.verbose),
                       probes=() if args.no_probes else (None if not args.probes else tuple(p for p in args.probes.split(",") if p)),
                       probe_limit=args.probe_limit)
        from harness.audit import prepare, prepare_probes
        from harness.meters.carbon import resolve_intensity
        from harness.preflight import check_models
        check_models(spec.models, spec.runtime)               # bad input fails before a run folder exists
        tasks, probes = prepare(spec), prepare_probes(spec)
        resolve_intensity(spec.meters.country, spec.meters.carbon_intensity, spec.meters.pue)
        from harness.fingerprint import fingerprints
        state = RunState.create(args.out, spec, argv=sys.argv[1:], fingerprints=fingerprints(tasks, probes))
    from harness.audit import run_audit
    from harness.report import summary_table
    print(f"run folder: {state.dir}", file=sys.stderr)
    with run_lock(state.dir):
        try:
            results = run_audit(state, progress=not args.no_progress and sys.stderr.isatty(), tasks=tasks, probes=probes)
        except OSError as exc:
            raise disk_full(exc, state.dir) or exc
    print(summary_table(results))
    print(f"wrote {state.dir}/results.json, samples.jsonl, report.html")
    return _finished(results, state.dir)


def _finished(results: dict, run_dir: Path) -> int:
    """0 when everything asked was evaluated; 3 ("finished with errors") with one line saying why."""
    run = results["run"]
    if run["status"] == "complete":
        return 0
    failures = run.get("failures", [])
    if failures:
        from harness.failures import piece
        first, n = failures[0], len(failures)
        more = f"; and {n - 1} more" if n > 1 else ""
        print(f"harness: finished with errors: {n} piece{'s' * (n > 1)} failed ({piece(first['model'], first['what'])}: "
              f"{first['error']}{more}); fix: {first['fix']}; see results.json run.failures, and "
              f"`harness run --resume {run_dir}` retries what failed", file=sys.stderr)
    else:
        print(f"harness: finished with errors: {run['status']}; fix: choose tasks and probes the models can answer "
              f"(each skip's reason is under models.*.skipped in results.json)", file=sys.stderr)
    return 3


def _first_line(obj) -> str:
    return ((getattr(obj, "__doc__", None) or "").strip().splitlines() or [""])[0]


def _list(args) -> int:
    from harness import catalog
    from harness.plugins import METERS, METRICS, MODELS, load_builtins
    load_builtins()
    if args.what == "tasks":
        rows = [(t.name, t.kind, t.description.strip().splitlines()[0] if t.description.strip() else t.source)
                for t in sorted(catalog.discover(args.tasks_dir).values(), key=lambda t: t.name)]
    elif args.what == "probes":
        rows = [(c.name, c.probe, c.description) for c in catalog.discover_probes(args.tasks_dir).values()]
    elif args.what == "metrics":
        rows = [(name, "higher is better" if cls.higher_is_better else "lower is better", cls.description_)
                for name, cls in METRICS.items()]
    else:
        registry = {"models": MODELS, "meters": METERS}[args.what]
        rows = [(name, registry.origin(name), _first_line(obj)) for name, obj in registry.items()]
    if not rows:
        print(f"no {args.what} registered")
    widths = [max(len(str(r[i])) for r in rows) for i in range(3)] if rows else []
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
    return 0


def _quiet_libraries() -> None:
    """transformers' weight-loading bars and advice are noise in an audit log."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:
        return
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def _raise_terminated(signum, frame) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)     # a second SIGTERM must not cut the writing of results short
    raise Terminated()


def _stdout_to_devnull() -> None:
    """The reader of our output closed the pipe: what is left to print goes nowhere, quietly (as the
    Python docs recommend: Python would otherwise complain when it flushes stdout at exit)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):     # stdout is no real file (captured in tests)
        pass


def _internal_error() -> int:
    traceback.print_exc()
    print("harness: internal error (a bug in harness: please report it with the traceback above)", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("CODECARBON_LOG_LEVEL", "error")
    _quiet_libraries()
    on_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if on_main_thread else False
    try:
        args = build_parser().parse_args(argv)
        if args.command == "run" and args.resume:
            _refuse_resume_options(argv)
        code = {"run": _run, "list": _list, "show": _show}[args.command](args)
        sys.stdout.flush()          # a reader that went away (`harness show RUN | head`) shows here, not at exit
        return code
    except HarnessError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return 2
    except Terminated:
        print("harness: terminated (SIGTERM); what was computed is written; finish later with "
              "`harness run --resume RUN_DIR`", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("harness: interrupted; finish later with `harness run --resume RUN_DIR`", file=sys.stderr)
        return 130
    except SystemExit as exc:   # --help and --version
        return int(exc.code or 0)
    except BrokenPipeError:
        _stdout_to_devnull()
        return 0
    except OSError as exc:
        error = disk_full(exc)
        if error is None:
            return _internal_error()
        print(f"harness: error: {error}", file=sys.stderr)
        return 2
    except Exception:
        return _internal_error()
    finally:
        if previous is not False:
            signal.signal(signal.SIGTERM, previous or signal.SIG_DFL)


def _show(args) -> int:
    from harness.report import summary_table
    path = args.run_dir / "results.json"
    if not path.is_file():
        raise HarnessError(f"{args.run_dir} holds no results.json", "pass a folder written by `harness run`")
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise HarnessError(f"{path} is not valid JSON ({exc})", "re-run or resume the run") from None
    print(summary_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
