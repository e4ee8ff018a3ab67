"""The typed results.json (harness.results): the one not-measured spelling the types enforce, the
JSON Schema generated from them and shipped as results.schema.json, and layout 1 migrated on read."""
from __future__ import annotations

import copy
import json

import pytest
from pydantic import ValidationError

import results_builder as rb
from support import REPO
from harness.errors import HarnessError
from harness.results.migration import from_layout_1
from harness.results.reading import parse
from harness.results.schema import SCHEMA_FILE, schema_text
from harness.results.values import Failure, Figure, MetricValue
from harness.results.types import SCHEMA_VERSION

LAYOUT_1 = REPO / "tests" / "fixtures" / "layout1-run"


def _validator():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((REPO / SCHEMA_FILE).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _broken_copies(raw: dict) -> dict[str, dict]:
    """What the schema and the types must refuse, made from a good results.json."""
    nm_value = copy.deepcopy(raw)
    nm_value["energy"]["run"]["gco2e"] = {"value": 0.25, "unit": "gCO2e", "source": "not_measured", "reason": "no intensity"}
    as_string = copy.deepcopy(raw)
    as_string["models"]["tiny-gpt2"]["tasks"]["facts_mc"]["metrics"]["accuracy"]["value"] = "0.59375"
    no_models = copy.deepcopy(raw)
    del no_models["models"]
    no_number = copy.deepcopy(raw)
    no_number["energy"]["run"]["total_energy_j"]["value"] = None
    old_key = copy.deepcopy(raw)
    old_key["models"]["tiny-gpt2"]["tasks"]["facts_mc"]["metrics"]["accuracy"]["not_measured"] = "old spelling"
    return {"a not-measured figure carrying a value": nm_value, "a metric value written as a string": as_string,
            "no models": no_models, "a measured figure without a number": no_number, "the not_measured key": old_key}


def test_the_shipped_schema_is_what_the_types_generate():
    assert (REPO / SCHEMA_FILE).read_text(encoding="utf-8") == schema_text(), \
        "results.schema.json is stale: run `python -m harness.results.schema`"


def test_the_default_runs_results_validate_read_back_unchanged_and_broken_copies_do_not(default_run):
    validator = _validator()
    _, run_dir = default_run
    raw = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    assert raw["schema_version"] == SCHEMA_VERSION
    assert list(validator.iter_errors(raw)) == []
    assert parse(raw).to_json() == raw                    # read and written again: nothing added, lost or changed
    for name, broken in _broken_copies(raw).items():
        assert list(validator.iter_errors(broken)), f"the schema accepts {name}"
        with pytest.raises(HarnessError) as error:
            parse(broken)
        assert "results.json" in error.value.problem and "\n" not in str(error.value), name


def test_the_types_refuse_every_spelling_of_not_measured_but_one():
    assert not Figure.not_measured("J", "meters off").measured
    with pytest.raises(ValidationError, match="carries a value"):
        Figure(value=1.0, unit="J", source="not_measured", reason="x")
    with pytest.raises(ValidationError, match="needs its reason"):
        Figure(value=None, unit="J", source="not_measured")
    with pytest.raises(ValidationError, match="has no value"):
        Figure(value=None, unit="J", source="estimated")
    with pytest.raises(ValidationError, match="needs the reason"):
        MetricValue(value=None)
    with pytest.raises(ValidationError, match="layout 1's spelling"):
        MetricValue.model_validate({"value": None, "not_measured": "why", "reason": "why"})
    with pytest.raises(ValidationError):
        MetricValue(value="0.5")
    with pytest.raises(ValidationError):
        MetricValue(value=True)
    with pytest.raises(ValidationError):
        MetricValue(value=float("nan"))
    assert MetricValue(value=None, reason="no items").to_json() == {"value": None, "reason": "no items"}


def test_the_builders_results_validate_against_the_schema():
    validator = _validator()
    import gate_fixtures
    import report_synthetic
    import run_folders
    for raw in (gate_fixtures.BASE, report_synthetic.synthetic(n_tasks=2), run_folders.results("r1", rb.STARTED)):
        assert list(validator.iter_errors(raw)) == []


def test_layout_1_is_migrated_to_the_one_spelling_and_typed_failures():
    raw = json.loads((LAYOUT_1 / "results.json").read_text(encoding="utf-8"))
    assert raw["schema_version"] == 1 and "not_measured" in json.dumps(raw)
    raw["run"]["failures"] = [{"model": "tiny-gpt2", "what": w, "error": "e", "fix": "f"}
                              for w in ("load", "warm-up", "task 'facts_mc'", 'task "it\'s"', "probe 'bbq'")]
    raw["models"]["tiny-gpt2"]["tasks"]["facts_mc"]["calibration"] = {"not_measured": "no probabilities"}
    raw["models"]["tiny-gpt2"]["probes"]["bbq"]["ties"]["fraction"] = {"not_measured": "no items scored"}
    migrated = from_layout_1(raw)
    assert migrated["schema_version"] == SCHEMA_VERSION and "not_measured\":" not in json.dumps(migrated).replace(
        '"source": "not_measured"', "")
    results = parse(raw)
    assert [(f.kind, f.piece) for f in results.run.failures] == [
        ("load", None), ("load", None), ("task", "facts_mc"), ("task", "it's"), ("probe", "bbq")]
    assert [f.what for f in results.run.failures][3] == 'task "it\'s"'
    bbq = results.models["tiny-gpt2"].probes["bbq"]
    assert bbq.metrics["accuracy_disambiguated"].value is None
    assert bbq.metrics["accuracy_disambiguated"].reason.startswith("no items")
    assert bbq.extra("ties")["fraction"] is None and bbq.extra("ties")["reason"] == "no items scored"
    assert results.models["tiny-gpt2"].tasks["facts_mc"].calibration.reason == "no probabilities"
    assert results.energy.meters["gpu"] == {"reason": "NVML Shared Library Not Found"}
    assert list(_validator().iter_errors(results.to_json())) == []


@pytest.mark.parametrize("what", ["launch", "task mc", "task 'unclosed", "", None])
def test_a_layout_1_failure_that_names_no_piece_is_refused_in_one_line(what):
    raw = json.loads((LAYOUT_1 / "results.json").read_text(encoding="utf-8"))
    raw["run"]["failures"] = [{"model": "m", "what": what, "error": "e", "fix": "f"}]
    with pytest.raises(HarnessError) as error:
        parse(raw)
    assert "names no load, task or probe" in error.value.problem


def test_a_newer_major_is_refused_and_a_newer_minor_is_read_keeping_what_it_adds():
    raw = rb.results("r", {"m": rb.model()}).to_json()
    with pytest.raises(HarnessError, match="newer than this harness reads"):
        parse({**raw, "schema_version": "3.0"})
    newer = {**raw, "schema_version": "2.7", "provenance": {"signed": True},
             "run": {**raw["run"], "queue": "nightly"}}
    results = parse(newer)
    assert results.to_json() == newer and results.run.extra("queue") == "nightly"


def test_a_failure_names_its_piece_in_words():
    assert Failure(model="a", kind="load", error="e", fix="f").describe() == "loading model 'a'"
    assert Failure(model="a", kind="task", piece="mc", error="e", fix="f").describe() == "model 'a' on task 'mc'"
    summary = Failure(model="a", kind="summary", piece="probe:crows", error="e", fix="f")
    assert summary.scope == ("probe", "crows") and summary.what == "summary of 'probe:crows'"
    assert summary.describe() == "model 'a' on the summary of 'probe:crows'"
    assert Failure(model="a", kind="summary", piece="mc", error="e", fix="f").scope == ("task", "mc")
    with pytest.raises(ValidationError, match="names its piece"):
        Failure(model="a", kind="task", error="e", fix="f")
    with pytest.raises(ValidationError, match="names no piece"):
        Failure(model="a", kind="load", piece="warm-up", error="e", fix="f")
