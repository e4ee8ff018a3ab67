"""Progress of long work, on stderr. Every task, probe and model load is a *piece* with a count
(requests, items, weight tensors), its rate and an ETA where its total is known:

* stderr is a terminal: one tqdm bar per piece, left on screen when the piece ends (its count and time);
* stderr is not a terminal (a CI log, a file): a heartbeat line per piece - when it starts, every few
  seconds while it runs (``HARNESS_PROGRESS_EVERY_S``, default 5) and when it ends, e.g.
  ``progress: tiny-gpt2 · task facts_mc: 40/128 req (31%), 12 s, ETA 26 s``;
* ``harness run --no-progress``: nothing.

A model's load counts the weight tensors its library loads: transformers' own weight-loading bar is
routed into the piece through ``transformers.utils.logging.set_tqdm_hook`` (a public hook), so it is
neither printed by transformers nor lost. The runner, the probes and model loading only call
``Reporter.piece`` and ``Piece.advance`` / ``grow`` / ``count``; this module decides how it shows.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TextIO

MODES = ("bars", "lines", "off")
EVERY_S_DEFAULT = 5.0
PREFIX = "progress: "


def choose_mode(enabled: bool, stream: TextIO | None = None) -> str:
    """bars on a terminal, heartbeat lines elsewhere, off when the user asked for no progress."""
    if not enabled:
        return "off"
    stream = stream or sys.stderr
    try:
        return "bars" if stream.isatty() else "lines"
    except (AttributeError, ValueError):        # a closed or replaced stream
        return "lines"


def every_s() -> float:
    """The heartbeat period: HARNESS_PROGRESS_EVERY_S when it is a positive number, else 5 s."""
    try:
        value = float(os.environ.get("HARNESS_PROGRESS_EVERY_S", EVERY_S_DEFAULT))
    except ValueError:
        return EVERY_S_DEFAULT
    return value if value > 0 and value == value else EVERY_S_DEFAULT


def seconds(s: float) -> str:
    """12 s, 3 min 05 s, 1 h 02 min."""
    s = max(0.0, s)
    if s < 60:
        return f"{s:.1f} s" if s < 10 else f"{s:.0f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60):02d} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60):02d} min"


class Piece:
    """One task, probe or model load: ``done`` of ``total`` (None: not known yet) in ``unit``, and
    secondary counts (e.g. items stored while requests are counted)."""

    def __init__(self, reporter: "Reporter", label: str, total: int | None, unit: str):
        self.reporter, self.label, self.total, self.unit = reporter, label, total, unit
        self.done = 0
        self.stage = ""                       # what it is doing now, e.g. "importing libraries"
        self.counts: dict[str, int] = {}
        self.started = reporter.clock()
        self.last_line = self.started
        self.bar: Any = None
        self._hook: tuple[Any, Any] | None = None     # (transformers' logging module, the hook it had)

    # --- what the work reports ------------------------------------------------------------------
    def advance(self, n: int = 1) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)

    def grow(self, n: int) -> None:
        """``n`` more units of work became known (a probe's next call of n requests)."""
        self.total = (self.total or 0) + n
        if self.bar is not None:
            self.bar.total = self.total
            self.bar.refresh()

    def at(self, stage: str) -> None:
        """Names the step the piece is at (a load: importing its libraries, then its weights)."""
        self.stage = stage
        if self.bar is not None:
            self.bar.set_postfix_str(", ".join(p for p in (stage, self._counts_text()) if p))

    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n
        if self.bar is not None:
            self.bar.set_postfix_str(", ".join(p for p in (self.stage, self._counts_text()) if p), refresh=False)

    # --- how it reads -----------------------------------------------------------------------------
    def elapsed(self) -> float:
        return self.reporter.clock() - self.started

    def eta(self) -> float | None:
        """Seconds left at the rate so far; None while nothing is done or the total is unknown."""
        if not self.total or self.done <= 0 or self.done >= self.total:
            return None
        return (self.total - self.done) * self.elapsed() / self.done

    def _counts_text(self) -> str:
        return ", ".join(f"{n} {name}" for name, n in self.counts.items())

    def status(self) -> str:
        if self.total:
            text = f"{self.done}/{self.total} {self.unit} ({100 * self.done / self.total:.0f}%)"
        elif self.done:
            text = f"{self.done} {self.unit}"
        else:
            text = ""
        extra = self._counts_text()
        parts = [p for p in (self.stage, text, extra, seconds(self.elapsed())) if p]
        eta = self.eta()
        if eta is not None:
            parts.append(f"ETA {seconds(eta)}")
        return ", ".join(parts)

    # --- transformers' own weight-loading bar ---------------------------------------------------
    def watch_library_bars(self) -> None:
        """Routes transformers' progress bars (weight loading) into this piece while it runs, when
        transformers is already imported (never imported here: a py: adapter may not use it)."""
        logging = sys.modules.get("transformers.utils.logging")
        hook = getattr(logging, "set_tqdm_hook", None)
        if hook is None or self._hook is not None or self.reporter.mode == "off":
            return
        self._hook = (logging, hook(lambda factory, args, kwargs: _LibraryBar(self, args, kwargs)))

    def _unhook(self) -> None:
        if self._hook is not None:
            logging, previous = self._hook
            logging.set_tqdm_hook(previous)
            self._hook = None


class _LibraryBar:
    """What transformers gets instead of a tqdm bar: iterating it, or update(n), advances the piece."""

    def __init__(self, piece: Piece, args: tuple, kwargs: dict):
        self.piece = piece
        self.iterable = args[0] if args else kwargs.get("iterable")
        total = kwargs.get("total")
        if total is None and self.iterable is not None and hasattr(self.iterable, "__len__"):
            total = len(self.iterable)
        if total:
            piece.grow(int(total))
        desc = kwargs.get("desc")
        if isinstance(desc, str) and desc:
            piece.at(desc[:1].lower() + desc[1:])

    def __iter__(self) -> Iterator:
        for item in self.iterable or ():
            yield item
            self.piece.advance()

    def update(self, n: int = 1) -> None:
        self.piece.advance(int(n or 0))

    def __enter__(self) -> "_LibraryBar":
        return self

    def __exit__(self, *exc) -> None:
        return None

    def __getattr__(self, name: str) -> Callable[..., None]:      # close, refresh, set_description, ...
        return lambda *args, **kwargs: None


class Reporter:
    """Shows the pieces of one run as ``mode`` says (MODES)."""

    def __init__(self, mode: str = "off", stream: TextIO | None = None, every: float | None = None,
                 clock: Callable[[], float] = time.monotonic):
        if mode not in MODES:
            raise ValueError(f"progress mode {mode!r} is not one of {MODES}")
        self.mode, self.stream, self.every, self.clock = mode, stream or sys.stderr, every or every_s(), clock
        self.active: list[Piece] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def for_run(cls, enabled: bool, stream: TextIO | None = None) -> "Reporter":
        return cls(choose_mode(enabled, stream or sys.stderr), stream)

    def _print(self, text: str) -> None:
        with self._lock:
            try:
                print(PREFIX + text, file=self.stream, flush=True)
            except (OSError, ValueError):        # the log went away: progress is not worth failing a run for
                pass

    @contextmanager
    def piece(self, label: str, total: int | None = None, unit: str = "req") -> Iterator[Piece]:
        piece = Piece(self, label, total or None, unit)
        if self.mode == "bars":
            from tqdm import tqdm
            piece.bar = tqdm(total=piece.total, desc=label, unit=f" {unit}", leave=True, file=self.stream,
                             dynamic_ncols=True, mininterval=0.5)
        elif self.mode == "lines":
            self._print(f"{label}: started" + (f", {piece.total} {unit}" if piece.total else ""))
            self._ensure_heartbeat()
        with self._lock:
            self.active.append(piece)
        ended = "stopped"
        try:
            yield piece
            ended = "done"
        finally:
            piece._unhook()
            with self._lock:
                self.active.remove(piece)
            if piece.bar is not None:
                piece.bar.close()
            elif self.mode == "lines":
                self._print(f"{label}: {ended}, {piece.status()}")

    # --- the heartbeat (lines mode) -----------------------------------------------------------------
    def _ensure_heartbeat(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._beat, name="harness-progress", daemon=True)
            self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(min(self.every, 1.0)):
            now = self.clock()
            with self._lock:
                due = [p for p in self.active if now - p.last_line >= self.every]
            for p in due:
                p.last_line = now
                self._print(f"{p.label}: {p.status()}")

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)


OFF = Reporter("off")


def as_reporter(progress: "bool | Reporter | None") -> Reporter:
    """A Reporter from what callers pass: a Reporter, or True/False (bars or lines as stderr is, or off)."""
    if isinstance(progress, Reporter):
        return progress
    return Reporter.for_run(bool(progress))
