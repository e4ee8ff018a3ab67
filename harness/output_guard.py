"""Outputs never overwrite inputs: the one check every command runs on a path the user names for a file
(or folder) it will write (`harness gate --junit/--markdown`, `harness compare --json`, `harness history
--html`, `harness export` and `harness run`'s exports).

``check_output(path, flag, kind)`` refuses, with one line (HarnessError, exit 2) and before anything is
written:

* a path inside a run folder (a folder holding run.json, results.json or samples.jsonl, at any depth:
  ``RUN/ranks/rank0/x`` too). Every file there is the run's own record, written by `harness run`;
* a path that is a symbolic link (the write would replace the link, and whatever it pointed at is
  not what the user named), a folder (for a file output), or anything but a regular file;
* an existing file the harness did not write. A file counts as the harness's when it is empty, or when
  its first bytes carry the signature of the format the harness writes there (``SIGNATURES``): compare
  JSON names ``harness_version`` and ``comparison``; JUnit opens ``<testsuites name="harness``; the gate's
  Markdown opens ``## harness gate``; HTML carries ``<meta name="generator" content="harness`` or a harness
  title; a Prometheus textfile opens with a ``# HELP harness_`` line. Anything else (samples.jsonl, a
  results.json, a policy, a tracked file of a fresh clone) is refused, naming what the file is.

The path is resolved first (``..`` and symbolic links in its folders), so ``reports/x/../RUN/foo`` and a
link to a run folder are both seen for what they are.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

from harness.errors import HarnessError

Kind = Literal["json", "junit", "markdown", "html", "prometheus", "folder"]
RUN_FILES = ("run.json", "results.json", "samples.jsonl")      # any one of them makes a folder a run folder
HEAD_BYTES = 4096
GENERATOR = "harness"                                           # <meta name="generator" content="harness ...">

SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "junit": (b'<testsuites name="harness',),
    "markdown": (b"## harness gate",),
    "html": (b'<meta name="generator" content="harness', b"<title>harness history", b"<title>harness compare"),
    "prometheus": (b"# HELP harness_",),
}


def run_folder_of(path: Path) -> Path | None:
    """The run folder ``path`` lies in (itself or any folder above it), or None."""
    for folder in (path, *path.parents):
        try:
            if folder.is_dir() and any((folder / name).is_file() for name in RUN_FILES):
                return folder
        except OSError:              # an unreadable folder on the way up: not a run folder we can see
            continue
    return None


def _head(path: Path) -> bytes:
    with path.open("rb") as fh:
        return fh.read(HEAD_BYTES)


def written_by_harness(path: Path, kind: Kind) -> bool:
    """Whether the existing file ``path`` is one the harness wrote as ``kind`` (or is empty)."""
    try:
        if path.stat().st_size == 0:
            return True
        if kind == "json":
            value = json.loads(path.read_text(encoding="utf-8"))
            return isinstance(value, dict) and "harness_version" in value and "comparison" in value
        head = _head(path).lstrip(b"\xef\xbb\xbf \t\r\n")
    except (OSError, ValueError, UnicodeDecodeError, RecursionError):
        return False
    signatures = SIGNATURES.get(kind, ())
    if kind in ("markdown", "prometheus"):
        return any(head.startswith(s) for s in signatures)
    return any(s in head for s in signatures)


def _what(path: Path) -> str:
    """A few words on what an existing file is, for the error."""
    name = path.name
    if name in RUN_FILES or name in ("report.html", "telemetry.csv", "windows.jsonl"):
        return f"a run's {name}"
    try:
        size = path.stat().st_size
    except OSError:
        return "a file"
    return f"a file of {size} bytes"


def check_output(path: Path, flag: str, kind: Kind = "json") -> Path:
    """The path to write ``flag``'s output to, after the checks above; raises HarnessError otherwise."""
    given = Path(path)
    fix = f"pass {flag} a new file outside every run folder (e.g. {flag} out/{given.name or 'output'})"
    if given.is_symlink():
        raise HarnessError(f"{flag} {given} is a symbolic link (to {os.readlink(given)}); the harness writes only "
                           "files it names itself", f"pass {flag} the real path, or a new file")
    resolved = given.parent.resolve() / given.name if given.name not in ("", ".", "..") else given.resolve()
    run = run_folder_of(resolved)
    if run is not None:
        raise HarnessError(f"{flag} {given} is inside run folder {run}: its files are the run's own record "
                           "(results.json, samples.jsonl, report.html ...), never an output", fix)
    if kind == "folder":
        if resolved.exists() and not resolved.is_dir():
            raise HarnessError(f"{flag} {given} is not a folder", f"pass {flag} a folder (it is created if missing)")
        return resolved
    if resolved.is_dir():
        raise HarnessError(f"{flag} {given} is a folder", f"pass {flag} a file name, e.g. {given}/output")
    if resolved.exists() and not resolved.is_file():
        raise HarnessError(f"{flag} {given} is not a regular file (a pipe, socket or device)", fix)
    if resolved.exists() and not written_by_harness(resolved, kind):
        raise HarnessError(f"{flag} {given} exists and was not written by harness ({_what(resolved)}): "
                           "an output never replaces a file the harness did not write", fix + ", or move that file away")
    return resolved
