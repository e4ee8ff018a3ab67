"""Continuous batching: a finished row's slot goes to the next request, and every request's tokens
are those of today's shrinking-batch loop and of transformers' generate() on the prompt alone."""
from __future__ import annotations

import json
import random

import pytest
import torch

from harness.models import decoding
from harness.models.embedded import tiny_gpt2
from harness.requests import GenerateRequest
from harness.resources import builtin_dir
from harness.spec import ModelSpec

import causal_models


@pytest.fixture(scope="module")
def tiny():
    return tiny_gpt2(ModelSpec("tiny-gpt2", "tiny-gpt2"), causal_models.CPU)


@pytest.fixture(scope="module")
def random_gpt2(tmp_path_factory):
    return causal_models.random_gpt2(tmp_path_factory.mktemp("random-gpt2"))


def _rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (builtin_dir("tasks") / name / "test.jsonl").read_text().splitlines()]


def mixed_requests() -> list[GenerateRequest]:
    """Prompts of 4 to 60 tokens, caps of 1 to 40 tokens, with and without stop sequences, shortest
    prompts first (so later prompts are longer than the columns in use)."""
    toylang = [f"English: {r['english']}\nToylang:" for r in _rows("toylang")[:8]]
    facts = [f"Question: {r['question']}\nAnswer:" for r in _rows("facts_mc")[:4]]
    stories = [r["story"] if "story" in r else next(iter(r.values())) for r in _rows("stories")[:2]]
    prompts = ["The", "A cat"] + facts + toylang + [s[:300] for s in stories]
    caps = (1, 40, 7, 24, 3, 16, 30, 5, 12, 40, 2, 9, 33, 20, 11, 26)
    stops = [("\n",), (), (".",), ("\n", "Question")]
    return [GenerateRequest(p, stop=stops[i % len(stops)], max_tokens=caps[i % len(caps)]) for i, p in enumerate(prompts)]


def todays_finished(adapter, request, tokens) -> bool:
    """The stop check as it was: the whole text decoded at every step."""
    return tokens[-1] == adapter.tokenizer.eos_token_id or len(tokens) >= request.max_tokens or bool(
        request.stop and any(s in adapter.tokenizer.decode(tokens, skip_special_tokens=True) for s in request.stop if s))


def todays_loop(adapter, requests) -> list[list[int]]:
    """The shrinking-batch greedy loop as it was before continuous batching (HFCausalLM._greedy):
    one batch, a row leaves when it finishes, nothing refills its slot."""
    encoded = [adapter._context_ids(r.context) for r in requests]
    mask_ids, mask = adapter._left_padded(encoded)
    new: list[list[int]] = [[] for _ in requests]
    live = list(range(len(requests)))
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    out, cache = adapter._forward(input_ids=mask_ids, attention_mask=mask, position_ids=positions, use_cache=True)
    position = positions[:, -1:]
    while True:
        step = out.logits[:, -1, :].argmax(-1)
        keep = []
        for row, (index, token) in enumerate(zip(live, step.tolist())):
            new[index].append(token)
            if not todays_finished(adapter, requests[index], new[index]):
                keep.append(row)
        if not keep:
            return new
        if len(keep) < len(live):
            rows = torch.tensor(keep)
            cache.batch_select_indices(rows)
            mask, step, position = mask[rows], step[rows], position[rows]
            live = [live[row] for row in keep]
        mask = torch.cat([mask, mask.new_ones((len(live), 1))], dim=1)
        position = position + 1
        out, cache = adapter._forward(cache, input_ids=step[:, None], attention_mask=mask, position_ids=position,
                                      use_cache=True)


def alone_with_generate(adapter, request) -> list[int]:
    """transformers' generate(), greedy, on the one prompt (no padding, no other rows)."""
    ids = torch.tensor([adapter._context_ids(request.context)])
    out = adapter.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=request.max_tokens,
                                 do_sample=False, pad_token_id=adapter.tokenizer.pad_token_id)
    return out[0, ids.shape[1]:].tolist()


