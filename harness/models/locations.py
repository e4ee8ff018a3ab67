"""Where an hf-* or encoder spec's LOCATION points: a local folder or a hub name, decided and checked
before anything loads (harness.preflight: exit 2, no run folder).

* **Local** when the path exists, starts with ``.``, ``/`` or ``~``, or its first component exists here
  (``model/tiny-gtp2`` beside a ``model/`` folder is a typo of a local folder, not a hub name). A local
  location must be a folder; otherwise the error says what it is (missing, a file, a device) and the
  closest name in the deepest folder that exists. ``revision=`` picks a hub commit; on a local folder it
  would be ignored, so it is refused.
* **Hub** otherwise. A hub name is the only thing that reaches a network: in the local cache it loads
  offline; else with ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) set, or when the hub (or the proxy)
  cannot be reached within a second, it is refused at once instead of retried for a minute.
"""
from __future__ import annotations

import os
import socket
import threading
import urllib.parse
from pathlib import Path

from harness.data import what_it_is
from harness.errors import HarnessError
from harness.spec import ModelSpec, RuntimeOptions
from harness.suggest import did_you_mean

HUB = "https://huggingface.co"
PROBE_S = 1.0                     # how long the hub may take to accept a connection before it counts as unreachable
_OFFLINE = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


def is_local(location: str) -> bool:
    """Whether LOCATION names a local path (see the module's docstring)."""
    location = str(location)
    if location.startswith((".", "/", "~")):
        return True
    path = Path(location).expanduser()
    return path.exists() or Path(location.split("/", 1)[0]).exists()


def path_hint(path: Path, otherwise: str) -> str:
    """The hint naming the existing path closest to ``path`` (its deepest existing folder, then the closest
    name there, by harness.suggest.did_you_mean), else ``otherwise``."""
    parts = path.parts
    for depth in range(len(parts) - 1, 0, -1):
        parent = Path(*parts[:depth])
        if parent.is_dir():
            try:
                names = [p.name for p in parent.iterdir()]
            except OSError:
                return otherwise
            return did_you_mean(parts[depth], names, otherwise, n=1, shown=lambda name: str(parent / name))
    return otherwise


def local_folder(spec: ModelSpec) -> Path:
    """A local LOCATION, checked: a folder, and no ``revision=`` (it applies to hub names only)."""
    location = str(spec.location)
    folder = Path(location).expanduser()
    if not folder.is_dir():
        found = what_it_is(folder)
        hint = path_hint(folder, "pass an existing model folder")
        if found == "a file":
            hint = f"pass the folder that holds it ({folder.parent})"
        raise HarnessError(f"model {spec.name!r}: folder {location} {'not found' if found == 'not found' else 'is ' + found}",
                           hint)
    if "revision" in spec.options:
        raise HarnessError(f"model {spec.name!r}: revision={spec.options['revision']} picks a commit of a hub model, "
                           f"but {location} is a local folder (its files are what loads)",
                           "drop revision=, or check out that revision into the folder")
    return folder


def location_of(spec: ModelSpec) -> str:
    """The folder (resolved) or hub name to load, without touching the network."""
    if not spec.location:
        raise HarnessError(f"model {spec.name!r}: no folder or hub name given", f"write {spec.adapter}:/path/to/model")
    return str(local_folder(spec)) if is_local(spec.location) else str(spec.location)


def check_location(spec: ModelSpec, options: RuntimeOptions | None = None) -> str:
    """The preflight of every hf-* and encoder adapter: ``location_of``, and for a hub name that is not
    in the local cache, a network that can reach the hub."""
    location = location_of(spec)
    if not is_local(spec.location):
        _check_hub(spec, location)
    return location


def _cached(name: str, revision: str | None) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
        return isinstance(try_to_load_from_cache(name, "config.json", revision=revision), str)
    except Exception:                       # a name the hub library refuses: not cached
        return False


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _hub_address() -> tuple[str, int, str]:
    """(host, port, what) of the first hop to the hub: the proxy when one is set, else the endpoint."""
    endpoint = os.environ.get("HF_ENDPOINT") or HUB
    parsed = urllib.parse.urlsplit(endpoint)
    proxy = os.environ.get("HTTPS_PROXY" if parsed.scheme == "https" else "HTTP_PROXY") or \
        os.environ.get("https_proxy" if parsed.scheme == "https" else "http_proxy")
    if proxy:
        p = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        return p.hostname or "", p.port or 80, f"the proxy {p.hostname}"
    return parsed.hostname or "", parsed.port or (443 if parsed.scheme == "https" else 80), parsed.hostname or endpoint


def reachable(host: str, port: int, seconds: float = PROBE_S) -> str | None:
    """None when a TCP connection to host:port opens within ``seconds`` (name lookup included), else why not."""
    outcome: list[str | None] = []

    def attempt() -> None:
        try:
            socket.create_connection((host, port), timeout=seconds).close()
            outcome.append(None)
        except OSError as exc:
            outcome.append(exc.strerror or type(exc).__name__)
    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(seconds + 0.2)
    return outcome[0] if outcome else f"no answer within {seconds:g} s"


def _check_hub(spec: ModelSpec, name: str) -> None:
    revision = spec.options.get("revision")
    if _cached(name, revision):
        return
    offline = next((var for var in _OFFLINE if _truthy(os.environ.get(var))), None)
    if offline:
        raise HarnessError(f"model {spec.name!r}: {name} is not a local folder, and as a hub name it needs the network, "
                           f"which {offline} is set to forbid (it is not in the local cache either)",
                           f"pass a local model folder, or unset {offline} to download it")
    host, port, what = _hub_address()
    why = reachable(host, port)
    if why is not None:
        raise HarnessError(f"model {spec.name!r}: {name} is not a local folder, and as a hub name it needs {what}, "
                           f"which cannot be reached ({why})",
                           "pass a local model folder, or run where the hub can be reached (set HF_HUB_OFFLINE=1 to "
                           "load from the local cache only)")
