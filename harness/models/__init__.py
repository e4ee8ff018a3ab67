"""Model adapters; each registers a factory in harness.plugins.MODELS."""
from harness.models import (embedded, encoder, hf_causal, hf_classifier, hf_masked, hf_seq2seq, openai_compat,
                            user_module)  # noqa: F401
from harness.models.base import ModelAdapter, ModelInfo

__all__ = ["ModelAdapter", "ModelInfo"]