class _Watch:
    """Records the rows of every decoding step and the prompts of every prefill."""

    def __init__(self, adapter):
        self.adapter, self.steps, self.prefills = adapter, [], []

    def __enter__(self):
        prefill, step = self.adapter._prefill, self.adapter._step
        self.adapter._prefill = lambda prompts: (self.prefills.append(len(prompts)), prefill(prompts))[1]
        self.adapter._step = lambda cache, ids, *rest: (self.steps.append(ids.shape[0]), step(cache, ids, *rest))[1]
        return self

    def __exit__(self, *exc):
        del self.adapter._prefill, self.adapter._step


def decoded(adapter, requests, rows: int) -> list[list[int]]:
    encoded = [adapter._context_ids(r.context) for r in requests]
    with torch.inference_mode():
        return decoding.greedy_decode(encoded, rows, adapter._prefill, adapter._step,
                                      lambda i, tokens: adapter._finished(requests[i], tokens))


@pytest.mark.parametrize("which", ["tiny", "random_gpt2"])
def test_continuous_batching_gives_todays_tokens_and_generates_alone(which, request):
    adapter = request.getfixturevalue(which)
    requests = mixed_requests()
    assert adapter._own_greedy
    with torch.inference_mode():
        today = todays_loop(adapter, requests)
    for rows in (3, 5, len(requests)):
        with _Watch(adapter) as watch:
            ours = decoded(adapter, requests, rows)
        assert ours == today, rows
        assert max(watch.steps) <= rows and sum(watch.prefills) == len(requests)
        if rows < len(requests):
            assert max(watch.steps) == rows and len(watch.prefills) > 1
        # the batch stays full while requests wait: it only shrinks once the last one was admitted
        first_short = next((i for i, n in enumerate(watch.steps) if n < rows), len(watch.steps))
        assert all(a >= b for a, b in zip(watch.steps[first_short:], watch.steps[first_short + 1:]))
    lengths = {len(t) for t in ours}
    assert len(lengths) > 5                               # mixed lengths: slots were refilled at many steps
    for r, tokens in zip(requests, ours):
        theirs = alone_with_generate(adapter, r)
        assert tokens == theirs[: len(tokens)]
        text = adapter.tokenizer.decode(tokens, skip_special_tokens=True)
        assert len(tokens) == r.max_tokens or tokens[-1] == adapter.tokenizer.eos_token_id or any(
            s in text for s in r.stop)


def test_generate_answers_the_same_with_any_number_of_rows(tiny):
    requests = mixed_requests()
    tiny.rows = None
    try:
        whole = tiny.generate(requests)
        for rows in (1, 4):
            tiny.rows = rows
            assert tiny.generate(requests) == whole
    finally:
        tiny.rows = None


def test_the_cache_drops_unused_columns_and_grows_to_the_left(random_gpt2, monkeypatch):
    """Many refills of short prompts with long caps: columns no row uses any more are dropped from
    the left; a long prompt after short ones pads every row on the left."""
    base = mixed_requests()
    requests = ([GenerateRequest("The", max_tokens=2)] * 3 + [GenerateRequest(r.context, stop=(), max_tokens=40)
                                                             for r in base[:6] * 3] + base[-2:])
    widths, pads = [], []
    drop, pad = decoding._Batch.drop_unused, decoding._Batch._pad_left
    monkeypatch.setattr(decoding._Batch, "drop_unused", lambda self: (widths.append(self.width), drop(self),
                                                                     widths.append(self.width)))
    monkeypatch.setattr(decoding._Batch, "_pad_left", lambda self, n: (pads.append(n), pad(self, n)))
    ours = decoded(random_gpt2, requests, 3)
    assert any(b < a for a, b in zip(widths[::2], widths[1::2])) and len(pads) > 1
    with torch.inference_mode():
        for r, tokens in zip(requests, ours):
            assert tokens == todays_loop(random_gpt2, [r])[0]


