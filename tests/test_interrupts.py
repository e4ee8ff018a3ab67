"""harness.interrupts.sigterm_held: a SIGTERM that comes while results.json is written waits for
the block to end and then reaches the handler that was in place; nothing is lost and nothing is cut."""
from __future__ import annotations

import os
import signal

import pytest

from harness import cli
from harness.errors import Terminated
from harness.interrupts import sigterm_held


def test_a_sigterm_inside_the_block_is_delivered_when_it_ends():
    previous = signal.signal(signal.SIGTERM, cli._raise_terminated)
    done = []
    try:
        with pytest.raises(Terminated):
            with sigterm_held():
                os.kill(os.getpid(), signal.SIGTERM)
                done.append("written")          # the block runs to its end
            done.append("after")                # never: the held SIGTERM is acted on first
        assert done == ["written"]
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN     # cli's handler ran: it ignores the next one
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_no_sigterm_no_signal_and_an_ignored_sigterm_stays_ignored():
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        with sigterm_held():
            os.kill(os.getpid(), signal.SIGTERM)
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
        signal.signal(signal.SIGTERM, cli._raise_terminated)
        with sigterm_held():
            pass                                # nothing came: nothing is sent
    finally:
        signal.signal(signal.SIGTERM, previous)
