"""The measurement protocol: repeated, lengthened and checked measurement windows
(``harness run --repeats N --min-measure-s S``; harness.spec.MeasureOptions).

Anchors: Zeus profiles until the spread between trials is small; the ML.ENERGY benchmark measures
at steady state; MLPerf Power takes power and performance from the same run and requires
replication. Here:

* **A warm-up pass, then N repeats.** With N > 1 each model's tasks and probes first run once, as a
  run without repeats does: that pass stores and scores every output (quality is computed from it,
  once) and brings the model, its caches and the machine to a steady state. Its windows carry
  ``repeat`` 0 and count in every total (J, seconds, gCO2e), in no mean. The same work then runs N
  more times, repeat by repeat (every task and probe of repeat 1, then of repeat 2, ...), so a slow
  drift of the machine's load spreads over the repeats instead of biasing one piece. Each repeat
  answers and scores exactly what the stored pass did, stores nothing, and has its own windows
  (``repeat`` 1..N): energy and time are recorded per repeat, and the per-example figures of every
  task, probe, model and the run are the mean over the repeats with a 95% interval and the
  coefficient of variation (harness.meters.repeats).
* **Deterministic decoding, checked.** Decoding is greedy everywhere (no sampling), so a repeat is
  expected to reproduce the stored outputs; quality is therefore computed once, from the stored
  pass. Every repeat's outputs are compared with the stored ones (``differs``: the prediction's text,
  and each per-example score to 1e-4 relative, since a batch padded otherwise moves a float32
  log-likelihood in its last digits). Where some differ (non-deterministic GPU kernels, a server),
  their number is recorded per window (``outputs_differing``) and said in results.json
  (``measurement.outputs_identical: false``) and the terminal; quality then describes the stored
  pass only, and its interval does not include that run-to-run variation.
* **Windows lengthened.** A window whose work ends before ``min_measure_s`` seconds repeats that work
  (``passes``) until it has lasted that long, so a meter that updates slowly (CodeCarbon's CPU
  estimate every second, a GPU energy counter every 20-100 ms) sees more than its own update step;
  every pass counts its examples and tokens, so per-example figures stay per example, and
  ``measurement`` says which windows were lengthened.
* **Resume.** A repeat is done once its window completed (windows.jsonl); a resumed run runs the
  repeats still missing, piece by piece, and its quality numbers are those of the stored pass.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

from harness.failures import isolated
from harness.spec import MeasureOptions

# A window lengthened this many times stops there, short of --min-measure-s (``short_of_min`` in
# windows.jsonl, ``short_windows`` in ``measurement``): only work that takes next to no time gets
# there. It was 1000, and a fast piece (0.2 ms a pass) stopped at 0.23 s of an asked 0.3 s, unsaid.
MAX_PASSES = 100_000
SCORE_RTOL, SCORE_ATOL = 1e-4, 1e-6


def differs(stored: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether a repeat's record of an item differs from the stored one: validity, the prediction's
    text, or a per-example score (numbers to SCORE_RTOL relative)."""
    if ("invalid" in stored) != ("invalid" in new) or stored.get("prediction") != new.get("prediction"):
        return True
    a, b = stored.get("scores") or {}, new.get("scores") or {}
    if a.keys() != b.keys():
        return True
    for key, x in a.items():
        y = b[key]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (x, y)):
            if not math.isclose(x, y, rel_tol=SCORE_RTOL, abs_tol=SCORE_ATOL):
                return True
        elif x != y:
            return True
    return False


@dataclass(frozen=True)
class Piece:
    """One task or probe of a model, as the protocol repeats it. ``replay(window)`` runs one pass of
    its whole work inside ``window`` (answered and scored as the stored pass was, nothing stored),
    counts its examples and tokens in ``window.attrs``, and returns how many outputs differ from
    the stored ones."""
    kind: str                       # "task" | "probe"
    name: str
    attrs: Mapping[str, Any]        # the window's attributes: model, task or probe, task_kind
    replay: Callable[[Any], int]


def lengthen(window: Any, min_s: float, replay: Callable[[Any], int]) -> None:
    """Repeats the window's work (``replay``, one more pass) until the window has lasted ``min_s``
    seconds (at most MAX_PASSES passes); records ``passes`` (and ``short_of_min`` when the cap stopped
    it first) and adds each pass's differing outputs."""
    if not min_s or not window.attrs.get("examples"):
        return
    passes = window.attrs.get("passes", 1)
    while window.elapsed() < min_s and passes < MAX_PASSES:
        window.attrs["outputs_differing"] = window.attrs.get("outputs_differing", 0) + replay(window)
        passes += 1
    if passes > 1:
        window.attrs["passes"] = passes
    if window.elapsed() < min_s:
        window.attrs["short_of_min"] = True


def warm_up_attrs(measure: MeasureOptions) -> dict[str, int]:
    """The attributes of a stored pass's window: with repeats it is the warm-up (``repeat`` 0)."""
    return {"repeat": 0} if measure.repeats > 1 else {}


def done_repeats(windows: Iterable[Mapping[str, Any]]) -> set[tuple[str, str, str, int]]:
    """(model, kind, name, repeat) of every measured repeat whose window completed."""
    return {(str(w.get("model")), str(w["kind"]), str(w["name"]), w["repeat"]) for w in windows
            if isinstance(w.get("repeat"), int) and not isinstance(w.get("repeat"), bool) and w["repeat"] >= 1
            and w.get("completed", True)}


def missing(model: str, pieces: Sequence[tuple[str, str]], measure: MeasureOptions,
            done: set[tuple[str, str, str, int]]) -> bool:
    """Whether any of ``pieces`` ((kind, name)) of ``model`` lacks a measured repeat."""
    return measure.repeats > 1 and any((model, kind, name, k) not in done
                                       for kind, name in pieces for k in range(1, measure.repeats + 1))


def run_repeats(state, model: str, pieces: Sequence[Piece], measure: MeasureOptions, session,
                done: set[tuple[str, str, str, int]]) -> None:
    """Repeats 1..N of ``pieces``, repeat by repeat, each in its own window; a repeat already done
    (an earlier invocation) is not run again. A piece that fails in a repeat is a failed piece of the
    run (harness.failures) and is not repeated further; a resume retries it."""
    failed: set[tuple[str, str]] = set()
    for k in range(1, measure.repeats + 1):
        for piece in pieces:
            if (piece.kind, piece.name) in failed or (model, piece.kind, piece.name, k) in done:
                continue
            with isolated(state, model, piece.kind, piece.name) as attempt:
                with session.window(piece.kind, piece.name, **piece.attrs, repeat=k, examples=0, generated_tokens=0,
                                    outputs_differing=0) as window:
                    window.attrs["outputs_differing"] = piece.replay(window)
                    lengthen(window, measure.min_measure_s, piece.replay)
            if attempt.failed:
                failed.add((piece.kind, piece.name))
