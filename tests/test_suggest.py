"""harness.suggest: the one did-you-mean helper (close matches, and the hint worded from them)."""
from __future__ import annotations

import re
from pathlib import Path

from harness.registry import unknown_model_of_run, unknown_name
from harness.suggest import close_matches, did_you_mean

HARNESS = Path(__file__).resolve().parent.parent / "harness"


def test_close_matches_are_the_closest_known_names_best_first():
    assert close_matches("acuracy", ["bleu", "accuracy", "accuracy_norm"]) == ["accuracy", "accuracy_norm"]
    assert close_matches("acuracy", ["bleu", "accuracy", "accuracy_norm"], n=1) == ["accuracy"]
    assert close_matches("zzz", ["bleu", "accuracy"]) == []
    assert close_matches(3, ["3a", "b"]) == ["3a"]          # YAML keys need not be strings


def test_the_hint_names_the_matches_or_says_what_else_to_do():
    assert did_you_mean("tsak", ["task", "probe"], "select takes task, probe") == "did you mean task?"
    assert did_you_mean("wran", ["warn", "fail"], "x", n=1, shown=repr) == "did you mean 'warn'?"
    assert did_you_mean("flaot16", ["float16"], "x", shown=lambda m: f"dtype={m}") == "did you mean dtype=float16?"
    assert did_you_mean("zzz", ["task"], "select takes task") == "select takes task"


def test_the_registry_errors_are_built_on_it():
    error = unknown_name("task", "facts_mcq", ["facts_mc", "topic"])
    assert (error.problem, error.fix) == ("unknown task 'facts_mcq'", "did you mean facts_mc?")
    assert unknown_name("task", "zzz", ["topic"]).fix == "`harness list tasks` shows the known ones"
    assert unknown_name("perturbation", "zzz", ["typo", "case"]).fix == "known perturbations: case, typo"
    error = unknown_model_of_run("smal", ["full", "small"])
    assert "--baseline-model 'smal'" in error.problem and error.fix == "did you mean small?"


def test_no_module_finds_close_matches_on_its_own():
    """Did-you-mean was written 15 times in 10 files; difflib's close matches now live in suggest.py only."""
    own = [str(p.relative_to(HARNESS)) for p in HARNESS.rglob("*.py")
           if p.name != "suggest.py" and re.search(r"get_close_matches|did you mean", p.read_text(encoding="utf-8"))]
    assert own == []
