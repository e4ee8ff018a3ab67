"""Ctrl-C and SIGTERM raised on the main thread, but never inside Python's import machinery.

Python runs a signal handler between any two bytecodes of the main thread, and the exception it
raises appears there. Inside importlib's own bookkeeping that breaks the import system: a module
lock's weakref callback takes the global import lock and releases it in a ``finally`` a line
later; an exception raised in between leaves that lock held for good, and, raised in a weakref
callback, is only printed ("Exception ignored in ...") - the signal is lost. Every other thread
that imports then waits forever (the preload thread importing torch, CodeCarbon's hardware probe),
and so does the main thread once it waits for one of them: `harness run` hung, SIGTERMed half a
second after it started, about once in fifteen tries.

So while the main thread executes importlib's own code, the handler does not raise: it sends the
signal again RETRY_S later, and raises once the main thread is elsewhere. A main thread that waits
for an import another thread is doing stays in that code as long as the import takes; after
DEFER_AT_MOST_S the handler raises anyway (waiting for a module lock is not a place where an
exception breaks anything).

``sigterm_held`` is the other side: a block that must not be cut short (results.json and the
report being written after a stop) gets SIGTERM only once it ends.
"""
from __future__ import annotations

import importlib._bootstrap as _bootstrap
import importlib._bootstrap_external as _bootstrap_external
import os
import queue
import signal
import threading
import time
from contextlib import contextmanager
from types import FrameType
from typing import Iterator

RETRY_S = 0.01
DEFER_AT_MOST_S = 1.0
IMPORT_MACHINERY = frozenset({_bootstrap._find_and_load.__code__.co_filename,
                              _bootstrap_external.SourceLoader.get_code.__code__.co_filename})

_deferred_since: dict[int, float] = {}
_resend: "queue.SimpleQueue[tuple[int, object]]" = queue.SimpleQueue()   # put() is safe inside a signal handler
_pending: set[int] = set()            # signals queued to be sent again: each once (a second Ctrl-C is not meant)
_resender: threading.Thread | None = None
_busy = False


def in_import_machinery(frame: FrameType | None) -> bool:
    """Whether ``frame`` (where a signal handler was called) is importlib's own code, not a module
    that is being imported (a module's top-level code is its own frame)."""
    return frame is not None and frame.f_code.co_filename in IMPORT_MACHINERY


def deferred(signum: int, frame: FrameType | None, handler) -> bool:
    """True when the signal must not be acted on at ``frame``: it is sent again RETRY_S later (while
    ``handler`` is still the one installed for it). A signal that comes while this function or the
    handler runs (starting the thread that sends it again, returning) is held back too: the frame it
    sees is theirs, but the code it would interrupt is the one they are deferring from."""
    global _busy, _resender
    if _busy or (frame is not None and frame.f_code is getattr(handler, "__code__", None)):
        _schedule(signum, handler)          # the handler itself was interrupted, on its way back to that code
        return True
    now = time.monotonic()
    if not in_import_machinery(frame) or now - _deferred_since.setdefault(signum, now) >= DEFER_AT_MOST_S:
        _deferred_since.pop(signum, None)
        return False
    _busy = True
    try:
        _schedule(signum, handler)
        if _resender is None:
            _resender = threading.Thread(target=_send_again, name="harness-signal-resend", daemon=True)
            _resender.start()
    finally:
        _busy = False
    return True


def _schedule(signum: int, handler) -> None:
    if signum not in _pending:
        _pending.add(signum)
        _resend.put((signum, handler))


def _send_again() -> None:
    while True:
        signum, handler = _resend.get()
        time.sleep(RETRY_S)
        _pending.discard(signum)
        if signal.getsignal(signum) is handler:
            os.kill(os.getpid(), signum)


@contextmanager
def sigterm_held() -> Iterator[None]:
    """SIGTERM held while the block runs and delivered when it ends, to the handler in place before
    (torchrun's agent sends it to rank 0 when another rank died; a run's outputs must not be cut
    short by it). Only the main thread receives signals, so elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    came: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: came.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        if came and previous is not signal.SIG_IGN:
            os.kill(os.getpid(), signal.SIGTERM)
