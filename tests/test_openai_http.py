"""The openai adapter against hostile servers (harness/models/openai_http.py): a 401 that quotes the key
deep in its body, whole or cut; a reply trickled a byte at a time; a reply of many megabytes;
Retry-After: -1 or an HTTP date; and options that can only fail (timeout=nan, cache=<a folder>, ...),
refused before a run folder exists."""
from __future__ import annotations

import json
import socket
import threading
import time
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

import pytest

from support import assert_one_line_error, run_cli, write_task
from harness.errors import HarnessError
from harness.models.openai_compat import OpenAICompatible, RemoteError
from harness.models.openai_http import retry_after, settings
from harness.preflight import check_models
from harness.redact import PARTIAL
from harness.requests import GenerateRequest
from harness.spec import ModelSpec, RuntimeOptions

KEY = "sk-proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7cDe0fGh3iJk6lMn9oPq2rSt"   # 64 characters


def leaks(text: str, key: str = KEY) -> list[str]:
    """Every run of PARTIAL characters of the key found in ``text``."""
    return [key[i:i + PARTIAL] for i in range(len(key) - PARTIAL + 1) if key[i:i + PARTIAL] in text]


class Raw:
    """A server on 127.0.0.1 that answers every connection with ``respond(conn)`` (raw HTTP, so it can trickle)."""

    def __init__(self, respond):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"
        self.respond, self.count, self.closed = respond, 0, False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.count += 1
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn):
        try:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, rest = data.partition(b"\r\n\r\n")
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
            while len(rest) < length:
                rest += conn.recv(65536)
            self.respond(conn, self.count)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.closed = True
        self.sock.close()


def reply(conn, status: str, body: bytes, headers: dict | None = None):
    lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", "Content-Type: application/json", "Connection: close",
             *(f"{k}: {v}" for k, v in (headers or {}).items())]
    conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)


def chat(text: str) -> bytes:
    return json.dumps({"choices": [{"message": {"content": text}}], "usage": {"completion_tokens": 1}}).encode()


@pytest.fixture
def serve():
    servers = []

    def start(respond):
        servers.append(Raw(respond))
        return servers[-1]
    yield start
    for s in servers:
        s.close()


def remote(url, tmp_path, monkeypatch, sleep=lambda s: None, **options) -> OpenAICompatible:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    opts = {"base_url": url, "cache": str(tmp_path / "cache.jsonl"), "backoff": "0.01", "logprobs": "no", **options}
    return OpenAICompatible(ModelSpec("remote", "openai", "m", opts), RuntimeOptions(), sleep=sleep)


# ------------------------------------------------------------------ the key


@pytest.mark.parametrize("quoted", [KEY, KEY[:34], KEY[20:], "x" * 260 + KEY])
def test_an_error_that_quotes_the_key_whole_or_cut_shows_no_part_of_it(serve, tmp_path, monkeypatch, quoted):
    body = json.dumps({"error": {"message": "x" * 200 + f" Incorrect API key provided: {quoted}. See docs."}}).encode()
    server = serve(lambda conn, n: reply(conn, "401 Unauthorized", body))
    model = remote(server.url, tmp_path, monkeypatch)
    with pytest.raises(RemoteError) as caught:
        model.generate([GenerateRequest("hi")])
    assert "HTTP 401" in str(caught.value) and "OPENAI_API_KEY" in str(caught.value)
    assert leaks(str(caught.value)) == []


def test_a_reply_that_echoes_the_key_is_stored_and_used_without_it(serve, tmp_path, monkeypatch):
    server = serve(lambda conn, n: reply(conn, "200 OK", chat(f"your key is {KEY[:40]}")))
    model = remote(server.url, tmp_path, monkeypatch)
    [gen] = model.generate([GenerateRequest("hi")])
    assert gen.text == "your key is ***"
    assert leaks((tmp_path / "cache.jsonl").read_text()) == []


@pytest.mark.slow
def test_a_401_quoting_the_key_reaches_no_file_of_the_run_and_no_log(serve, tmp_path):
    body = json.dumps({"error": {"message": "y" * 230 + f" Incorrect API key provided: {KEY}"}}).encode()
    server = serve(lambda conn, n: reply(conn, "401 Unauthorized", body))
    write_task(tmp_path / "tasks" / "gen", "gen", [{"id": "1", "text": "say a", "answer": "a"}], kind="generate",
               metrics=["exact_match"])
    out = tmp_path / "out"
    proc = run_cli("run", "--model", f"r=openai:m,base_url={server.url},cache={tmp_path / 'c.jsonl'},logprobs=no",
                   "--tasks-dir", str(tmp_path / "tasks"), "--tasks", "gen", "--no-probes", "--no-meters",
                   "--out", str(out), env={"OPENAI_API_KEY": KEY})
    assert proc.returncode == 3, proc.stderr
    run_dir = next(p for p in out.iterdir() if p.is_dir())
    failure = json.loads((run_dir / "results.json").read_text())["run"]["failures"][0]
    assert "HTTP 401" in failure["error"] and "***" in failure["error"]
    for path in [*run_dir.rglob("*"), tmp_path / "c.jsonl"]:
        if path.is_file():
            assert leaks(path.read_text(errors="replace")) == [], path
    assert leaks(proc.stdout + proc.stderr) == []


