"""Model variants (harness.models.variants): dtype=, quantize= and prune= are honoured, measured and
recorded, or refused before a run folder exists; nothing falls back silently to the full model."""
from __future__ import annotations

import json
import math

import pytest
import torch

from support import REPO, assert_one_line_error, run_cli
from harness.errors import HarnessError
from harness.models import variants
from harness.models.embedded import minilm, tiny_gpt2
from harness.preflight import check_models
from harness.requests import ClassifyRequest, GenerateRequest, LoglikelihoodRequest
from harness.spec import ModelSpec, RuntimeOptions

CPU = RuntimeOptions(device="cpu")
LL = [LoglikelihoodRequest(context="Question: What does the cat say?\nAnswer:", continuation=" meow"),
      LoglikelihoodRequest(context="Question: What does the cow say?\nAnswer:", continuation=" moo")]


def load(text: str):
    spec = ModelSpec.parse(text)
    check_models([spec], CPU)
    factory = {"tiny-gpt2": tiny_gpt2, "minilm": minilm}[spec.adapter]
    return factory(spec, CPU)


@pytest.fixture(scope="module")
def gpt2_variants():
    return {name: load(text) for name, text in [
        ("full", "full=tiny-gpt2"), ("int8", "int8=tiny-gpt2,quantize=int8-dynamic"),
        ("w8", "w8=tiny-gpt2,quantize=int8-weight-only"), ("pruned", "pruned=tiny-gpt2,prune=0.5"),
        ("fp16", "fp16=tiny-gpt2,dtype=float16")]}


# ------------------------------------------------------------------ what each recipe really does


def test_each_tiny_gpt2_variant_really_differs(gpt2_variants):
    v = {name: adapter.info.variant for name, adapter in gpt2_variants.items()}
    full = v["full"]
    assert full["recipe"] == {"dtype": None, "quantize": None, "prune": None}
    assert set(full["storage_dtypes"]) == {"float32"}
    assert full["quantization"]["modules"] == {} and full["quantization"]["not_quantized"] == {"Conv1D": 12}
    assert full["sparsity"]["achieved"] == 0.0 and full["parameters_nonzero"] == full["parameters"]
    assert full["size"]["memory"]["value"] == 4 * full["parameters"]        # float32, lm_head tied to wte
    assert full["size"]["disk"]["value"] == (REPO / "model/tiny-gpt2/model.safetensors").stat().st_size

    for name, scheme in (("int8", "int8-dynamic"), ("w8", "int8-weight-only")):
        q = v[name]
        assert q["recipe"]["quantize"] == scheme
        assert q["quantization"]["modules"] == {"Linear": 12}               # GPT-2's Conv1D, converted, then quantized
        assert q["quantization"]["tensors"] == {"Int8Tensor": 12}
        assert q["quantization"]["not_quantized"] == {}
        assert q["quantization"]["conv1d_to_linear"]["converted"] == 12
        assert "lm_head" in q["quantization"]["kept"]                      # tied to the embedding: not copied
        weights = full["sparsity"]["elements"]                              # one byte per weight, + int8 zero points
        assert weights <= q["storage_dtypes"]["int8"]["bytes"] <= 1.01 * weights
        assert q["size"]["memory"]["value"] < 0.4 * full["size"]["memory"]["value"]
        assert q["parameters"] == full["parameters"]
        assert gpt2_variants[name].info.dtype == "float32"

    pruned = v["pruned"]
    assert pruned["sparsity"]["asked"] == 0.5
    assert pruned["sparsity"]["achieved"] == pytest.approx(0.5, abs=1e-6)
    assert pruned["parameters_nonzero"] == full["parameters"] - pruned["sparsity"]["zeros"]
    assert "saves no time or memory" in pruned["sparsity"]["note"]
    assert pruned["size"]["memory"]["value"] == full["size"]["memory"]["value"]     # dense storage, as said
    assert pruned["quantization"]["modules"] == {}

    for name, dtype in (("fp16", "float16"),):
        assert v[name]["recipe"]["dtype"] == dtype and gpt2_variants[name].info.dtype == dtype
        assert set(v[name]["storage_dtypes"]) == {dtype}
        assert v[name]["size"]["memory"]["value"] == full["size"]["memory"]["value"] // 2


