"""The openai: adapter against a local OpenAI-compatible server on 127.0.0.1 started here: chat and
completions, echo log-probabilities or their absence, 429s, 5xx, timeouts, malformed replies, the
response cache, concurrency, and the key never written anywhere."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from support import REPO, run_cli, write_task
from harness.models.openai_compat import OpenAICompatible, RemoteError
from harness.requests import GenerateRequest, LoglikelihoodRequest
from harness.spec import ModelSpec, RuntimeOptions

KEY = "sk-test-DO-NOT-LOG-4242"


class Server:
    """Chat answers "echo: <last word of the prompt>"; completions with echo give each prompt
    character as a token with log-probability -0.5 (so a continuation's is -0.5 per character).
    ``plan`` holds, per endpoint, the failures to serve first: 429, 500, "slow", "garbage", "nologprobs"."""

    def __init__(self):
        self.plan: dict[str, list] = {}
        self.seen: list[dict] = []
        self.auth: set[str] = set()
        self.in_flight = self.peak = 0
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                endpoint = self.path.rsplit("/v1/", 1)[1]
                with outer.lock:
                    outer.seen.append({"endpoint": endpoint, **body})
                    outer.auth.add(self.headers.get("Authorization", ""))
                    step = outer.plan.get(endpoint, []).pop(0) if outer.plan.get(endpoint) else None
                    outer.in_flight += 1
                    outer.peak = max(outer.peak, outer.in_flight)
                try:
                    time.sleep(0.05)
                    if step in (429, 500, 503):
                        self.send_response(step)
                        if step == 429:
                            self.send_header("Retry-After", "0")
                        self.end_headers()
                        self.wfile.write(b'{"error": "busy"}')
                        return
                    if step == "slow":
                        time.sleep(1.5)
                    if step == "garbage":
                        return self._send(b"<html>502 Bad Gateway</html>")
                    if endpoint == "chat/completions":
                        word = body["messages"][0]["content"].split()[-1]
                        reply = {"choices": [{"message": {"role": "assistant", "content": f"echo: {word}\nmore"}}],
                                 "usage": {"completion_tokens": 3}}
                    elif step == "nologprobs":
                        reply = {"choices": [{"text": ""}]}
                    else:
                        prompt = body["prompt"]
                        reply = {"choices": [{"text": prompt if body.get("echo") else "done", "logprobs": {
                            "tokens": list(prompt), "token_logprobs": [None] + [-0.5] * (len(prompt) - 1),
                            "text_offset": list(range(len(prompt))),
                            "top_logprobs": [None] + [{c: -0.5} for c in prompt[1:]]}}]}
                    self._send(json.dumps(reply).encode())
                finally:
                    with outer.lock:
                        outer.in_flight -= 1

            def _send(self, data: bytes):
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def count(self, endpoint: str) -> int:
        return sum(1 for s in self.seen if s["endpoint"] == endpoint)


@pytest.fixture
def server():
    s = Server()
    yield s
    s.httpd.shutdown()


def adapter(server, tmp_path, monkeypatch, **options) -> OpenAICompatible:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    opts = {"base_url": server.url, "cache": str(tmp_path / "cache.jsonl"), "backoff": "0.01", **options}
    return OpenAICompatible(ModelSpec("remote", "openai", "toy-model", opts), RuntimeOptions(), sleep=lambda s: None)


def test_generation_loglikelihood_retries_and_the_key_header(server, tmp_path, monkeypatch):
    server.plan = {"chat/completions": [429, 500, 503]}
    model = adapter(server, tmp_path, monkeypatch)
    assert LoglikelihoodRequest in model.supports           # the load-time probe found echo logprobs
    [gen] = model.generate([GenerateRequest("say hello", stop=("\n",), max_tokens=5)])
    assert gen.text == "echo: hello" and gen.n_tokens == 3   # cut at the stop locally too
    assert model.retried == 3 and server.count("chat/completions") == 4
    [ll] = model.loglikelihood([LoglikelihoodRequest("The cat", " sat")])
    assert ll.logprob == pytest.approx(-0.5 * 4) and ll.n_tokens == 4 and ll.is_greedy
    assert server.auth == {f"Bearer {KEY}"}
    assert KEY not in repr(model) and KEY not in json.dumps(model.info.extra)
    body = next(s for s in server.seen if s["endpoint"] == "chat/completions")
    assert body["temperature"] == 0 and body["max_tokens"] == 5 and body["stop"] == ["\n"]


def test_completions_api_timeouts_and_giving_up(server, tmp_path, monkeypatch):
    server.plan = {"completions": ["slow"]}
    model = adapter(server, tmp_path, monkeypatch, api="completions", timeout="0.5", logprobs="no")
    assert LoglikelihoodRequest not in model.supports and "logprobs=no" in model.unsupported[LoglikelihoodRequest]
    [gen] = model.generate([GenerateRequest("go", max_tokens=4)])
    assert gen.text == "done" and model.retried == 1            # the timed-out attempt was retried
    server.plan = {"completions": [500] * 10}
    flaky = adapter(server, tmp_path / "b", monkeypatch, api="completions", retries="2", logprobs="no")
    with pytest.raises(RemoteError, match="HTTP 500.*gave up after 3 attempts"):
        flaky.generate([GenerateRequest("other", max_tokens=4)])


def test_malformed_replies_fail_clearly_and_are_not_cached(server, tmp_path, monkeypatch):
    server.plan = {"chat/completions": ["garbage"]}
    model = adapter(server, tmp_path, monkeypatch, logprobs="no")
    with pytest.raises(RemoteError, match="malformed reply.*not JSON"):
        model.generate([GenerateRequest("x y")])
    assert model.generate([GenerateRequest("x y")])[0].text.startswith("echo: y")      # asked again, not cached
    server.plan = {"completions": ["nologprobs"]}
    probed = adapter(server, tmp_path / "c", monkeypatch)
    assert LoglikelihoodRequest not in probed.supports
    assert "returns no prompt log-probabilities" in probed.unsupported[LoglikelihoodRequest]


def test_the_cache_means_a_second_run_pays_nothing_and_requests_run_concurrently(server, tmp_path, monkeypatch):
    requests = [GenerateRequest(f"word{i}", stop=("\n",), max_tokens=3) for i in range(12)]
    first = adapter(server, tmp_path, monkeypatch, concurrency="6", logprobs="no")
    texts = [g.text for g in first.generate(requests)]
    assert texts == [f"echo: word{i}" for i in range(12)] and server.peak > 1
    sent = len(server.seen)
    again = adapter(server, tmp_path, monkeypatch, concurrency="6", logprobs="no")
    assert [g.text for g in again.generate(requests)] == texts and len(server.seen) == sent and again.calls == 0
    assert KEY not in (tmp_path / "cache.jsonl").read_text()


@pytest.mark.slow
def test_an_audit_of_a_remote_model_skips_loglikelihood_with_the_reason_and_energy_is_not_measured(server, tmp_path):
    server.plan = {"completions": ["nologprobs"], "chat/completions": [429]}
    write_task(tmp_path / "tasks" / "gen", "gen", [{"id": str(i), "text": f"say w{i}", "answer": f"echo: w{i}"}
                                                   for i in range(3)], kind="generate", metrics=["exact_match"])
    write_task(tmp_path / "tasks" / "mc", "mc", [{"id": "1", "text": "q", "choices": ["a", "b"], "answer": 0}],
               kind="multiple_choice")
    proc = run_cli("run", "--model", f"toy-model=openai:toy-model,base_url={server.url},cache={tmp_path / 'c.jsonl'},backoff=0.01",
                   "--tasks-dir", str(tmp_path / "tasks"), "--tasks", "gen,mc", "--no-probes", "--out",
                   str(tmp_path / "out"), env={"OPENAI_API_KEY": KEY})
    assert proc.returncode == 0, proc.stderr
    run_dir = next(p for p in (tmp_path / "out").iterdir() if p.is_dir())     # beside history.sqlite
    results = json.loads((run_dir / "results.json").read_text())
    info = results["models"]["toy-model"]
    assert info["tasks"]["gen"]["metrics"]["exact_match"]["value"] == 1.0
    assert "returns no prompt log-probabilities" in info["skipped"]["mc"]
    energy = info["tasks"]["gen"]["energy"]["total_energy_j"]
    assert energy["source"] == "not_measured" and energy["reason"].startswith("remote model")
    assert info["energy"]["total_energy_j"]["reason"].startswith("remote model")
    for path in run_dir.iterdir():
        assert KEY not in path.read_text(errors="replace"), path
    assert KEY not in proc.stdout + proc.stderr