# ------------------------------------------------------------------ the whole reply is bounded


def trickle(conn, n):
    body = chat("slow")
    conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode())
    for byte in body:
        conn.sendall(bytes([byte]))
        time.sleep(0.2)


def trickled_headers(conn, n):
    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100:
        conn.sendall(bytes([byte]))
        time.sleep(0.2)


@pytest.mark.parametrize("respond", [trickle, trickled_headers])
def test_a_trickling_server_is_cut_off_at_the_timeout(serve, tmp_path, monkeypatch, respond):
    server = serve(respond)
    model = remote(server.url, tmp_path, monkeypatch, timeout="1", retries="1")
    started = time.monotonic()
    with pytest.raises(RemoteError, match=r"no whole reply .* within 1 s.*gave up after 2 attempts"):
        model.generate([GenerateRequest("hi")])
    assert time.monotonic() - started < 4          # two attempts of 1 s, not 0.2 s x 60 bytes each


def test_a_reply_larger_than_the_cap_is_refused_and_not_stored(serve, tmp_path, monkeypatch):
    server = serve(lambda conn, n: reply(conn, "200 OK", chat("z" * 3_000_000)))
    model = remote(server.url, tmp_path, monkeypatch, max_reply_mb="1")
    with pytest.raises(RemoteError, match=r"larger than 1 MiB \(max_reply_mb\)"):
        model.generate([GenerateRequest("hi")])
    assert not (tmp_path / "cache.jsonl").exists() and server.count == 1       # not retried, not cached


# ------------------------------------------------------------------ Retry-After


@pytest.mark.parametrize("header", ["-1", "nan", "inf", "soon", ""])
def test_an_unusable_retry_after_falls_back_to_the_backoff(serve, tmp_path, monkeypatch, header):
    server = serve(lambda conn, n: reply(conn, "429 Too Many Requests", b"{}", {"Retry-After": header}) if n == 1
                   else reply(conn, "200 OK", chat("ok")))
    waits = []
    model = remote(server.url, tmp_path, monkeypatch, sleep=waits.append, backoff="0.5")
    assert model.generate([GenerateRequest("hi")])[0].text == "ok"
    assert len(waits) == 1 and 0.5 <= waits[0] <= 0.56


def test_retry_after_reads_seconds_and_http_dates_and_is_capped():
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert retry_after("2.5") == 2.5 and retry_after("0") == 0.0 and retry_after("1e9") == 30.0
    assert retry_after(format_datetime(now + timedelta(seconds=7), usegmt=True), now=now.timestamp) == pytest.approx(7)
    assert retry_after(format_datetime(now - timedelta(seconds=7), usegmt=True), now=now.timestamp) is None
    assert retry_after("-1") is None and retry_after(None) is None


# ------------------------------------------------------------------ options checked before the run


@pytest.mark.parametrize("option, needle", [
    ("timeout=nan", "timeout='nan' is not a finite number"), ("timeout=inf", "timeout='inf'"),
    ("timeout=0", "timeout='0'"), ("backoff=nan", "backoff='nan'"), ("concurrency=0", "concurrency='0'"),
    ("retries=-1", "retries='-1'"), ("max_reply_mb=0", "max_reply_mb='0'"), ("api=grpc", "api='grpc'"),
    ("logprobs=maybe", "logprobs='maybe'"), ("base_url=localhost:8000", "is not an http(s) URL")])
def test_options_that_cannot_work_are_refused_by_the_preflight(option, needle):
    spec = ModelSpec.parse(f"r=openai:m,{option}")
    with pytest.raises(HarnessError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        check_models([spec], RuntimeOptions())


def test_a_cache_that_is_a_folder_is_refused_by_the_preflight(tmp_path):
    with pytest.raises(HarnessError, match="is a folder; the cache is one JSONL file"):
        settings(ModelSpec.parse(f"r=openai:m,cache={tmp_path}"))
    (tmp_path / "file").write_text("")
    with pytest.raises(HarnessError, match="which is a file"):
        settings(ModelSpec.parse(f"r=openai:m,cache={tmp_path / 'file' / 'c.jsonl'}"))
    assert settings(ModelSpec.parse(f"r=openai:m,cache={tmp_path / 'new' / 'c.jsonl'}")).cache.endswith("c.jsonl")


@pytest.mark.parametrize("option", ["timeout=inf", "concurrency=0"])
def test_a_bad_option_exits_2_and_leaves_no_run_folder(tmp_path, option):
    out = tmp_path / "out"
    proc = run_cli("run", "--model", f"r=openai:m,base_url=http://127.0.0.1:9/v1,{option}", "--tasks", "toylang",
                   "--no-probes", "--no-meters", "--out", str(out))
    assert_one_line_error(proc, option.split("=")[0])
    assert not out.exists() or not [p for p in out.iterdir() if p.is_dir()]
