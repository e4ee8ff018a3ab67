"""Model variants: the compression recipes a ``--model`` spec may ask for, honoured or refused.

``dtype=float32|float16|bfloat16`` (overrides --dtype for this model), ``quantize=int8-dynamic|int8-weight-only``
(torchao: int8 weights, with int8 activations quantized per token at run time for ``int8-dynamic``)
and ``prune=FRACTION`` (global unstructured magnitude pruning over the Linear/Conv1D weights, made
permanent). Every built-in adapter loads through ``harness.models.hf_loading``, which calls
``apply`` once after loading; ``check`` runs before any run folder exists, so a recipe that cannot
be honoured is a one-line exit-2 error, never a silent fall-back to the full model.

A distilled model needs no recipe: it is just another ``--model``.
"""
from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:      # torch is imported in the functions that use it: `harness list models` reads the names above
    import torch

from harness.errors import HarnessError
from harness.spec import ModelSpec, RuntimeOptions

VARIANT_KEYS = frozenset({"dtype", "quantize", "prune"})
DTYPE_NAMES = ("float32", "float16", "bfloat16")
DTYPE_ALIASES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}
# scheme -> (torchao config class, what it does)
QUANTIZE = {"int8-dynamic": ("Int8DynamicActivationInt8WeightConfig",
                             "int8 weights (symmetric, per output channel); activations quantized to int8 per token at run time"),
            "int8-weight-only": ("Int8WeightOnlyConfig",
                                 "int8 weights (symmetric, per output channel), dequantized on the fly; activations stay floating point")}
OPTION_FORMS = {"dtype": "|".join(DTYPE_NAMES), "quantize": "|".join(QUANTIZE), "prune": "FRACTION"}
PRUNE_NOTE = ("unstructured pruning zeroes weights but stores them dense: it saves no time or memory by itself "
              "(that needs sparse kernels or structured pruning)")


@dataclass(frozen=True)
class Recipe:
    """What a spec asked for; None where it asked nothing (the full model, at the run's dtype)."""
    dtype: str | None = None
    quantize: str | None = None
    prune: float | None = None

    def to_json(self) -> dict:
        return {"dtype": self.dtype, "quantize": self.quantize, "prune": self.prune}


def _unknown_value(spec: ModelSpec, key: str, value: str, allowed) -> HarnessError:
    from harness.suggest import did_you_mean
    return HarnessError(f"model {spec.name!r}: {key}={value!r} is not one harness can honour",
                        did_you_mean(value, allowed, f"use {key}={'|'.join(allowed)}", n=1, shown=lambda m: f"{key}={m}"))


def recipe_of(spec: ModelSpec) -> Recipe:
    """The spec's recipe, every value checked; a value that cannot be honoured is a HarnessError."""
    options = spec.options
    dtype = options.get("dtype")
    if dtype is not None:
        dtype = DTYPE_ALIASES.get(dtype, dtype)
        if dtype not in DTYPE_NAMES:
            raise _unknown_value(spec, "dtype", options["dtype"], DTYPE_NAMES)
    quantize = options.get("quantize")
    if quantize is not None and quantize not in QUANTIZE:
        raise _unknown_value(spec, "quantize", quantize, tuple(QUANTIZE))
    prune = None
    if "prune" in options:
        try:
            prune = float(options["prune"])
        except ValueError:
            prune = math.nan
        if not 0.0 <= prune < 1.0:     # NaN fails too
            raise HarnessError(f"model {spec.name!r}: prune={options['prune']!r} is not a fraction of weights to remove",
                               "write prune=F with 0 <= F < 1, e.g. prune=0.5 zeroes the smallest half of the weights")
        prune += 0.0                   # -0.0 is 0.0: the same model, the same recipe
    return Recipe(dtype=dtype, quantize=quantize, prune=prune)


def check(spec: ModelSpec, runtime: RuntimeOptions) -> None:
    """Before the run: the recipe's values are valid, and this machine can run them."""
    recipe = recipe_of(spec)
    if recipe.quantize is not None:
        if importlib.util.find_spec("torchao") is None:
            raise HarnessError(f"model {spec.name!r}: quantize={recipe.quantize} needs the package torchao",
                               "pip install torchao (a dependency of harness-audit)")
        from harness.models.device import choose_device, choose_dtype, dtype_name
        device = choose_device(runtime.device)
        dtype = choose_dtype(recipe.dtype or runtime.dtype, device)
        cannot = cannot_quantize(recipe.quantize, device, dtype)
        if cannot:
            raise HarnessError(f"model {spec.name!r}: quantize={recipe.quantize} cannot run on {device} "
                               f"with {dtype_name(dtype)}: {cannot}",
                               "pick another dtype= or --device that torchao supports for this scheme, or drop quantize=")


def cannot_quantize(scheme: str, device: torch.device, dtype: torch.dtype | None = None) -> str | None:
    """Why torchao cannot run ``scheme`` on ``device`` in ``dtype``, or None when it can: a trial run
    of one quantized layer (it loads nothing and takes milliseconds)."""
    import torch
    dtype = torch.float32 if dtype is None else dtype
    layer = torch.nn.Sequential(torch.nn.Linear(64, 64)).to(device=device, dtype=dtype)
    try:
        quantize_linears(layer, scheme)
        with torch.inference_mode():
            out = layer(torch.ones(2, 64, device=device, dtype=dtype))
        if not torch.isfinite(out).all():
            return "a trial layer gave non-finite outputs"
    except Exception as exc:        # torchao raises many kinds (NotImplementedError, RuntimeError, AssertionError)
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        return f"torchao raised {type(exc).__name__}: {first}"
    return None


