"""lm-eval itself on a model folder and task YAMLs: ``simple_evaluate`` with its HFLM, defaults
otherwise (fewshot seed 1234, no chat template), run in a fresh interpreter so that nothing the
harness changed in-process (its Jinja sandbox) touches it. Prints {task: {"metric,filter": value}}.

    python tests/lmeval_reference.py MODEL_DIR INCLUDE_DIR task_a,group_b [LIMIT]
"""
from __future__ import annotations

import json
import sys


def main() -> None:
    model, include, names = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
    limit = int(sys.argv[4]) if len(sys.argv) > 4 else None
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager
    lm = HFLM(pretrained=model, device="cpu", batch_size=8, dtype="float32")
    manager = TaskManager(include_path=include, include_defaults=False)
    results = simple_evaluate(model=lm, tasks=names, task_manager=manager, limit=limit, bootstrap_iters=0,
                              log_samples=False)
    print(json.dumps({task: {key: value for key, value in metrics.items() if "," in key and "_stderr" not in key}
                      for task, metrics in results["results"].items()}))


if __name__ == "__main__":
    main()
