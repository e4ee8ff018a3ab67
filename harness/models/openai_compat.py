"""``--model openai:MODEL[,key=value...]``: any OpenAI-compatible HTTP endpoint (OpenAI, vLLM, llama.cpp
server, TGI, Ollama's /v1, ...). The only adapter that reaches a network, and only because the user
named it.

* Where: ``base_url=`` option, else $OPENAI_BASE_URL, else https://api.openai.com/v1. The key is read
  from the environment only ($OPENAI_API_KEY, or the variable named by ``key_env=``) and never appears
  in an option, a log line, an error, results.json or run.json: it is registered with harness.redact,
  and the server's words are redacted (whole or in part) before they are cut.
* Generation: ``api=chat`` (default; /chat/completions, the context as one user message) or
  ``api=completions`` (/completions, the context as the prompt); temperature 0, the task's stop
  sequences (the first 4, the API's limit, and all of them cut locally) and token cap.
* Log-likelihood: /completions with ``echo: true, logprobs: 1, max_tokens: 0`` (the prompt's own token
  log-probabilities). ``logprobs=auto`` (default) asks the server once at load time; a server that
  returns none (most chat-only servers) gets log-likelihood tasks skipped with that reason, as does
  ``logprobs=no``.
* Retries: HTTP 429 and 5xx, timeouts and dropped connections are retried ``retries=`` times (default 5)
  with exponential backoff (``backoff=`` seconds, default 1, doubled each time, at most 30 s, or the
  server's Retry-After when it sends one); 4xx other than 429 and malformed replies are not retried and
  fail the task with the server's message.
* ``concurrency=`` requests in flight at once (default 4); ``timeout=`` seconds per request, the whole
  reply included (default 60); ``max_reply_mb=`` the largest reply read (default 16; a larger one
  fails the request and is not stored). Every option is checked before the run (``preflight``).
* Cache: every successful reply is appended to a JSONL file keyed by the SHA-256 of (base URL, model,
  endpoint, request body), so ``--resume`` (or re-running the same audit) pays for no request twice.
  ``cache=PATH`` chooses the file (default $XDG_CACHE_HOME/harness/openai/<sha of base URL + model>.jsonl),
  ``cache=off`` disables it.
* Energy: spent on the server, so every task's and the model's energy reads not_measured ("remote model").
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Sequence

from harness.models.base import AnswersOnlyWhatItSupports, ModelInfo
from harness.models.hf_causal import cut_at_stop
from harness.models.openai_http import (DEFAULT_BASE, OPTIONS, MAX_WAIT_S, RemoteError, Retryable, Settings,
                                        Unreachable, post, settings)
from harness.redact import clean, cut, secret
from harness.requests import Generation, GenerateRequest, Loglikelihood, LoglikelihoodRequest
from harness.spec import ModelSpec, RuntimeOptions
from harness.store import iter_jsonl

__all__ = ["OpenAICompatible", "RemoteError", "Retryable", "Unreachable", "ResponseCache", "DEFAULT_BASE", "OPTIONS"]


def without_secrets(value: Any) -> Any:
    """A reply with every registered secret (the key) redacted from its texts, before it is stored or used."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {clean(k): without_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_secrets(v) for v in value]
    return value


class ResponseCache:
    """Replies by request key in an append-only JSONL file (a torn last line is ignored)."""

    def __init__(self, path: Path | None):
        self.path, self._lock, self._items = path, threading.Lock(), {}
        if path is not None:
            self._items = {row["key"]: row["reply"] for row in iter_jsonl(path) if "key" in row}

    def get(self, key: str) -> Any:
        return self._items.get(key)

    def put(self, key: str, reply: Any) -> None:
        if self.path is None:
            return
        with self._lock:
            self._items[key] = reply
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps({"key": key, "reply": reply}, sort_keys=True) + "\n")