def _generations(tmp_path, batch_size: int | None, monkeypatch) -> tuple[list[tuple[int, int | None]], dict]:
    """A run of tiny-gpt2 on toylang (24 items); every generate call's (requests, rows), and the predictions."""
    from harness.audit import run_audit
    from harness.models.hf_causal import HFCausalLM
    from harness.run_dir import RunState
    from harness.spec import MeterOptions, RunSpec, RuntimeOptions
    calls = []
    original = HFCausalLM.generate

    def watched(self, requests):
        calls.append((len(requests), self.rows))
        return original(self, requests)
    monkeypatch.setattr(HFCausalLM, "generate", watched)
    spec = RunSpec(models=(ModelSpec("tiny-gpt2", "tiny-gpt2"),), tasks=("toylang",), limit=24,
                   runtime=RuntimeOptions(device="cpu", batch_size=batch_size, max_batch_size=64),
                   meters=MeterOptions(enabled=False), probes=())
    state = RunState.create(tmp_path / f"out-{batch_size}", spec, argv=[])
    run_audit(state, progress=False)
    records = [json.loads(line) for line in state.samples_path.read_text().splitlines()]
    return calls, {r["id"]: r["prediction"] for r in records}


def test_the_runner_hands_a_refilling_adapter_several_batches_per_call(tmp_path, monkeypatch):
    calls, refilled = _generations(tmp_path, 4, monkeypatch)
    assert calls == [(16, 4), (8, 4)]               # REFILL_CALLS x 4 requests a call, 4 of them decoding at once
    monkeypatch.undo()
    _, whole = _generations(tmp_path, 32, monkeypatch)
    assert refilled == whole and len(whole) == 24


def test_a_model_whose_generation_config_alters_logits_keeps_transformers_generate(tmp_path):
    """repetition_penalty changes greedy decoding: generate() runs it, a batch of ``rows`` at a time."""
    from transformers import GenerationConfig
    folder = tmp_path / "penalized"
    adapter = causal_models.random_gpt2(folder)
    GenerationConfig(repetition_penalty=1.3, eos_token_id=adapter.tokenizer.eos_token_id).save_pretrained(folder)
    from harness.models.hf_causal import HFCausalLM
    adapter = HFCausalLM(ModelSpec("penalized", "hf-causal", str(folder)), causal_models.CPU)
    assert not adapter._own_greedy
    requests = [GenerateRequest(r.context, stop=(), max_tokens=12) for r in mixed_requests()[:7]]
    adapter.rows = 3
    got = adapter.generate(requests)
    for r, g in zip(requests, got):
        ids = torch.tensor([adapter._context_ids(r.context)])
        with torch.inference_mode():
            alone = adapter.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=12,
                                           do_sample=False, pad_token_id=adapter.tokenizer.pad_token_id)
        tokens = alone[0, ids.shape[1]:].tolist()
        if adapter.tokenizer.eos_token_id in tokens:
            tokens = tokens[: tokens.index(adapter.tokenizer.eos_token_id)]
        assert g.text == adapter.tokenizer.decode(tokens, skip_special_tokens=True)


def test_the_stop_check_on_the_last_tokens_stops_where_the_whole_text_does(tiny):
    """Random token streams (partial UTF-8 characters included) and texts with stops placed at
    every distance: the first step at which each check says done is the same."""
    rng = random.Random(0)
    vocab = len(tiny.tokenizer)
    texts = ["Some words first, then a stop: STOP and more.", "汉字 and émojis 🙂🙂 then \n the end",
             "x" * 90 + "Question" + "y" * 20, "a.b.c.d." * 10]
    streams = [list(tiny._encode(t)) for t in texts] + [[rng.randrange(vocab) for _ in range(120)] for _ in range(30)]
    for stop in [("STOP",), ("\n",), ("Question", "."), ("🙂",), ("é", "zz"), ("\ufffd",)]:
        request = GenerateRequest("", stop=stop, max_tokens=10_000)
        for tokens in streams:
            ours = next((k for k in range(1, len(tokens) + 1) if tiny._finished(request, tokens[:k])), None)
            theirs = next((k for k in range(1, len(tokens) + 1) if todays_finished(tiny, request, tokens[:k])), None)
            assert ours == theirs, (stop, tiny.tokenizer.decode(tokens))