# ------------------------------------------------------------------ applying


def import_torchao():
    import torchao
    import torchao.quantization  # noqa: F401
    return torchao


def embedding_tied(model: torch.nn.Module) -> set[int]:
    """The ids of weights shared with an input embedding (a tied LM head): pruning or quantizing them
    would change (or copy) the embedding too, so recipes leave them as they are."""
    import torch
    return {id(m.weight) for m in model.modules() if isinstance(m, torch.nn.Embedding)}


def linear_like(model: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """The Linear and HF Conv1D (GPT-2's projections) modules whose weights the recipes touch."""
    import torch
    from transformers.pytorch_utils import Conv1D
    tied = embedding_tied(model)
    return [(name, m) for name, m in model.named_modules()
            if isinstance(m, (torch.nn.Linear, Conv1D)) and id(m.weight) not in tied]


def conv1d_to_linear(model: torch.nn.Module) -> dict:
    """Replaces every HF ``Conv1D`` (y = x @ W + b, W of shape in x out) by the equal ``nn.Linear``
    (weight W.T), checking on a random input that each gives the same output. Returns what it did."""
    import torch
    from transformers.pytorch_utils import Conv1D
    tolerance = {torch.float32: 1e-5, torch.float16: 1e-2, torch.bfloat16: 5e-2}
    converted, worst = 0, 0.0
    for parent in list(model.modules()):
        for child_name, child in list(parent.named_children()):
            if not isinstance(child, Conv1D):
                continue
            weight = child.weight
            n_in, n_out = weight.shape
            linear = torch.nn.Linear(n_in, n_out, bias=child.bias is not None, device=weight.device, dtype=weight.dtype)
            with torch.no_grad():
                linear.weight.copy_(weight.t())
                if child.bias is not None:
                    linear.bias.copy_(child.bias)
                generator = torch.Generator(device=weight.device).manual_seed(0)   # leaves the global RNG alone
                probe = torch.randn(3, n_in, device=weight.device, generator=generator).to(weight.dtype)
                diff = float((linear(probe).float() - child(probe).float()).abs().max())
                scale = float(child(probe).float().abs().max()) or 1.0
            if not diff <= tolerance.get(weight.dtype, 1e-2) * max(1.0, scale):
                raise RuntimeError(f"Conv1D {child_name} and its Linear replacement differ by {diff:.3g}")
            linear.train(child.training)
            setattr(parent, child_name, linear)
            converted += 1
            worst = max(worst, diff)
    return {"converted": converted, "max_abs_diff": worst}


def quantize_linears(model: torch.nn.Module, scheme: str, skip: set[int] = frozenset()) -> None:
    """torchao's ``quantize_`` on every nn.Linear except those whose weight id is in ``skip``."""
    import torch
    torchao = import_torchao()
    config_class = getattr(torchao.quantization, QUANTIZE[scheme][0])
    torchao.quantization.quantize_(model, config_class(),
                                   filter_fn=lambda m, fqn: isinstance(m, torch.nn.Linear) and id(m.weight) not in skip)


def prune_global(model: torch.nn.Module, fraction: float) -> dict:
    """Global magnitude (L1) unstructured pruning: the ``fraction`` of Linear/Conv1D weight elements,
    taken together, with the smallest |w| are set to zero in place (so it is permanent: no mask or
    hook is left, as after torch.nn.utils.prune.remove). Ties at the threshold are broken in order,
    so exactly round(fraction * n) elements are zeroed."""
    import torch
    targets = [m.weight for _, m in linear_like(model)]
    n = sum(w.numel() for w in targets)
    k = round(fraction * n)
    if k:
        with torch.no_grad():
            flat = torch.cat([w.detach().abs().flatten().float() for w in targets])
            threshold = flat.kthvalue(k).values
            mask = flat < threshold
            ties = (flat == threshold).nonzero().flatten()[: k - int(mask.sum())]
            mask[ties] = True
            start = 0
            for w in targets:
                w.masked_fill_(mask[start:start + w.numel()].view_as(w), 0)
                start += w.numel()
    return {"modules": len(targets), "elements": n, "zeroed": k}


def apply(model: torch.nn.Module, recipe: Recipe) -> dict:
    """Applies the recipe to a loaded model in place (its dtype was chosen at load): prune, then
    quantize. Returns what was done, for ``harness.models.footprint``."""
    import torch
    done: dict = {"recipe": recipe.to_json()}
    if recipe.prune is not None:
        done["pruned"] = prune_global(model, recipe.prune)
    if recipe.quantize is not None:
        done["conv1d_to_linear"] = conv1d_to_linear(model)
        tied = embedding_tied(model)
        kept = [name for name, m in model.named_modules() if isinstance(m, torch.nn.Linear) and id(m.weight) in tied]
        quantize_linears(model, recipe.quantize, skip=tied)
        torchao = import_torchao()
        done["quantized"] = {"scheme": recipe.quantize, "library": f"torchao {torchao.__version__}",
                             "config": QUANTIZE[recipe.quantize][0], "what": QUANTIZE[recipe.quantize][1],
                             "kept": {name: "weight tied to the input embedding (quantizing it would store a second copy)"
                                      for name in kept}}
    return done
