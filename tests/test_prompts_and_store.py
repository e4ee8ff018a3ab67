"""Templates can only read fields; few-shot draws are seeded; the store survives a torn write."""
from __future__ import annotations

import json

import pytest

from harness.data import Example
from harness.errors import HarnessError
from harness.prompts import Template, draw_fewshot
from harness.report import render_html
from harness.store import SampleStore, write_json_atomic


def test_plain_and_jinja_templates_render_fields():
    assert Template("Q: {q}\nA:", "t").render({"q": "why?"}) == "Q: why?\nA:"
    assert Template("{{ q | upper }} {% for c in cs %}[{{ c }}]{% endfor %}", "t").render({"q": "x", "cs": [1, 2]}) == "X [1][2]"


@pytest.mark.parametrize("source", ["{q.__class__}", "{q[0]}", "{{ q.__class__.__mro__ }}",
                                    "{{ cycler.__init__.__globals__ }}", "{missing}", "{{ missing }}"])
def test_templates_cannot_reach_beyond_the_fields(source):
    with pytest.raises(HarnessError):
        Template(source, "t").render({"q": "text"})


def test_fewshot_draw_is_seeded_and_never_the_example_itself():
    pool = [Example(str(i), i, {}) for i in range(10)]
    first = draw_fewshot(pool, 3, seed=7, exclude_id="4")
    assert first == draw_fewshot(pool, 3, seed=7, exclude_id="4")
    assert all(ex.id != "4" for ex in first) and len(first) == 3
    with pytest.raises(HarnessError, match="pool has 9"):
        draw_fewshot(pool, 10, seed=0, exclude_id="0")


def test_store_drops_a_torn_last_line_and_appends_cleanly(tmp_path):
    path = tmp_path / "samples.jsonl"
    path.write_text('{"model": "m", "task": "t", "id": "1", "index": 0}\n{"model": "m", "task": "t", "id": "2", "predi')
    store = SampleStore(path)
    assert store.done_keys() == {("m", "t", "1")}
    with store:
        store.append({"model": "m", "task": "t", "id": "3", "index": 2})
    assert [json.loads(line)["id"] for line in path.read_text().splitlines()] == ["1", "3"]


def test_atomic_json_write_leaves_no_temporary_file(tmp_path):
    write_json_atomic(tmp_path / "r.json", {"a": 1})
    assert json.loads((tmp_path / "r.json").read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]
    with pytest.raises(ValueError):
        write_json_atomic(tmp_path / "r.json", {"a": float("nan")})
    assert json.loads((tmp_path / "r.json").read_text()) == {"a": 1}


def test_report_escapes_model_outputs_and_dataset_strings():
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    results = {"schema_version": "2.0", "run": {"id": "r<b>", "status": "complete", "started": "s", "finished": "f", "seed": 1,
                       "harness_version": "0", "git_sha": None},
               "environment": {"python": "3", "torch": "2", "transformers": "5", "cpu": evil, "gpus": []},
               "models": {evil: {"kind": "k", "spec": "s", "parameters": 1, "device": "cpu", "dtype": "float32",
                                 "skipped": {}, "tasks": {"t": {"kind": "generate", "n": 1, "n_expected": 1, "complete": True,
                                                                "metrics": {"bleu": {"value": 1.0, "stderr": 0.0, "ci95": [1, 1]}}}}}}}
    records = [{"model": evil, "task": "t", "id": evil, "input": evil, "prediction": evil, "reference": evil}]
    html = render_html(results, records)
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in html and "r&lt;b&gt;" in html


def test_csv_and_datasets_sources_load_the_same_rows(tmp_path):
    from harness.data import DataSource, load_examples
    rows = [{"id": "a", "text": "first, with a comma", "label": "x"}, {"id": "b", "text": "second", "label": "y"}]
    csv_path = tmp_path / "d.csv"
    csv_path.write_text('id,text,label\na,"first, with a comma",x\nb,second,y\n')
    jsonl_path = tmp_path / "d.jsonl"
    jsonl_path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    from_csv = load_examples(DataSource(path=csv_path), "t")
    from_datasets = load_examples(DataSource(hf={"path": "json", "data_files": str(jsonl_path), "split": "train"}), "t")
    assert [dict(e.fields) for e in from_csv] == rows
    assert [dict(e.fields) for e in from_datasets] == rows
    assert [e.id for e in from_datasets] == ["a", "b"]
