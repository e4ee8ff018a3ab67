"""The openai adapter's options and HTTP (harness.models.openai_compat): every option is checked by
``settings`` before the run starts (harness.preflight: exit 2, no run folder), and ``post`` sends one
request that

* is bounded as a whole by the timeout: connecting, the headers and every byte of the body, so a
  server that trickles its reply a byte at a time is cut off at the deadline (a socket timeout
  alone bounds only each read);
* reads at most ``max_reply_mb`` of reply (a larger one is refused, not stored);
* turns the server's words into text fit for an error: the key redacted before the text is cut
  (harness.redact), a lone surrogate spelt out;
* reads Retry-After as seconds or an HTTP date, ignoring a negative, infinite or unreadable one.
"""
from __future__ import annotations

import email.utils
import functools
import http.client
import json
import math
import socket
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from harness.errors import HarnessError
from harness.models import OPTIONS_OF
from harness.redact import cut
from harness.spec import ModelSpec

DEFAULT_BASE = "https://api.openai.com/v1"
OPTIONS = OPTIONS_OF["openai"]      # the ,key=value options (harness.preflight), from the one table in harness.models
MAX_WAIT_S = 30.0                    # the longest pause between two attempts (backoff or Retry-After)
ERROR_BODY_BYTES = 64 * 1024         # what is read of an error reply before it is redacted and cut


class RemoteError(RuntimeError):
    """A reply the adapter cannot use; the message names the status and the server's words, never the key."""


class Unreachable(RemoteError):
    """Every retry failed: the server, not one request, is at fault (the runner stops retrying item by item)."""
    systemic = True


class Retryable(RemoteError):
    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Settings:
    """The checked ``,key=value`` options of one openai model spec."""
    base_url: str
    api: str = "chat"
    key_env: str = "OPENAI_API_KEY"
    logprobs: str = "auto"
    retries: int = 5
    backoff: float = 1.0
    concurrency: int = 4
    timeout: float = 60.0
    cache: str = ""                  # "": the default file; "off": none; else a file path
    max_reply_mb: float = 16.0

    @property
    def max_reply_bytes(self) -> int:
        return int(self.max_reply_mb * 1024 * 1024)


def _number(spec: ModelSpec, key: str, default: float, whole: bool, low: float, high: float,
            low_open: bool = False) -> float:
    raw = spec.options.get(key)
    if raw is None:
        return default
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        value = None
    ok = value is not None and math.isfinite(value) and (value > low if low_open else value >= low) and value <= high
    if not ok:
        what = "a whole number" if whole else "a finite number"
        bound = f"above {low:g}" if low_open else f"from {low:g}"
        raise HarnessError(f"model {spec.name!r}: option {key}={raw!r} is not {what} {bound} to {high:g}",
                           f"write e.g. {key}={int(default) if whole else default:g}")
    return value


def _cache_path(spec: ModelSpec, raw: str) -> str:
    if raw in ("", "off"):
        return raw
    path = Path(raw).expanduser()
    if path.exists() and not path.is_file():
        what = "a folder" if path.is_dir() else "not a regular file"
        raise HarnessError(f"model {spec.name!r}: cache={raw} is {what}; the cache is one JSONL file",
                           f"write cache={path / 'openai-cache.jsonl'} (a file), or cache=off")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise HarnessError(f"model {spec.name!r}: cache={raw} lies under {parent}, which is a file",
                           "give the cache a path in a folder")
    return str(path)


def settings(spec: ModelSpec, environ: Callable[[str], str | None] | None = None) -> Settings:
    """Every option of ``spec`` checked (no network): a bad one is a one-line HarnessError."""
    import os
    getenv = environ or os.environ.get
    if not spec.location:
        raise HarnessError("an openai model spec needs the model name", "write e.g. openai:gpt-4o-mini")
    base = (spec.options.get("base_url") or getenv("OPENAI_BASE_URL") or DEFAULT_BASE).rstrip("/")
    parsed = urllib.parse.urlsplit(base)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise HarnessError(f"model {spec.name!r}: base URL {base!r} is not an http(s) URL",
                           "write e.g. base_url=http://127.0.0.1:8000/v1")
    api = spec.options.get("api", "chat")
    if api not in ("chat", "completions"):
        raise HarnessError(f"model {spec.name!r}: api={api!r}", "use api=chat or api=completions")
    logprobs = spec.options.get("logprobs", "auto")
    if logprobs not in ("auto", "yes", "no"):
        raise HarnessError(f"model {spec.name!r}: logprobs={logprobs!r}", "use logprobs=auto, yes or no")
    key_env = spec.options.get("key_env", "OPENAI_API_KEY")
    if not key_env:
        raise HarnessError(f"model {spec.name!r}: key_env= names no variable", "write e.g. key_env=MY_API_KEY")
    return Settings(base_url=base, api=api, key_env=key_env, logprobs=logprobs,
                    retries=int(_number(spec, "retries", 5, True, 0, 100)),
                    backoff=_number(spec, "backoff", 1.0, False, 0, MAX_WAIT_S),
                    concurrency=int(_number(spec, "concurrency", 4, True, 1, 256)),
                    timeout=_number(spec, "timeout", 60.0, False, 0, 86_400, low_open=True),
                    cache=_cache_path(spec, spec.options.get("cache", "")),
                    max_reply_mb=_number(spec, "max_reply_mb", 16.0, False, 0, 4096, low_open=True))


def retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date); None when absent or unusable
    (negative, not finite, unreadable): the caller's own backoff applies then."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - now()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return min(seconds, MAX_WAIT_S)


class _Deadline:
    """Shuts down every socket of one request when its time is up, whatever the request is doing."""

    def __init__(self, seconds: float):
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            self._sockets.append(sock)
            expired = self.expired
        if expired:
            _shut(sock)
        return sock

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)

    def cancel(self) -> None:
        self._timer.cancel()


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _watched(connection_class: type, deadline: _Deadline, host: str, **kwargs: Any) -> http.client.HTTPConnection:
    connection = connection_class(host, **kwargs)
    create = connection._create_connection
    connection._create_connection = lambda *a, **k: deadline.watch(create(*a, **k))
    return connection


class _HTTP(urllib.request.HTTPHandler):
    def __init__(self, deadline: _Deadline):
        super().__init__()
        self.deadline = deadline

    def http_open(self, req):
        return self.do_open(functools.partial(_watched, http.client.HTTPConnection, self.deadline), req)


class _HTTPS(urllib.request.HTTPSHandler):
    def __init__(self, deadline: _Deadline):
        super().__init__()
        self.deadline = deadline

    def https_open(self, req):
        return self.do_open(functools.partial(_watched, http.client.HTTPSConnection, self.deadline), req,
                            context=self._context)


def _read_capped(reply: Any, cap: int, where: str) -> bytes:
    chunks, total = [], 0
    while True:
        chunk = reply.read(min(65536, cap + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > cap:
            raise RemoteError(f"reply from {where} is larger than {cap / 1024 / 1024:g} MiB (max_reply_mb); "
                              "it was not stored")


def post(settings_: Settings, endpoint: str, body: dict, key: str) -> Any:
    """One POST to ``endpoint``: the parsed JSON reply, or Retryable / RemoteError (never the key)."""
    where = f"{settings_.base_url}/{endpoint}"
    data = json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(where, data=data, headers=headers, method="POST")
    deadline = _Deadline(settings_.timeout)
    too_slow = f"no whole reply from {where} within {settings_.timeout:g} s"
    try:
        opener = urllib.request.build_opener(_HTTP(deadline), _HTTPS(deadline))
        with opener.open(request, timeout=settings_.timeout) as reply:
            raw = _read_capped(reply, settings_.max_reply_bytes, where)
        if deadline.expired:
            raise Retryable(too_slow)
    except urllib.error.HTTPError as exc:
        if deadline.expired:
            raise Retryable(too_slow) from None
        try:
            body_text = exc.read(ERROR_BODY_BYTES).decode("utf-8", "replace")
        except (OSError, http.client.HTTPException):
            body_text = ""
        detail = cut(body_text, 300, [key] if key else [])          # the key redacted, then cut
        if exc.code == 429 or exc.code >= 500:
            after = retry_after(exc.headers.get("Retry-After") if exc.headers else None)
            raise Retryable(f"HTTP {exc.code} from {where}: {detail}", after) from None
        fix = f" (is ${settings_.key_env} set?)" if exc.code in (401, 403) else ""
        raise RemoteError(f"HTTP {exc.code} from {where}{fix}: {detail}") from None
    except RemoteError:
        raise
    except (TimeoutError, socket.timeout):
        raise Retryable(too_slow) from None
    except urllib.error.URLError as exc:
        if deadline.expired or isinstance(exc.reason, (TimeoutError, socket.timeout)):
            raise Retryable(too_slow) from None
        raise Retryable(f"cannot reach {where}: {cut(exc.reason, 200, [key] if key else [])}") from None
    except (ConnectionError, OSError, http.client.HTTPException, ssl.SSLError) as exc:
        if deadline.expired:
            raise Retryable(too_slow) from None
        raise Retryable(f"connection to {where} failed: {type(exc).__name__}") from None
    finally:
        deadline.cancel()
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        text = cut(raw[:1000].decode("utf-8", "replace"), 120, [key] if key else [])
        raise RemoteError(f"malformed reply from {where}: not JSON: {text!r}") from None
