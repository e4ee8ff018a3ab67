"""Model adapters; each built-in factory is an entry point of harness.plugins.MODELS (pyproject.toml).

An adapter's module, and with it torch and transformers, is imported the first time the adapter is
looked up, so `harness list` stays fast.
"""
from harness.models.base import ModelAdapter, ModelInfo
from harness.models.variants import VARIANT_KEYS
from harness.plugins import MODELS

DEFAULT_MODELS = ("tiny-gpt2", "minilm")      # what `harness run` evaluates when no --model is given


# The ,key=value options each built-in adapter takes, readable without importing the adapter (`harness
# list models` prints them); None: the adapter reads its options itself. The one table: each built-in
# factory's ``options`` (what harness.preflight checks) is read from it, never written out again.
_HF = frozenset({"revision"}) | VARIANT_KEYS
OPTIONS_OF: dict[str, frozenset[str] | None] = {
    "tiny-gpt2": VARIANT_KEYS, "minilm": frozenset({"head"}) | VARIANT_KEYS, "hf-causal": _HF, "hf-seq2seq": _HF,
    "hf-classifier": _HF, "hf-masked": _HF, "encoder": _HF | {"head"},
    "openai": frozenset({"base_url", "api", "key_env", "logprobs", "retries", "backoff", "concurrency", "timeout",
                         "cache", "max_reply_mb"}),
    "py": None,
}


def declared_options(name: str) -> frozenset[str] | None:
    """The options adapter ``name`` declares: from the table above for a built-in (no import), else from
    the factory itself (a plugin's ``options`` attribute)."""
    if name in OPTIONS_OF:
        return OPTIONS_OF[name]
    return getattr(MODELS.get(name), "options", None)


__all__ = ["ModelAdapter", "ModelInfo", "DEFAULT_MODELS", "OPTIONS_OF", "declared_options"]
