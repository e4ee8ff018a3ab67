"""Random-init GPT-2-shaped models for the scale benchmark (benchmarks/scale.py): no download.

    python benchmarks/make_models.py OUT_DIR            # writes OUT_DIR/gpt2-26m and OUT_DIR/gpt2-125m

Each is a GPT2LMHeadModel with seeded random weights (torch.manual_seed(0)), 1,024 positions and the
embedded tiny-gpt2 tokenizer (1,024 tokens), saved with save_pretrained beside that tokenizer:

| name      | layers | width | heads | parameters |
|-----------|--------|-------|-------|------------|
| gpt2-26m  | 8      | 512   | 8     | ~26.2M     |
| gpt2-125m | 12     | 928   | 16    | ~126M      |

(GPT-2 small is 12 x 768 with a 50,257-token vocabulary; with this 1,024-token tokenizer the width
is raised to 928 to keep about the same parameter count.)
"""
from __future__ import annotations

import argparse
from pathlib import Path

SHAPES = {"gpt2-26m": (8, 512, 8), "gpt2-125m": (12, 928, 16)}


def build(out: Path, name: str) -> Path:
    import torch
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    from harness.resources import builtin_dir
    layers, width, heads = SHAPES[name]
    tokenizer = AutoTokenizer.from_pretrained(builtin_dir("model") / "tiny-gpt2")
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=1024, n_embd=width, n_layer=layers, n_head=heads,
                        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    model = GPT2LMHeadModel(config).eval()
    folder = out / name
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--only", choices=sorted(SHAPES), action="append")
    args = ap.parse_args()
    for name in args.only or SHAPES:
        folder = build(args.out, name)
        import torch
        from transformers import AutoModelForCausalLM
        n = sum(p.numel() for p in AutoModelForCausalLM.from_pretrained(folder).parameters())
        print(f"{folder}: {n / 1e6:.1f}M parameters")


if __name__ == "__main__":
    main()