class OpenAICompatible(AnswersOnlyWhatItSupports):
    """Any OpenAI-compatible HTTP endpoint (openai:MODEL[,key=value...]); the only adapter that reaches a network.

    See the module's docstring for its options, retries, cache and energy."""
    options = OPTIONS
    labels_of = staticmethod(lambda spec: ())     # before loading: it answers no classification (harness.preflight)

    @staticmethod
    def preflight(spec: ModelSpec, runtime: RuntimeOptions | None = None) -> None:
        """Every option checked before the run starts (no request is sent)."""
        settings(spec)

    def __init__(self, spec: ModelSpec, runtime: RuntimeOptions, *, sleep: Callable[[float], None] = time.sleep):
        self.settings: Settings = settings(spec)
        self.model, self.base_url, self.api = spec.location, self.settings.base_url, self.settings.api
        self._key_env = self.settings.key_env
        self._key = os.environ.get(self._key_env, "")
        secret(self._key)                       # never in a log, an error, results.json or run.json
        self.retries, self.backoff = self.settings.retries, self.settings.backoff
        self.timeout, self.concurrency = self.settings.timeout, self.settings.concurrency
        self._sleep = sleep
        self.calls = 0                     # HTTP requests actually sent (tests and the curious)
        self.retried = 0
        cache = self.settings.cache
        self.cache = ResponseCache(None if cache == "off" else Path(cache) if cache else self._default_cache())
        logprobs = self.settings.logprobs
        self.unsupported: dict[type, str] = {}
        supports = {GenerateRequest}
        if logprobs == "no":
            self.unsupported[LoglikelihoodRequest] = "log-likelihoods are off for this remote model (logprobs=no)"
        else:
            reason = None if logprobs == "yes" else self._logprob_probe()
            if reason:
                self.unsupported[LoglikelihoodRequest] = reason
            else:
                supports.add(LoglikelihoodRequest)
        self.supports = frozenset(supports)
        self.info = ModelInfo(kind="openai", device="remote", dtype="unknown", parameters=None, max_length=None,
                              extra={"remote": True, "base_url": self.base_url, "model": self.model, "api": self.api})

    def __repr__(self) -> str:                 # never the key
        return f"OpenAICompatible(model={self.model!r}, base_url={self.base_url!r})"

    def _default_cache(self) -> Path:
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "harness" / "openai"
        return root / (hashlib.sha256(f"{self.base_url}\n{self.model}".encode()).hexdigest()[:16] + ".jsonl")

    # ------------------------------------------------------------ HTTP

    def _post_once(self, endpoint: str, body: dict) -> Any:
        self.calls += 1
        return without_secrets(post(self.settings, endpoint, body, self._key))

    def _post(self, endpoint: str, body: dict, check: Callable[[Any], Any]) -> Any:
        """``check(reply)``'s answer, from the cache or the server, retrying what can be retried; a
        reply is cached only once ``check`` (which raises RemoteError on a malformed one) accepted it."""
        key = hashlib.sha256(json.dumps([self.base_url, self.model, endpoint, body], sort_keys=True).encode()).hexdigest()
        cached = self.cache.get(key)
        if cached is not None:
            return check(cached)
        delay = self.backoff
        for attempt in range(self.retries + 1):
            try:
                reply = self._post_once(endpoint, body)
                break
            except Retryable as exc:
                if attempt == self.retries:
                    raise Unreachable(f"{exc} (gave up after {self.retries + 1} attempts)") from None
                self.retried += 1
                wait = exc.retry_after if exc.retry_after is not None else delay * (1 + 0.1 * random.random())
                self._sleep(max(0.0, min(MAX_WAIT_S, wait)))
                delay = min(MAX_WAIT_S, delay * 2)
        answer = check(reply)
        self.cache.put(key, reply)
        return answer

    def _map(self, fn: Callable, items: Sequence) -> list:
        if self.concurrency == 1 or len(items) <= 1:
            return [fn(x) for x in items]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(items))) as pool:
            return list(pool.map(fn, items))

    # ------------------------------------------------------------ answers

    def token_count(self, text: str) -> int:
        return max(1, len(text) // 4)        # only orders batches; the server tokenizes

    def _logprob_probe(self) -> str | None:
        try:
            self._echo_logprobs("Hello world")
            return None
        except RemoteError as exc:
            return f"the server returns no prompt log-probabilities ({exc})"

    def _echo_logprobs(self, prompt: str) -> tuple[list, list, list]:
        return self._post("completions", {"model": self.model, "prompt": prompt, "max_tokens": 0, "echo": True,
                                          "logprobs": 1, "temperature": 0}, self._read_logprobs)

    def _read_logprobs(self, reply: Any) -> tuple[list, list, list]:
        try:
            lp = reply["choices"][0]["logprobs"]
            tokens, values, offsets = lp["tokens"], lp["token_logprobs"], lp["text_offset"]
            top = lp.get("top_logprobs") or [None] * len(tokens)
        except (KeyError, IndexError, TypeError):
            raise RemoteError(f"malformed reply from {self.base_url}/completions: no choices[0].logprobs with tokens, "
                              "token_logprobs and text_offset") from None
        if not (len(tokens) == len(values) == len(offsets)):
            raise RemoteError(f"malformed reply from {self.base_url}/completions: logprob lists of unequal length")
        return list(zip(tokens, values, offsets)), list(top), tokens

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[Loglikelihood]:
        def one(request: LoglikelihoodRequest) -> Loglikelihood:
            rows, top, _ = self._echo_logprobs(request.context + request.continuation)
            start = len(request.context)
            total, n, greedy = 0.0, 0, True
            for (token, value, offset), best in zip(rows, top):
                if offset < start:
                    continue
                if value is None:
                    raise RemoteError("malformed reply: a continuation token has no log-probability")
                total += float(value)
                n += 1
                if isinstance(best, dict) and best:
                    greedy = greedy and max(best, key=best.get) == token
            if n == 0:
                raise RemoteError("malformed reply: no token of the continuation in the echoed prompt")
            return Loglikelihood(logprob=total, is_greedy=greedy, n_tokens=n)
        return self._map(one, requests)

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        def one(request: GenerateRequest) -> Generation:
            stops = [s for s in request.stop if s][:4]
            body: dict = {"model": self.model, "max_tokens": request.max_tokens, "temperature": 0}
            if stops:
                body["stop"] = stops
            if self.api == "chat":
                path, endpoint = ("choices", 0, "message", "content"), "chat/completions"
                body["messages"] = [{"role": "user", "content": request.context}]
            else:
                path, endpoint = ("choices", 0, "text"), "completions"
                body["prompt"] = request.context

            def check(reply: Any) -> tuple[str, Any]:
                text = _field(reply, path, self.base_url)
                if text is not None and not isinstance(text, str):
                    raise RemoteError(f"malformed reply from {self.base_url}: {'.'.join(map(str, path))} is a "
                                      f"{type(text).__name__}, not text")
                return text or "", reply
            text, reply = self._post(endpoint, body, check)
            text, _ = cut_at_stop(text, request.stop)
            usage = reply.get("usage") if isinstance(reply, dict) else None
            tokens = usage.get("completion_tokens") if isinstance(usage, dict) else None
            return Generation(text=text, n_tokens=int(tokens) if isinstance(tokens, int) and tokens >= 0
                              else len(text.split()))
        return self._map(one, requests)


def _field(reply: Any, path: tuple, base_url: str) -> Any:
    value = reply
    for step in path:
        try:
            value = value[step]
        except (KeyError, IndexError, TypeError):
            raise RemoteError(f"malformed reply from {base_url}: no {'.'.join(map(str, path))} in "
                              f"{cut(json.dumps(reply), 120)}") from None
    return value
