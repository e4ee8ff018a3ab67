"""One meaning per flag across commands, and one rule for numeric flags (harness/commands/options.py):
counts are whole numbers >= 1 with "every item" spelt `all`; a renamed flag's old spelling is refused
in one line naming the new one."""
from __future__ import annotations

import argparse

import pytest

from harness.cli import main
from harness.commands.options import count
from harness.errors import HarnessError


def _error(capsys, *argv: str) -> str:
    assert main(list(argv)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err and "fix:" in err
    return err


@pytest.mark.parametrize("argv, new", [
    (["run", "--model", "a=tiny-gpt2", "--model", "b=tiny-gpt2", "--baseline", "a"], "--baseline-model NAME"),
    (["run", "--baseline=a"], "--baseline-model NAME"),
    (["compare", "r1", "r2", "--out", "x.json"], "--json FILE"),
    (["history", "reports", "--out", "h.html"], "--html FILE"),
])
def test_an_old_spelling_is_refused_with_the_new_one(capsys, argv, new):
    """`--baseline` meant a model name in `run` and a run in `gate`/`history`; `--out` a folder in `run`
    and a file in `compare`/`history`. Before the rename `run --baseline a` ran, and `compare --out` wrote a file."""
    err = _error(capsys, *argv)
    assert f"was renamed to {new.split()[0]}" in err and f"fix: write {new}" in err


@pytest.mark.parametrize("flag", ["--limit", "--probe-limit", "--batch-size", "--seed"])
@pytest.mark.parametrize("value", ["-1", "1.5", "x", "nan", ""])
def test_every_count_flag_refuses_what_is_not_a_count_the_same_way(capsys, flag, value):
    err = _error(capsys, "run", flag, value)
    assert f"argument {flag}:" in err and "is not a whole number" in err


def test_zero_and_all_mean_every_item_for_both_limits_alike():
    """--limit 0 was refused while --probe-limit 0 meant every item: both limits now read 0 and `all`
    alike (every item), and a batch size, which has no "every", refuses 0."""
    from harness.cli import build_parser
    for flag, every in (("--limit", None), ("--probe-limit", 0)):
        for text in ("0", "all"):
            args = build_parser().parse_args(["run", flag, text])
            assert getattr(args, flag[2:].replace("-", "_")) == every


def test_a_batch_size_of_zero_is_refused(capsys):
    assert "is not a whole number at least 1" in _error(capsys, "run", "--batch-size", "0")


def test_all_is_every_item_and_counts_parse():
    assert count("--limit", all_means=None)("all") is None and count("--limit", all_means=None)("ALL") is None
    assert count("--probe-limit", all_means=0)("all") == 0     # RunSpec.probe_limit: 0 = every item
    assert count("--limit", all_means=None)("7") == 7
    assert count("--seed", 0, 2**32 - 1)("0") == 0
    with pytest.raises(argparse.ArgumentTypeError):
        count("--batch-size")("all")                          # no "every" for a batch size



def test_a_negative_seed_is_refused_before_the_run(capsys, tmp_path):
    """--seed -1 ran every model, then crashed in the probes' bootstrap (numpy refuses negative seeds)
    with an internal error."""
    err = _error(capsys, "run", "--seed", "-1", "--model", "tiny-gpt2", "--tasks", "facts_mc", "--limit", "2",
                 "--probes", "crows_pairs", "--probe-limit", "2", "--no-meters", "--out", str(tmp_path))
    assert "argument --seed: -1 is not a whole number from 0 to 4294967295" in err
    assert not any(tmp_path.iterdir())


def test_run_takes_baseline_model_and_resumes_a_run_started_with_either_spelling():
    from harness.run_dir import baseline_from_argv
    assert baseline_from_argv(["run", "--baseline-model", "small"]) == "small"
    assert baseline_from_argv(["run", "--baseline-model=small"]) == "small"
    assert baseline_from_argv(["run", "--baseline", "small"]) == "small"          # a run started before the rename
