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


def _json_data(**splits: str) -> str:
    return json.dumps({"data_files": splits})


def write(folder: Path, n_facts: int = 24, n_gen: int = 16, n_ppl: int = 6) -> Path:
    """The YAMLs and their data in ``folder``; returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "data"
    data.mkdir(exist_ok=True)
    facts = _rows(REPO / "tasks/facts_mc/test.jsonl")
    train = _rows(REPO / "tasks/facts_mc/train.jsonl")
    test_facts = _jsonl(data / "facts_test.jsonl", facts[:n_facts])
    train_facts = _jsonl(data / "facts_train.jsonl", train[:40])
    (folder / "tl_facts.yaml").write_text(f"""task: tl_facts
dataset_path: json
dataset_kwargs: {_json_data(train=train_facts, test=test_facts)}
output_type: multiple_choice
training_split: train
test_split: test
num_fewshot: 3
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_target: answer
doc_to_choice: "{{{{choices}}}}"
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
  - metric: acc_norm
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
""", encoding="utf-8")
    toylang = _rows(REPO / "tasks/toylang/test.jsonl")
    toylang_train = _rows(REPO / "tasks/toylang/train.jsonl")
    gen_test = _jsonl(data / "toylang_test.jsonl", toylang[:n_gen])
    gen_train = _jsonl(data / "toylang_train.jsonl", toylang_train[:20])
    (folder / "tl_gen.yaml").write_text(f"""task: tl_gen
dataset_path: json
dataset_kwargs: {_json_data(train=gen_train, test=gen_test)}
output_type: generate_until
training_split: train
test_split: test
num_fewshot: 2
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
    aggregation: mean
    higher_is_better: true
    ignore_case: true
    ignore_punctuation: false
  - metric: bleu
    aggregation: bleu
    higher_is_better: true
metadata:
  version: 1.0
""", encoding="utf-8")
    ppl = _jsonl(data / "toytext.jsonl", _rows(REPO / "tasks/toytext/test.jsonl")[:n_ppl])
    (folder / "tl_ppl.yaml").write_text(f"""task: tl_ppl
dataset_path: json
dataset_kwargs: {_json_data(test=ppl)}
output_type: loglikelihood_rolling
test_split: test
doc_to_text: ""
doc_to_target: "{{{{text}}}}"
metric_list:
  - metric: word_perplexity
  - metric: byte_perplexity
  - metric: bits_per_byte
metadata:
  version: 1.0
""", encoding="utf-8")
    by_relation = {}
    for row in facts:
        by_relation.setdefault(row["relation"], []).append(row)
    sizes = {"sounds": ("sound", 8), "colours": ("colour", 5)}
    for name, (relation, n) in sizes.items():
        path = _jsonl(data / f"facts_{name}.jsonl", by_relation[relation][:n])
        (folder / f"tl_{name}.yaml").write_text(f"""task: tl_{name}
tag: tl_facts_by_relation
dataset_path: json
dataset_kwargs: {_json_data(test=path)}
output_type: multiple_choice
test_split: test
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_target: answer
doc_to_choice: "{{{{choices}}}}"
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
""", encoding="utf-8")
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
