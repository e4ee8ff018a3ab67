"""Failures as data (harness.failures): the record's shape, its words for messages, and the conversion
of the old shape ({model, what, ...}, ``what`` the words) that run folders from before hold."""
from __future__ import annotations

import pytest

from harness.failures import KINDS, describe, failed_pieces, from_record, isolated, key, record, what
from harness.errors import ModelFault
from harness.run_dir import RunState
from harness.spec import ModelSpec, RunSpec


def test_a_failure_is_recorded_as_data_whatever_the_piece_is_named(tmp_path):
    """A task named with a quote was shown with double quotes and no longer matched the gate's
    regex over the words; the record keeps the name as it is."""
    state = RunState.create(tmp_path, RunSpec(models=(ModelSpec("m", "tiny-gpt2"),), tasks=()), argv=[])
    for name in ("it's", 'say "hi"', "task 'x'"):
        with isolated(state, "m", "task", name):
            raise ModelFault("boom", "fix it", "m", f"task {name!r}")
    with isolated(state, "m", "load"):
        raise ModelFault("no weights", "download them", "m", "load")
    failures = RunState.load(state.dir).failures
    assert failures == [record("m", "task", "it's", "boom", "fix it"), record("m", "task", 'say "hi"', "boom", "fix it"),
                        record("m", "task", "task 'x'", "boom", "fix it"), record("m", "load", None, "no weights",
                                                                                  "download them")]
    assert failures[0] == {"model": "m", "kind": "task", "piece": "it's", "error": "boom", "fix": "fix it"}
    assert failed_pieces(failures) == {("m", "task", "it's"), ("m", "task", 'say "hi"'), ("m", "task", "task 'x'")}
    assert describe(failures[0]) == "model 'm' on task \"it's\"" and describe(failures[-1]) == "loading model 'm'"
    with isolated(state, "m", "task", "it's"):          # a later success clears exactly that piece
        pass
    assert [key(f) for f in RunState.load(state.dir).failures] == [key(f) for f in failures[1:]]


def test_the_record_refuses_what_is_not_a_failed_piece():
    assert KINDS == ("load", "task", "probe", "summary")
    with pytest.raises(ValueError):
        record("m", "warm-up", None, "e", "f")
    with pytest.raises(ValueError):
        record("m", "task", None, "e", "f")
    with pytest.raises(ValueError):
        record("m", "load", "x", "e", "f")
    assert describe(record("m", "summary", "crows_pairs", "e", "f")) == "model 'm' on the summary of 'crows_pairs'"


@pytest.mark.parametrize("old, kind, piece", [("load", "load", None), ("warm-up", "load", None),
                                              ("task 'mc'", "task", "mc"), ("probe 'robustness'", "probe", "robustness"),
                                              ('task "it\'s"', "task", "it's"), ("task 'a\\\\b'", "task", "a\\b")])
def test_the_old_shape_is_converted(old, kind, piece):
    raw = {"model": "m", "what": old, "error": "e", "fix": "f"}
    assert from_record(raw) == {"model": "m", "kind": kind, "piece": piece, "error": "e", "fix": "f"}
    assert what(raw) == old                                   # readers of old results.json still have the words
    assert from_record(from_record(raw)) == from_record(raw)  # the new shape reads as itself


@pytest.mark.parametrize("bad", [{"model": "m", "what": "dinner", "error": "e", "fix": "f"}, ["m", "load"],
                                 {"model": "m", "kind": "nap", "piece": None, "error": "e", "fix": "f"},
                                 {"model": "m", "what": "task 'x", "error": "e", "fix": "f"}])
def test_a_failure_that_is_neither_shape_is_refused(bad):
    with pytest.raises(ValueError):
        from_record(bad)
    assert failed_pieces([bad]) == set()
