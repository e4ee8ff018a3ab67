"""harness.commands.options: argparse's errors are one line that names the command once, and a misspelt
option, command or choice gets its close matches."""
from __future__ import annotations

import pytest

from harness.cli import main


def error_line(capsys, *argv: str) -> str:
    assert main(list(argv)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("harness: error: "), err
    return err[0]


@pytest.mark.parametrize("argv,needles", [
    (("run", "--modle", "tiny-gpt2"), ("unknown option '--modle' of `harness run`", "did you mean --model")),
    (("gate", "RUN", "--polciy", "p.yaml", "--policy", "p.yaml"), ("unknown option '--polciy' of `harness gate`",
                                                                    "did you mean --policy")),
    (("history", "--fail-one", "worse"), ("did you mean --fail-on",)),
    (("rnu",), ("unknown command 'rnu'", "did you mean run")),
    (("list", "probs"), ("'probs' is not a choice of `harness list`", "did you mean probes")),
    (("run", "stray"), ("unexpected argument 'stray' for `harness run`",)),
])
def test_a_typo_gets_its_close_match(capsys, argv, needles):
    line = error_line(capsys, *argv)
    for needle in needles:
        assert needle in line, line


@pytest.mark.parametrize("argv", [("run", "--modle", "x"), ("run", "--limit", "x"), ("show",), ("rnu",)])
def test_the_prefix_is_never_doubled(capsys, argv):
    line = error_line(capsys, *argv)
    assert not line.startswith("harness: error: harness") and line.count("harness: error:") == 1, line
    assert "fix: " in line
