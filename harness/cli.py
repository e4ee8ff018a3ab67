"""The `harness` command. The one place that maps errors to exit codes:
0 done, 2 bad usage or input (one line, no traceback), 1 internal error (a bug: traceback),
3 finished with errors (failed pieces recorded in results.json, or nothing evaluated),
130 Ctrl-C, 143 SIGTERM (both write what was computed, marked incomplete)."""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import traceback

from harness import __version__, commands, interrupts
from harness.commands.options import Parser
from harness.errors import HarnessError, Terminated
from harness.store import disk_full, unusable_path

EPILOG = """\
examples:
  harness run                                   audit the embedded models on every built-in task
  harness run --tasks facts_mc,topic --limit 20 a quick subset
  harness run --model tiny-gpt2 --model small=hf-causal:/models/gpt2-small
  harness run --model py:my_models:MyAdapter    your own torch module (see examples/custom_model.py)
  harness run --resume reports/20261122-101500-ab12
  harness list tasks
  harness show reports/20261122-101500-ab12
  harness run --model full=tiny-gpt2 --model other=SPEC --baseline-model full   compare item by item
  harness compare reports/RUN_A reports/RUN_B   paired comparison of two runs (RUN_A the baseline)

model specs: [NAME=]ADAPTER[:LOCATION][,key=value...]
  adapters: tiny-gpt2, minilm (embedded); hf-causal, hf-seq2seq, hf-classifier, encoder (a folder or hub
  name; hub names need a network); py:MODULE:CALLABLE (your adapter). `harness list models` lists them.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="harness", description="Audit ML models before they ship: quality, safety and energy.",
                    epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"harness {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name in commands.COMMANDS:
        commands.load(name).add_parser(sub, EPILOG)
    return parser


def _quiet_libraries() -> None:
    """transformers' advice is noise in an audit log. Said through the environment, which
    transformers reads when it is first imported (importing it here would cost every command,
    `harness --help` included, half a second or more); its weight-loading bars are turned off
    where models load (harness.models.hf_loading)."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def _raise_terminated(signum, frame) -> None:
    if interrupts.deferred(signum, frame, _raise_terminated):      # never inside importlib's own code
        return
    signal.signal(signal.SIGTERM, signal.SIG_IGN)     # a second SIGTERM must not cut the writing of results short
    raise Terminated()


def _raise_interrupted(signum, frame) -> None:
    """Ctrl-C: Python's own KeyboardInterrupt, held back while the main thread is in importlib's code."""
    if interrupts.deferred(signum, frame, _raise_interrupted):
        return
    raise KeyboardInterrupt


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
    ctrl_c = on_main_thread and signal.getsignal(signal.SIGINT) is signal.default_int_handler    # not when ignored
    if ctrl_c:
        signal.signal(signal.SIGINT, _raise_interrupted)
    try:
        argv = sys.argv[1:] if argv is None else list(argv)
        args = build_parser().parse_args(argv)
        code = commands.load(args.command).execute(args, argv)
        sys.stdout.flush()          # a reader that went away (`harness show RUN | head`) shows here, not at exit
        return code
    except HarnessError as exc:
        one_line = " ".join(str(exc).splitlines())       # quoted text (a server's reply, a file's line) may hold newlines
        print(f"harness: error: {one_line}", file=sys.stderr)
        return 2
    except Terminated:
        print("harness: terminated (SIGTERM); what was computed is written; finish later with "
              "`harness run --resume RUN_DIR`", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("harness: interrupted; finish later with `harness run --resume RUN_DIR`", file=sys.stderr)
        return 130
    except SystemExit as exc:   # --help and --version; sys.exit("text") from a plugin: Python's own reading of it
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    except BrokenPipeError:
        _stdout_to_devnull()
        return 0
    except OSError as exc:
        error = disk_full(exc) or unusable_path(exc)
        if error is None:
            return _internal_error()
        print(f"harness: error: {error}", file=sys.stderr)
        return 2
    except Exception:
        return _internal_error()
    finally:
        if previous is not False:
            signal.signal(signal.SIGTERM, previous or signal.SIG_DFL)
        if ctrl_c:
            signal.signal(signal.SIGINT, signal.default_int_handler)


def entry() -> None:
    """The `harness` process: main(), then exit without the interpreter's teardown."""
    exit_now(main())


def exit_now(code: int) -> None:
    """Ends the process with ``code`` the way sys.exit would - atexit handlers run, stdout and stderr
    are flushed, non-daemon threads are waited for (if any is left, it is plain sys.exit) - but
    without tearing down every imported module one by one: with torch and transformers imported
    that teardown takes 1-2 s of every run's wall time (measured in benchmarks/README.md). Everything
    the harness writes is closed and synced before main returns."""
    import atexit
    others = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon and t.is_alive()]
    run_exit_functions = getattr(atexit, "_run_exitfuncs", None)
    if others or run_exit_functions is None:
        sys.exit(code)
    run_exit_functions()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):    # a closed pipe or a replaced stream: nothing to keep
            pass
    os._exit(code)


if __name__ == "__main__":
    entry()