def test_variants_answer_and_their_answers_differ(gpt2_variants):
    """Every variant runs on CPU (float16 included) and is not the full model under another name."""
    answers = {name: [r.logprob for r in adapter.loglikelihood(LL)] for name, adapter in gpt2_variants.items()}
    for name, values in answers.items():
        assert all(v == v and v < 0 for v in values), name
        if name != "full":
            assert values != answers["full"], name
            probs = [math.exp(v) for v in values]                                 # still the same model:
            assert probs == pytest.approx([math.exp(v) for v in answers["full"]], abs=0.1), name
    generated = gpt2_variants["fp16"].generate([GenerateRequest(context="The cat", stop=("\n",), max_tokens=4)])
    assert generated[0].n_tokens >= 1


def test_conv1d_becomes_an_equal_linear():
    from transformers import AutoModelForCausalLM
    from transformers.pytorch_utils import Conv1D
    model = AutoModelForCausalLM.from_pretrained(REPO / "model/tiny-gpt2").eval()
    ids = torch.tensor([[5, 17, 30, 2, 99, 4]])
    with torch.inference_mode():
        before = model(ids).logits
    done = variants.conv1d_to_linear(model)
    with torch.inference_mode():
        after = model(ids).logits
    assert done["converted"] == 12 and not any(isinstance(m, Conv1D) for m in model.modules())
    assert torch.allclose(before, after, atol=1e-5, rtol=0)


def test_minilm_int8_dynamic_is_quantized_and_classifies():
    full, int8 = load("minilm"), load("int8=minilm,quantize=int8-dynamic")
    q, f = int8.info.variant, full.info.variant
    assert q["quantization"]["modules"] == {"Linear": 37} and q["quantization"]["tensors"] == {"Int8Tensor": 37}
    assert f["quantization"]["modules"] == {} and f["quantization"]["not_quantized"] == {"Linear": 37}
    assert "head" in q["quantization"]["apart"]
    assert "int8" in q["storage_dtypes"] and "int8" not in f["storage_dtypes"]
    assert q["size"]["memory"]["value"] < 0.7 * f["size"]["memory"]["value"]
    assert q["size"]["disk"]["value"] == f["size"]["disk"]["value"] > 0
    requests = [ClassifyRequest(text="The striker scored twice in the final."),
                ClassifyRequest(text="Heavy rain and wind are forecast for tonight.")]
    a, b = full.classify(requests), int8.classify(requests)
    assert [x.label for x in a] == [x.label for x in b]
    assert [x.probs for x in a] != [x.probs for x in b]


def _tiny_hf_folder(tmp_path, adapter: str):
    from transformers import (AutoTokenizer, BertConfig, BertForMaskedLM, BertForSequenceClassification, T5Config,
                              T5ForConditionalGeneration)
    torch.manual_seed(0)
    bert = dict(vocab_size=1024, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)
    model = {"hf-seq2seq": lambda: T5ForConditionalGeneration(T5Config(
                 vocab_size=1024, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4, decoder_start_token_id=0,
                 pad_token_id=0, eos_token_id=0)),
             "hf-classifier": lambda: BertForSequenceClassification(BertConfig(**bert, num_labels=2)),
             "hf-masked": lambda: BertForMaskedLM(BertConfig(**bert))}[adapter]()
    model.save_pretrained(tmp_path)
    tokenizer = AutoTokenizer.from_pretrained(REPO / "model/tiny-gpt2")
    tokenizer.save_pretrained(tmp_path)
    return tmp_path


