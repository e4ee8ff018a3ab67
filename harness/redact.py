"""What text may leave the harness, for a file, a log line or a page.

* **Secrets** (an API key): an adapter that holds one registers it with ``secret(value)``; ``clean``
  then replaces the whole key, and any run of ``PARTIAL`` or more of its characters (a server that
  quotes the key cut, or a message cut inside it), with ``***``. Redact first, cut after
  (``cut``): a cut made first can leave a part of the key that no longer matches it whole.
* **Unwritable characters**: a lone surrogate (``"\\udcff"``, e.g. from a model's exception text
  decoded with surrogateescape) cannot be written as UTF-8 and would stop the run writing run.json
  or results.json; ``clean`` spells it out as the six characters ``\\udcff``. ``encodable`` does the
  same over a JSON value (the writers' last resort).
* **Personal data on pages**: ``pii`` replaces e-mail addresses, phone numbers, Luhn-valid card
  numbers and mod-97-valid IBANs (the safety probe's detectors, harness.probes.detectors) with
  ``[EMAIL]``, ``[PHONE]``, ``[CARD]``, ``[IBAN]``. report.html shows task examples, probe examples
  and flipped items through ``page_records`` / ``page_results``, so a page never shows personal
  data unless the run was started with ``--show-pii``; samples.jsonl keeps the raw text.
"""
from __future__ import annotations

import threading
from typing import Any, Iterable, Mapping

PARTIAL = 8                 # this many consecutive characters of a secret count as a leak
MASK = "***"

_secrets: set[str] = set()
_lock = threading.Lock()


def secret(value: str | None) -> None:
    """Registers ``value`` (an API key) as a secret for the rest of the process; empty values are ignored."""
    if value:
        with _lock:
            _secrets.add(value)


def _secret_spans(text: str, value: str) -> list[tuple[int, int]]:
    """Spans of ``text`` that are runs of at least PARTIAL characters of ``value`` (all of it when shorter)."""
    k = min(PARTIAL, len(value))
    grams = {value[i:i + k] for i in range(len(value) - k + 1)}
    spans, i = [], 0
    while i <= len(text) - k:
        if text[i:i + k] in grams:
            j = i + k
            while j < len(text) and text[i:j + 1] in value:
                j += 1
            spans.append((i, j))
            i = j
        else:
            i += 1
    return spans


def redact_secrets(text: str, secrets: Iterable[str] | None = None) -> str:
    """``text`` with every registered secret (or those given), whole or in part, replaced by ***."""
    values = [s for s in (_secrets if secrets is None else secrets) if s]
    spans = sorted(span for value in values for span in _secret_spans(text, value))
    if not spans:
        return text
    out, last = [], 0
    for start, end in spans:
        if start < last:                      # overlapping spans of two secrets
            start = last
        if end <= start:
            continue
        out += [text[last:start], MASK]
        last = end
    return "".join(out + [text[last:]])


def writable(text: str) -> str:
    """``text`` with each lone surrogate spelt out (``\\udcff``): UTF-8 can hold the result."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def clean(text: Any, secrets: Iterable[str] | None = None) -> str:
    """Text fit for a log line, run.json or results.json: secrets redacted, lone surrogates spelt out."""
    return writable(redact_secrets(str(text), secrets))


def cut(text: Any, limit: int, secrets: Iterable[str] | None = None) -> str:
    """``clean(text)`` cut to ``limit`` characters: redacted before it is cut."""
    cleaned = clean(text, secrets)
    return cleaned if len(cleaned) <= limit else cleaned[:limit] + "..."


def encodable(value: Any) -> Any:
    """A JSON value whose every string (keys too) UTF-8 can hold (see ``writable``)."""
    if isinstance(value, str):
        return writable(value)
    if isinstance(value, Mapping):
        return {encodable(k): encodable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encodable(v) for v in value]
    return value


# ------------------------------------------------------------------ personal data on pages


def pii(text: str) -> str:
    """``text`` with e-mail addresses, phone numbers, card numbers and IBANs replaced by their category."""
    from harness.probes.detectors import detect_pii, redact
    return redact(text, detect_pii(text))


def _texts(value: Any) -> Any:
    if isinstance(value, str):
        return pii(value)
    if isinstance(value, Mapping):
        return {k: _texts(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_texts(v) for v in value]
    return value


RECORD_TEXTS = ("input", "prediction", "reference", "views", "details")


def page_records(records: Iterable[Mapping[str, Any]]) -> list[dict]:
    """samples.jsonl records as a page may show them: the texts (input, prediction, reference, other
    predictions, details) with personal data redacted; names, ids and scores as they are."""
    return [{k: _texts(v) if k in RECORD_TEXTS else v for k, v in r.items()} for r in records]


def page_results(results: Mapping[str, Any]) -> dict:
    """results.json as a page may show it: each probe's kept ``examples`` and each comparison's
    ``flipped`` items with personal data redacted."""
    out = dict(results)
    models = {}
    for name, model in (results.get("models") or {}).items():
        probes = {p: {**probe, "examples": _texts(probe["examples"])} if isinstance(probe, Mapping) and "examples" in probe
                  else probe for p, probe in ((model or {}).get("probes") or {}).items()}
        models[name] = {**model, "probes": probes} if isinstance(model, Mapping) and "probes" in model else model
    if "models" in results:
        out["models"] = models
    comparison = results.get("comparison")
    if isinstance(comparison, Mapping) and isinstance(comparison.get("models"), Mapping):
        out["comparison"] = {**comparison, "models": {
            name: {**other, "flipped": _texts(other["flipped"])} if isinstance(other, Mapping) and "flipped" in other
            else other for name, other in comparison["models"].items()}}
    return out
