"""How much slower float16 and bfloat16 run than float32 on this CPU (the numbers behind
harness/slow_dtypes.py's warning).

    python benchmarks/make_models.py /tmp/models --only gpt2-26m
    python benchmarks/dtype_speed.py --model tiny-gpt2 --model /tmp/models/gpt2-26m --rounds 5

For each model and dtype, in interleaved rounds: a forward pass over a batch of 8 sequences of 64
tokens (the log-likelihood work of multiple choice and perplexity) and a greedy generation of 16
new tokens for 4 prompts of 32 tokens with the KV cache (the generation work). Prints the median
seconds and the ratio to float32, per model, and the CPU's bf16 instructions.
"""
from __future__ import annotations

import argparse
import statistics
import time


def _load(name: str):
    from transformers import AutoModelForCausalLM

    from harness.resources import builtin_dir
    path = builtin_dir("model") / "tiny-gpt2" if name == "tiny-gpt2" else name
    return AutoModelForCausalLM.from_pretrained(path).eval()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    import copy

    import torch

    from harness.slow_dtypes import cpu_has_bf16
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU bf16 instructions: {cpu_has_bf16()}")
    for name in args.model:
        base = _load(name)
        vocab = base.config.vocab_size
        models = {dtype: copy.deepcopy(base).to(getattr(torch, dtype)) for dtype in ("float32", "float16", "bfloat16")}
        batch = torch.randint(0, vocab, (8, 64))
        prompts = torch.randint(0, vocab, (4, 32))
        times: dict[tuple[str, str], list[float]] = {}
        with torch.inference_mode():
            for model in models.values():                       # warm-up
                model(batch[:1, :8])
            for _ in range(args.rounds):
                for dtype, model in models.items():
                    started = time.perf_counter()
                    model(batch)
                    times.setdefault((dtype, "forward"), []).append(time.perf_counter() - started)
                    started = time.perf_counter()
                    model.generate(prompts, max_new_tokens=16, min_new_tokens=16, do_sample=False,
                                   pad_token_id=base.config.eos_token_id)
                    times.setdefault((dtype, "generate"), []).append(time.perf_counter() - started)
        params = sum(p.numel() for p in base.parameters())
        print(f"\n{name} ({params / 1e6:.1f}M parameters), medians of {args.rounds} interleaved rounds:")
        for work in ("forward", "generate"):
            fp32 = statistics.median(times[("float32", work)])
            cells = [f"{dtype} {statistics.median(times[(dtype, work)]):.3f} s (x{statistics.median(times[(dtype, work)]) / fp32:.1f})"
                     for dtype in models]
            print(f"  {work:8s}  " + "  ".join(cells))


if __name__ == "__main__":
    main()