@pytest.mark.parametrize("adapter", ["hf-seq2seq", "hf-classifier", "hf-masked"])
def test_every_hf_adapter_honours_the_recipe(tmp_path, adapter):
    from harness.plugins import MODELS
    spec = ModelSpec.parse(f"v={adapter}:{_tiny_hf_folder(tmp_path, adapter)},quantize=int8-weight-only,prune=0.3,"
                           "dtype=bfloat16")
    check_models([spec], CPU)
    model = MODELS.get(adapter)(spec, CPU)
    v = model.info.variant
    assert model.info.dtype == "bfloat16" and v["recipe"] == {"dtype": "bfloat16", "quantize": "int8-weight-only",
                                                              "prune": 0.3}
    n_linear = sum(v["quantization"]["modules"].values())
    assert n_linear > 4 and v["quantization"]["tensors"] == {"Int8Tensor": n_linear}
    assert v["quantization"]["not_quantized"] == {}
    sparsity = v["sparsity"]                                     # pruned, then int8 rounding may zero a few more
    assert round(0.3 * sparsity["elements"]) <= sparsity["zeros"] < 0.35 * sparsity["elements"]
    assert "int8" in v["storage_dtypes"] and "bfloat16" in v["storage_dtypes"]
    if adapter == "hf-classifier":
        assert model.classify([ClassifyRequest(text="good film")])[0].label in model.labels
    elif adapter == "hf-seq2seq":
        assert model.loglikelihood([LoglikelihoodRequest("translate: the cat", " miko")])[0].logprob < 0


# ------------------------------------------------------------------ refused, before any run folder


@pytest.mark.parametrize("text,needle,hint", [
    ("tiny-gpt2,quantise=int8-dynamic", "unknown option 'quantise'", "did you mean 'quantize'?"),
    ("minilm,prnue=0.5", "unknown option 'prnue'", "did you mean 'prune'?"),
    ("tiny-gpt2,dtype=flaot16", "dtype='flaot16'", "did you mean dtype=float16?"),
    ("tiny-gpt2,quantize=int8_dynamic", "quantize='int8_dynamic'", "did you mean quantize=int8-dynamic?"),
    ("tiny-gpt2,quantize=int4", "quantize='int4'", "int8-dynamic|int8-weight-only"),
    ("tiny-gpt2,prune=1.0", "prune='1.0'", "0 <= F < 1"),
    ("tiny-gpt2,prune=nan", "prune='nan'", "0 <= F < 1"),
    ("minilm,prune=half", "prune='half'", "0 <= F < 1"),
])
def test_bad_keys_and_values_are_refused_with_close_matches(text, needle, hint):
    with pytest.raises(HarnessError) as caught:
        check_models([ModelSpec.parse(text)], CPU)
    assert needle in caught.value.problem and hint in caught.value.fix


def test_a_scheme_torchao_cannot_run_is_refused_with_its_reason(monkeypatch):
    def unsupported(model, scheme, skip=frozenset()):
        raise NotImplementedError("no int8 kernel for this device\nsecond line")
    monkeypatch.setattr(variants, "quantize_linears", unsupported)
    with pytest.raises(HarnessError) as caught:
        check_models([ModelSpec.parse("tiny-gpt2,quantize=int8-dynamic")], CPU)
    assert "cannot run on cpu with float32" in caught.value.problem
    assert "torchao raised NotImplementedError: no int8 kernel for this device" in caught.value.problem


def test_misspelt_option_on_the_command_line_exits_2_with_no_run_folder(tmp_path):
    out = tmp_path / "out"
    proc = run_cli("run", "--model", "full=tiny-gpt2", "--model", f"x=hf-causal:{REPO / 'model/tiny-gpt2'},revison=main",
                   "--out", str(out))
    assert_one_line_error(proc, "unknown option 'revison'", "did you mean 'revision'?")
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr          # no library noise around it
    assert not out.exists()


def test_bad_value_on_the_command_line_exits_2_with_no_run_folder(tmp_path):
    out = tmp_path / "out"
    proc = run_cli("run", "--model", "int8=tiny-gpt2,quantize=int8-dynamc", "--out", str(out))
    assert_one_line_error(proc, "quantize='int8-dynamc'", "did you mean quantize=int8-dynamic?")
    assert not out.exists()


# ------------------------------------------------------------------ end to end: results.json


