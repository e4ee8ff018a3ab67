"""harness/models/hf_loading.py: a hub error that quotes the user's Hugging Face token (HF_TOKEN or
HUGGING_FACE_HUB_TOKEN) shows no part of it, in the one-line error or in a failure record."""
from __future__ import annotations

import pytest

from harness import failures
from harness.errors import HarnessError
from harness.models.hf_loading import load_pretrained
from harness.redact import PARTIAL
from harness.spec import ModelSpec, RuntimeOptions

TOKEN = "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYz01234567"


@pytest.mark.parametrize("variable", ["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"])
@pytest.mark.parametrize("quoted", [TOKEN, TOKEN[:20], TOKEN[-15:]])
def test_a_load_error_quoting_the_token_shows_no_part_of_it(monkeypatch, variable, quoted):
    import harness.redact as redact
    monkeypatch.setattr(redact, "_secrets", set())
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.setenv(variable, TOKEN)

    def loader(location, **kwargs):
        raise OSError(f"401 Client Error: Unauthorized for url https://huggingface.co/x (token {quoted} invalid)")

    with pytest.raises(HarnessError) as caught:
        load_pretrained(loader, ModelSpec.parse("hf-causal:someone/private-model"), RuntimeOptions())
    message = str(caught.value)
    assert "401 Client Error" in message and "***" in message
    for i in range(len(TOKEN) - PARTIAL + 1):
        assert TOKEN[i:i + PARTIAL] not in message
    record = failures.record("m", "task", "t", f"wrapped: {quoted}", "fix")
    assert TOKEN[3:3 + PARTIAL] not in record["error"] and TOKEN[-PARTIAL:] not in record["error"]
