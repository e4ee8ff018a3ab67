"""What a loaded model (or variant) is made of, measured: parameters (total and non-zero), bytes on
disk and in memory, the dtypes its tensors are stored in, which modules and tensors are quantized,
and the sparsity of its Linear/Conv1D weights. These become ``models.<m>`` keys in results.json.

Quantized tensors (torchao's tensor subclasses) are counted by their real storage: each is taken
apart with ``__tensor_flatten__`` into the plain tensors it holds (int8 data, scales), and every
storage is counted once (tied weights share one).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence

import torch

from harness.models.variants import PRUNE_NOTE, Recipe, linear_like

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")


def is_subclass_tensor(t) -> bool:
    return isinstance(t, torch.Tensor) and hasattr(t, "__tensor_flatten__")


def leaves(t: torch.Tensor) -> Iterator[torch.Tensor]:
    """The plain tensors that hold ``t``'s data (itself, unless it is a tensor subclass)."""
    if is_subclass_tensor(t):
        names, _ = t.__tensor_flatten__()
        for name in names:
            inner = getattr(t, name)
            if isinstance(inner, torch.Tensor):
                yield from leaves(inner)
    else:
        yield t


def _tensors(modules: Sequence[torch.nn.Module]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    params, buffers, seen = [], [], set()
    for module in modules:
        for p in module.parameters():
            if id(p) not in seen:
                seen.add(id(p))
                params.append(p)
        for b in module.buffers():
            if id(b) not in seen:
                seen.add(id(b))
                buffers.append(b)
    return params, buffers


def _storage_bytes(tensors: Iterable[torch.Tensor], seen: set, dtypes: dict) -> int:
    total = 0
    for t in tensors:
        for leaf in leaves(t):
            storage = leaf.untyped_storage()
            key = (str(leaf.device), storage.data_ptr(), storage.nbytes())
            if key in seen:
                continue
            seen.add(key)
            total += storage.nbytes()
            entry = dtypes.setdefault(str(leaf.dtype).removeprefix("torch."), {"tensors": 0, "bytes": 0})
            entry["tensors"] += 1
            entry["bytes"] += storage.nbytes()
    return total


def _zeros(t: torch.Tensor) -> int:
    if is_subclass_tensor(t):
        if hasattr(t, "dequantize"):
            t = t.dequantize()
        elif hasattr(t, "qdata"):
            t = t.qdata
    return t.numel() - int(torch.count_nonzero(t))


def weight_files(location: str, revision: str | None = None) -> tuple[list[Path], str | None]:
    """The files the weights were loaded from, or ([], why they cannot be named)."""
    folder = Path(location).expanduser()
    if not folder.is_dir():
        try:
            from huggingface_hub import snapshot_download
            folder = Path(snapshot_download(location, revision=revision, local_files_only=True))
        except Exception:
            return [], f"not measured: {location} was loaded by hub name and is not in the local cache as a folder"
    files = sorted(p for p in folder.iterdir() if p.suffix == ".safetensors")
    if not files:
        files = sorted(p for p in folder.iterdir() if p.suffix in WEIGHT_SUFFIXES and p.name != "training_args.bin")
    if not files:
        return [], f"not measured: no weight file in {folder}"
    return files, None


def disk_figure(files: Sequence[Path], reason: str | None) -> dict:
    if not files:
        return {"value": None, "unit": "bytes", "reason": reason or "not measured: no weight file"}
    return {"value": sum(p.stat().st_size for p in files), "unit": "bytes", "files": [str(p) for p in files],
            "note": "the files the weights were loaded from; a variant is made in memory after loading"}


def measure(modules: Sequence[torch.nn.Module], applied: dict | None = None, files: Sequence[Path] = (),
            files_reason: str | None = None, apart: Mapping[str, tuple[torch.nn.Module, str]] | None = None) -> dict:
    """The results.json keys describing ``modules`` after ``harness.models.variants.apply`` returned
    ``applied``. ``apart`` names modules the recipe was not applied to (a classifier head loaded on
    its own), with why: they count in parameters and sizes, not in quantization or sparsity."""
    applied = applied or {"recipe": Recipe().to_json()}
    apart = dict(apart or {})
    params, buffers = _tensors([*modules, *(m for m, _ in apart.values())])
    dtypes: dict = {}
    seen: set = set()
    param_bytes = _storage_bytes(params, seen, dtypes)
    buffer_bytes = _storage_bytes(buffers, seen, dtypes)
    total = sum(p.numel() for p in params)
    zeros = sum(_zeros(p) for p in params)

    quantized_modules: dict[str, int] = {}
    quantized_tensors: dict[str, int] = {}
    plain: dict[str, int] = {}
    targets = [m for module in modules for _, m in linear_like(module)]
    for m in targets:
        name = type(m).__name__
        if is_subclass_tensor(m.weight):
            quantized_modules[name] = quantized_modules.get(name, 0) + 1
            kind = type(m.weight).__name__
            quantized_tensors[kind] = quantized_tensors.get(kind, 0) + 1
        else:
            plain[name] = plain.get(name, 0) + 1
    target_elements = sum(m.weight.numel() for m in targets)
    target_zeros = sum(_zeros(m.weight) for m in targets)

    recipe = applied["recipe"]
    quantization = {"scheme": recipe.get("quantize"), "modules": quantized_modules, "tensors": quantized_tensors,
                    "not_quantized": plain}
    if "quantized" in applied:
        quantization.update({k: v for k, v in applied["quantized"].items() if k != "scheme"})
    if "conv1d_to_linear" in applied:
        quantization["conv1d_to_linear"] = applied["conv1d_to_linear"]
    if apart:
        quantization["apart"] = {name: reason for name, (_, reason) in apart.items()}
    sparsity = {"asked": recipe.get("prune"),
                "achieved": target_zeros / target_elements if target_elements else None,
                "scope": f"weights of {len(targets)} Linear/Conv1D modules ({target_elements} elements; "
                         "weights tied to an embedding excluded)",
                "zeros": target_zeros, "elements": target_elements,
                "overall": zeros / total if total else None}
    if recipe.get("prune") is not None:
        sparsity["note"] = PRUNE_NOTE
    return {
        "recipe": recipe,
        "parameters": total,
        "parameters_nonzero": total - zeros,
        "size": {"disk": disk_figure(files, files_reason),
                 "memory": {"value": param_bytes + buffer_bytes, "unit": "bytes", "parameters": param_bytes,
                            "buffers": buffer_bytes,
                            "note": "bytes of parameter and buffer storage (quantized tensors by their int8 data "
                                    "and scales), each storage once"}},
        "storage_dtypes": dtypes,
        "quantization": quantization,
        "sparsity": sparsity,
    }


def for_adapter(adapter, spec) -> dict:
    """The keys for an adapter that did not measure itself (a ``py:`` adapter applies its own
    options): its ``.model`` is measured when it is a torch module."""
    from harness.models.variants import VARIANT_KEYS
    given = {k: v for k, v in spec.options.items() if k in VARIANT_KEYS}
    module = getattr(adapter, "model", None)
    if isinstance(module, torch.nn.Module):
        record = measure([module], files_reason="not measured: the adapter names no weight file")
    else:
        missing = {"reason": "not measured: the adapter exposes no torch module as .model"}
        record = {"recipe": Recipe().to_json(), **{key: dict(missing) for key in
                                                   ("parameters_nonzero", "size", "storage_dtypes", "quantization",
                                                    "sparsity")}}
    if given:
        record["recipe"] = {**record["recipe"], "given_to_adapter": given,
                            "note": "passed to the adapter as keyword arguments; harness applied nothing"}
    record.pop("parameters", None)      # the adapter's own count (ModelInfo.parameters) stands
    return record
