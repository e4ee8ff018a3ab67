"""harness/redact.py: secrets (whole and in part, redacted before a cut), lone surrogates (a py: model's
exception text must not stop run.json, results.json or --resume) and personal data on pages
(report.html redacts it unless the run was started with --show-pii; samples.jsonl keeps the raw text)."""
from __future__ import annotations

import json
import textwrap

import pytest

from support import run_cli, write_task
from harness import failures
from harness.redact import MASK, PARTIAL, clean, cut, encodable, page_records, page_results, pii, redact_secrets

KEY = "sk-live-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL"


def test_a_secret_is_redacted_whole_and_in_part_and_before_the_cut():
    assert redact_secrets(f"key {KEY} end", [KEY]) == f"key {MASK} end"
    assert redact_secrets(f"key {KEY[:20]}", [KEY]) == f"key {MASK}"           # a server that cut it
    assert redact_secrets(f"key ...{KEY[-12:]}", [KEY]) == f"key ...{MASK}"
    assert redact_secrets(f"key {KEY[3:3 + PARTIAL - 1]}", [KEY]) == f"key {KEY[3:3 + PARTIAL - 1]}"   # too short to tell
    assert redact_secrets("short secret: hunter2!", ["hunter2"]) == f"short secret: {MASK}!"
    text = "x" * 280 + KEY                     # the key starts before the cut and ends after it
    assert KEY[:PARTIAL] not in cut(text, 300, [KEY]) and cut(text, 300, [KEY]).startswith("x" * 280 + MASK)
    assert redact_secrets(f"a{KEY}b", [KEY, KEY[10:]]) == f"a{MASK}b"           # overlapping secrets: one mask


def test_a_failure_record_never_holds_a_registered_secret_or_a_lone_surrogate(monkeypatch):
    import harness.redact as redact
    monkeypatch.setattr(redact, "_secrets", set())
    redact.secret(KEY)
    record = failures.record("m", "task", "t", f"HTTP 401: bad key {KEY[:30]} \udcff", "check the key")
    assert KEY[:PARTIAL] not in record["error"] and "\\udcff" in record["error"]
    json.dumps(record, ensure_ascii=False).encode("utf-8")


def test_unwritable_text_is_spelt_out_everywhere_in_a_json_value():
    value = {"a\udcff": ["b\ud800", {"c": "fine é"}], "n": 1}
    assert encodable(value) == {"a\\udcff": ["b\\ud800", {"c": "fine é"}], "n": 1}
    assert clean("ok \udcff") == "ok \\udcff"


SURROGATE_MODEL = textwrap.dedent('''
    from harness.models.base import AnswersOnlyWhatItSupports, ModelInfo
    from harness.requests import ClassifyRequest

    class Bad(AnswersOnlyWhatItSupports):
        supports = frozenset({ClassifyRequest})

        def __init__(self):
            self.info = ModelInfo(kind="bad\\udcff", device="cpu", dtype="float32", parameters=1,
                                  labels=("food", "sports", "technology", "weather"))

        def token_count(self, text):
            return len(text.split())

        def classify(self, requests):
            raise ValueError("cannot decode \\udcff in the input")
''')