@pytest.mark.slow
def test_variants_run_end_to_end_and_are_recorded(tmp_path):
    proc = run_cli("run", "--model", "full=tiny-gpt2", "--model", "int8=tiny-gpt2,quantize=int8-dynamic",
                   "--model", "pruned=tiny-gpt2,prune=0.5", "--model", "fp16=tiny-gpt2,dtype=float16",
                   "--tasks", "facts_mc", "--limit", "4", "--no-probes", "--no-meters", "--no-progress",
                   "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    models = json.loads((run / "results.json").read_text())["models"]
    assert [m["recipe"] for m in models.values()] == [
        {"dtype": None, "quantize": None, "prune": None}, {"dtype": None, "quantize": "int8-dynamic", "prune": None},
        {"dtype": None, "quantize": None, "prune": 0.5}, {"dtype": "float16", "quantize": None, "prune": None}]
    assert models["int8"]["quantization"]["tensors"] == {"Int8Tensor": 12}
    assert models["pruned"]["sparsity"]["achieved"] == pytest.approx(0.5, abs=1e-6)
    assert models["fp16"]["dtype"] == "float16" and set(models["fp16"]["storage_dtypes"]) == {"float16"}
    assert models["full"]["quantization"]["tensors"] == {} and set(models["full"]["storage_dtypes"]) == {"float32"}
    for m in models.values():
        assert set(m["tasks"]) == {"facts_mc"} and m["tasks"]["facts_mc"]["n"] == 4
    html = (run / "report.html").read_text()
    assert "quantize=int8-dynamic" in html and "prune=0.5" in html and "sparsity 0.5 achieved" in html
    assert "float16, 5.0 MiB in memory" in html


# ------------------------------------------------------------------ adapters harness does not load, and log noise


def test_a_py_adapter_gets_its_options_and_is_measured_only_where_it_shows_a_module():
    from types import SimpleNamespace
    from harness.models.footprint import for_adapter
    spec = ModelSpec.parse("mine=py:my_models:Mine,dtype=float16,width=3")
    with_module = for_adapter(SimpleNamespace(model=torch.nn.Linear(4, 2)), spec)
    assert with_module["recipe"]["given_to_adapter"] == {"dtype": "float16"}
    assert with_module["size"]["memory"]["value"] == (4 * 2 + 2) * 4
    assert with_module["size"]["disk"]["value"] is None and "not measured" in with_module["size"]["disk"]["reason"]
    without = for_adapter(SimpleNamespace(), ModelSpec.parse("py:my_models:Mine"))
    assert "given_to_adapter" not in without["recipe"]
    assert without["sparsity"]["reason"].startswith("not measured: ")


def test_only_the_known_import_noise_is_dropped(caplog):
    import logging
    import harness.quiet
    harness.quiet.install()
    with caplog.at_level(logging.WARNING):
        logging.getLogger("torchao").warning("Failed to load /x/_C_mxfp8.so: Could not load this library")
        logging.getLogger("torchao").warning("Skipping import of cpp extensions due to incompatible torch version")
    assert [r.getMessage() for r in caplog.records] == [
        "Skipping import of cpp extensions due to incompatible torch version"]


@pytest.mark.parametrize("text", ["tiny-gpt2,prune=0.1,prune=0.2", "tiny-gpt2,dtype=fp16,dtype=fp32",
                                  "tiny-gpt2,quantize=int8-dynamic,quantize=int8-weight-only"])
def test_an_option_given_twice_is_refused_not_the_last_one_silently_kept(text):
    with pytest.raises(HarnessError) as caught:
        ModelSpec.parse(text)
    assert "given twice" in caught.value.problem


@pytest.mark.parametrize("text", ["-0", "-0.0", "0", "1e-400"])
def test_a_zero_prune_is_recorded_as_plain_zero(text):
    """prune=-0 and prune=0 are the same model: one recipe, so one history series."""
    prune = variants.recipe_of(ModelSpec.parse(f"tiny-gpt2,prune={text}")).prune
    assert prune == 0.0 and math.copysign(1.0, prune) == 1.0
