"""lm-eval task YAMLs on local data files (as lm-eval's own tests use), written into a folder for
the tests of harness.lmeval: one task of each output type and a group with a size-weighted aggregate.

| task / group     | output type            | what it exercises                                           |
|------------------|------------------------|-------------------------------------------------------------|
| tl_facts         | multiple_choice        | 3-shot from a train split, default sampler and seed, acc_norm |
| tl_gen           | generate_until         | a regex filter (strip) besides "none"; exact_match, corpus BLEU |
| tl_ppl           | loglikelihood_rolling  | word/byte perplexity and bits per byte                       |
| tl_group         | group of tl_sounds and tl_colours (multiple_choice, sizes differ), acc weighted by size |
| tl_facts_by_relation | a tag on tl_sounds and tl_colours (a tag brings its tasks, no aggregate)   |

The data are the embedded toy world's (tasks/facts_mc, tasks/toylang, tasks/toytext).
"""
from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _jsonl(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def _task(folder: Path, name: str, output_type: str, splits: dict[str, str], body: str, tag: str = "") -> None:
    """An lm-eval task YAML on local JSON data: the header every task here shares, then ``body``."""
    roles = "".join(f"{'training' if split == 'train' else 'test'}_split: {split}\n" for split in splits)
    (folder / f"{name}.yaml").write_text(
        f"task: {name}\n" + (f"tag: {tag}\n" if tag else "") + "dataset_path: json\n"
        f"dataset_kwargs: {json.dumps({'data_files': splits})}\noutput_type: {output_type}\n{roles}{body}"
        "metadata:\n  version: 1.0\n", encoding="utf-8")


MC_PROMPT = '''doc_to_text: "Question: {{question}}\\nAnswer:"
doc_to_target: answer
doc_to_choice: "{{choices}}"
'''
MEAN = "    aggregation: mean\n    higher_is_better: true\n"


def write(folder: Path, n_facts: int = 24, n_gen: int = 16, n_ppl: int = 6) -> Path:
    """The YAMLs and their data in ``folder``; returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "data"
    data.mkdir(exist_ok=True)
    facts = _rows(REPO / "tasks/facts_mc/test.jsonl")
    train = _rows(REPO / "tasks/facts_mc/train.jsonl")
    _task(folder, "tl_facts", "multiple_choice",
          {"train": _jsonl(data / "facts_train.jsonl", train[:40]), "test": _jsonl(data / "facts_test.jsonl", facts[:n_facts])},
          "num_fewshot: 3\n" + MC_PROMPT + f"metric_list:\n  - metric: acc\n{MEAN}  - metric: acc_norm\n{MEAN}")
    toylang = _rows(REPO / "tasks/toylang/test.jsonl")
    toylang_train = _rows(REPO / "tasks/toylang/train.jsonl")
    _task(folder, "tl_gen", "generate_until",
          {"train": _jsonl(data / "toylang_train.jsonl", toylang_train[:20]),
           "test": _jsonl(data / "toylang_test.jsonl", toylang[:n_gen])}, f"""num_fewshot: 2
doc_to_text: "English: {{{{english}}}}\\nToylang:"
doc_to_target: "{{{{toylang}}}}"
target_delimiter: " "
generation_kwargs:
  until: ["\\n"]
  do_sample: false
  max_gen_toks: 24
filter_list:
  - name: none
    filter:
      - function: take_first
  - name: strip
    filter:
      - function: regex
        regex_pattern: "^\\\\s*(.*\\\\S)\\\\s*$"
      - function: take_first
metric_list:
  - metric: exact_match
{MEAN}    ignore_case: true
    ignore_punctuation: false
  - metric: bleu
    aggregation: bleu
    higher_is_better: true
""")
    _task(folder, "tl_ppl", "loglikelihood_rolling",
          {"test": _jsonl(data / "toytext.jsonl", _rows(REPO / "tasks/toytext/test.jsonl")[:n_ppl])},
          'doc_to_text: ""\ndoc_to_target: "{{text}}"\nmetric_list:\n  - metric: word_perplexity\n'
          "  - metric: byte_perplexity\n  - metric: bits_per_byte\n")
    by_relation: dict[str, list[dict]] = {}
    for row in facts:
        by_relation.setdefault(row["relation"], []).append(row)
    for name, (relation, n) in {"sounds": ("sound", 8), "colours": ("colour", 5)}.items():
        _task(folder, f"tl_{name}", "multiple_choice",
              {"test": _jsonl(data / f"facts_{name}.jsonl", by_relation[relation][:n])},
              MC_PROMPT + f"metric_list:\n  - metric: acc\n{MEAN}", tag="tl_facts_by_relation")
    (folder / "tl_group.yaml").write_text("""group: tl_group
task:
  - tl_sounds
  - tl_colours
aggregate_metric_list:
  - metric: acc
    aggregation: mean
    weight_by_size: true
metadata:
  version: 1.0
""", encoding="utf-8")
    return folder