@pytest.mark.slow
def test_a_lone_surrogate_in_a_models_exception_is_recorded_and_resume_reports_the_other_model(tmp_path):
    (tmp_path / "surrogate_model.py").write_text(SURROGATE_MODEL)
    out = tmp_path / "out"
    args = ("--no-probes", "--no-meters", "--no-progress")
    proc = run_cli("run", "--model", "bad=py:surrogate_model:Bad", "--model", "minilm", "--tasks", "topic",
                   "--limit", "4", *args, "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr
    run_dir = next(p for p in out.iterdir() if p.is_dir())
    results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    [failure] = results["run"]["failures"]
    assert failure["model"] == "bad" and "cannot decode \\udcff" in failure["error"]
    assert results["models"]["minilm"]["tasks"]["topic"]["n"] == 4
    assert "\\udcff" in json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["failures"][0]["error"]
    proc = run_cli("run", "--resume", str(run_dir), "--no-progress", cwd=tmp_path)
    assert proc.returncode == 3 and "Traceback" not in proc.stderr, proc.stderr
    again = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    assert again["models"]["minilm"]["tasks"]["topic"]["metrics"] == results["models"]["minilm"]["tasks"]["topic"]["metrics"]
    (run_dir / "report.html").read_text(encoding="utf-8")


# ------------------------------------------------------------------ personal data on pages

EMAIL, CARD, PHONE, IBAN = "jane.doe@example.com", "4111 1111 1111 1111", "+44 20 7946 0958", "GB82 WEST 1234 5698 7654 32"


def test_pii_is_redacted_in_texts_and_left_alone_elsewhere():
    assert pii(f"mail {EMAIL}, card {CARD}, call {PHONE}, iban {IBAN}.") == \
        "mail [EMAIL], card [CARD], call [PHONE], iban [IBAN]."
    assert pii("4111 1111 1111 1112 fails Luhn") == "4111 1111 1111 1112 fails Luhn"
    record = {"model": "m", "task": "t", "id": EMAIL, "input": f"to {EMAIL}", "prediction": CARD, "reference": "x",
              "views": {"prediction_norm": EMAIL}, "details": {"choices": [EMAIL, "b"]}, "scores": {"correct": 1.0}}
    [page] = page_records([record])
    assert page["id"] == EMAIL and page["scores"] == {"correct": 1.0}          # names and numbers stay
    assert page["input"] == "to [EMAIL]" and page["prediction"] == "[CARD]"
    assert page["views"] == {"prediction_norm": "[EMAIL]"} and page["details"] == {"choices": ["[EMAIL]", "b"]}
    results = {"models": {"m": {"probes": {"robustness": {"examples": [{"input": EMAIL, "n": 2}]}}, "tasks": {}}},
               "comparison": {"models": {"o": {"flipped": {"t": {"broken": [{"input": CARD}]}}}}}}
    shown = page_results(results)
    assert shown["models"]["m"]["probes"]["robustness"]["examples"] == [{"input": "[EMAIL]", "n": 2}]
    assert shown["comparison"]["models"]["o"]["flipped"] == {"t": {"broken": [{"input": "[CARD]"}]}}
    assert results["models"]["m"]["probes"]["robustness"]["examples"][0]["input"] == EMAIL     # not changed in place


ECHO_MODEL = textwrap.dedent('''
    from harness.models.base import AnswersOnlyWhatItSupports, ModelInfo
    from harness.requests import GenerateRequest, Generation

    class Echo(AnswersOnlyWhatItSupports):
        supports = frozenset({GenerateRequest})
        info = ModelInfo(kind="echo", device="cpu", dtype="float32", parameters=1)

        def token_count(self, text):
            return len(text.split())

        def generate(self, requests):
            return [Generation(text=r.context.split("|")[-1], n_tokens=3) for r in requests]
''')


@pytest.mark.slow
@pytest.mark.parametrize("show", [False, True])
def test_report_html_redacts_personal_data_in_task_examples_unless_show_pii(tmp_path, show):
    (tmp_path / "echo_model.py").write_text(ECHO_MODEL)
    rows = [{"id": "1", "text": f"write to|{EMAIL}", "answer": EMAIL},
            {"id": "2", "text": f"pay with|{CARD}", "answer": "no"}]
    write_task(tmp_path / "tasks" / "pii", "pii", rows, kind="generate", metrics=["exact_match"])
    out = tmp_path / "out"
    proc = run_cli("run", "--model", "echo=py:echo_model:Echo", "--tasks-dir", str(tmp_path / "tasks"), "--tasks", "pii",
                   "--no-meters", "--no-progress", "--out", str(out), *(["--show-pii"] if show else []), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    run_dir = next(p for p in out.iterdir() if p.is_dir())
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    samples = (run_dir / "samples.jsonl").read_text(encoding="utf-8")
    assert EMAIL in samples and CARD in samples                                  # the raw text is kept
    safety = json.loads((run_dir / "results.json").read_text())["models"]["echo"]["probes"]["safety"]
    assert safety["counts"]["flagged"] >= 2 and all(EMAIL not in e["output"] for e in safety["examples"])
    if show:
        assert EMAIL in page and CARD in page
    else:
        assert EMAIL not in page and CARD not in page and "[EMAIL]" in page and "[CARD]" in page
