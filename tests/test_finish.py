"""The end of `harness run` (harness.finish) and its extension point, the after-run consumers
(harness.plugins.AFTER_RUN): typed options made once at the command-line edge, checks before the
run starts, and a third-party consumer through its entry point exactly like the built-ins."""
from __future__ import annotations

import dataclasses
import json

import pytest

from support import REPO, assert_one_line_error, run_cli, write_task
from harness import finish
from harness.cli import build_parser
from harness.commands.run import run_options
from harness.exports.after_run import ExportOptions
from harness.history.after_run import HistoryOptions
from harness.spec import RunOptions, RunSpec
from test_registry import _install_fake_distribution

TESTS = REPO / "tests"


def _options(*flags: str) -> RunOptions:
    argv = ["run", *flags]
    return run_options(build_parser().parse_args(argv), argv)


def test_consumers_run_in_their_order_with_their_own_typed_options(tmp_path):
    assert [name for name, _ in finish.consumers()] == ["compare", "history", "exports"]
    options = _options("--model", "a=tiny-gpt2", "--model", "b=tiny-gpt2", "--baseline-model", "a", "--no-history",
                       "--tensorboard", str(tmp_path), "--limit", "3", "--no-progress")
    assert options.consumers == {"compare": None, "history": HistoryOptions(record=False),
                                 "exports": ExportOptions(tensorboard=tmp_path)}
    assert isinstance(options.spec, RunSpec) and options.spec.baseline == "a" and options.spec.limit == 3
    assert not options.progress and options.resume is None and options.argv[0] == "run"
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.progress = True
    resumed = _options("--resume", str(tmp_path), "--baseline-model", "b", "--pushgateway", "http://127.0.0.1:1")
    assert resumed.spec is None and resumed.resume == tmp_path and resumed.baseline == "b"
    assert resumed.consumers["exports"] == ExportOptions(pushgateway="http://127.0.0.1:1")


CONSUMER = '''
    """Writes a stamp beside the results (a plugin after-run consumer)."""
    from dataclasses import dataclass

    from harness.errors import HarnessError

    ORDER = 5
    RESUME_OPTIONS = frozenset({"stamp"})


    @dataclass(frozen=True)
    class StampOptions:
        text: str | None = None


    def add_arguments(parser):
        parser.add_argument("--stamp", metavar="TEXT", help="stamp the finished run with TEXT (a plugin)")


    def options(args):
        return StampOptions(args.stamp)


    def check(options, spec):
        if options.text == "bad":
            raise HarnessError("--stamp bad is refused", "pass another stamp")


    def after_run(options, run):
        if options.text is not None:
            (run.dir / "stamp.json").write_text(__import__("json").dumps({
                "text": options.text, "models": [m.name for m in run.spec.models], "status": run.results.run.status,
                "type": type(options).__name__}))
        return None
'''


def test_a_plugin_consumer_joins_harness_run_through_its_entry_point(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    _install_fake_distribution(site, "harness_stamp_plugin", CONSUMER, "[harness.after_run]\nstamp = harness_stamp_plugin\n")
    env = {"PYTHONPATH": f"{site}:{TESTS}"}
    assert "--stamp TEXT" in run_cli("run", "--help", env=env).stdout
    write_task(tmp_path / "tasks" / "mc", "mc", [{"id": f"q{i}", "question": f"q {i}", "choices": ["aaa", "b"], "answer": 1}
                                                 for i in range(4)], kind="multiple_choice", prompt="{question}")
    args = ("run", "--model", "py:fake_models:ShortestChoice", "--tasks", "mc", "--tasks-dir", str(tmp_path / "tasks"),
            "--no-probes", "--no-meters", "--no-progress", "--no-history", "--out", str(tmp_path / "out"))
    refused = run_cli(*args, "--stamp", "bad", env=env)
    assert_one_line_error(refused, "--stamp bad is refused")
    assert not (tmp_path / "out").exists()                      # refused before a run folder exists
    proc = run_cli(*args, "--stamp", "first", env=env)
    assert proc.returncode == 0, proc.stderr
    run_dir = next((tmp_path / "out").iterdir())
    assert json.loads((run_dir / "stamp.json").read_text()) == {
        "text": "first", "models": ["py:fake_models:ShortestChoice"], "status": "complete", "type": "StampOptions"}
    proc = run_cli("run", "--resume", str(run_dir), "--stamp", "again", env=env)     # its RESUME_OPTIONS
    assert proc.returncode == 0, proc.stderr
    assert json.loads((run_dir / "stamp.json").read_text())["text"] == "again"
