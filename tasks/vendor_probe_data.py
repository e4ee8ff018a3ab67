"""Copy the probe-data slices this project uses from ../shared/datasets into tasks/, with their
licenses and attribution (run once; the result is committed).

    python tasks/vendor_probe_data.py [--shared ../shared/datasets]

CrowS-Pairs: all 1,508 pairs, only the columns the probe reads. BBQ: the first 240 items of each
of the six categories present (60 templates x ambiguous/disambiguated x two polarities).
WEAT: the word lists. WinoBias: the four test files. Nothing CC BY-NC is copied.
"""
from __future__ import annotations

import argparse
import csv
import json
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
BBQ_PER_CATEGORY = 240


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=HERE.parent.parent / "shared" / "datasets")
    src = ap.parse_args().shared

    with (src / "crows_pairs/crows_pairs_anonymized.csv").open(newline="", encoding="utf-8") as fh:
        rows = [{"id": f"crows-{r['']}", "sent_more": r["sent_more"], "sent_less": r["sent_less"],
                 "stereo_antistereo": r["stereo_antistereo"], "bias_type": r["bias_type"]} for r in csv.DictReader(fh)]
    _jsonl(HERE / "crows_pairs/pairs.jsonl", rows)
    shutil.copy(src / "crows_pairs/DATA_README.md", HERE / "crows_pairs/DATA_README.md")

    items = []
    for path in sorted((src / "bbq").glob("*.jsonl")):
        lines = path.read_text(encoding="utf-8").splitlines()[:BBQ_PER_CATEGORY]
        for line in lines:
            r = json.loads(line)
            items.append({"id": f"bbq-{r['category']}-{r['example_id']}", "category": r["category"],
                          "context_condition": r["context_condition"], "question_polarity": r["question_polarity"],
                          "context": r["context"], "question": r["question"], "answers": [r["ans0"], r["ans1"], r["ans2"]],
                          "answer_groups": [r["answer_info"][f"ans{i}"][1] for i in range(3)],
                          "stereotyped_groups": r["additional_metadata"]["stereotyped_groups"], "label": r["label"]})
    _jsonl(HERE / "bbq/items.jsonl", items)
    shutil.copy(src / "bbq/LICENSE", HERE / "bbq/LICENSE")

    shutil.copy(src / "weat/WEAT.json", HERE / "weat/WEAT.json")
    shutil.copy(src / "weat/LICENSE", HERE / "weat/LICENSE")
    shutil.copy(src / "weat/references.txt", HERE / "weat/references.txt")

    for name in ("pro_stereotyped_type1", "anti_stereotyped_type1", "pro_stereotyped_type2", "anti_stereotyped_type2"):
        shutil.copy(src / f"winobias/{name}.txt.test", HERE / f"winobias/{name}.txt.test")
    shutil.copy(src / "winobias/LICENSE", HERE / "winobias/LICENSE")
    shutil.copy(src / "winobias/generalized_swaps.txt", HERE / "counterfactual/winobias_generalized_swaps.txt")
    print(f"crows_pairs {len(rows)} pairs, bbq {len(items)} items")


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows), encoding="utf-8")


if __name__ == "__main__":
    main()
