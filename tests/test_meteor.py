"""METEOR: nltk's meteor_score with WordNet 3.0 read offline (Debian's wordnet-base), or not_measured."""
from __future__ import annotations

import pytest

from support import REPO, write_task
from harness.audit import run_audit
from harness.metrics import meteor
from harness.run_dir import RunState
from harness.spec import MeterOptions, ModelSpec, RunSpec

needs_wordnet = pytest.mark.skipif(meteor.wordnet()[0] is None, reason="no WordNet (apt-get install wordnet-base)")


@needs_wordnet
def test_meteor_gives_nltks_documented_values():
    """The values in nltk's own doctests (translate/meteor_score.py, test/meteor.doctest), which were made
    with nltk_data's WordNet: the same with the WordNet read here."""
    h1 = "It is a guide to action which ensures that the military always obeys the commands of the party"
    r1 = "It is a guide to action that ensures that the military will forever heed Party commands"
    assert round(meteor.Meteor.example_score(h1, r1), 4) == 0.6944
    assert meteor.Meteor.example_score("non matching hypothesis", "this is a cat") == 0.0
    assert meteor.Meteor.example_score("on the mat sat the cat", "The cat sat on the mat") == 0.5
    assert round(meteor.Meteor.example_score("The cat was sat on the mat", "The cat sat on the mat"), 4) == 0.9654
    assert round(meteor.Meteor.example_score("creates or updates a virtual machine scale set",
                                             "create or update a vm set"), 4) == 0.7806
    # the mean over examples, as evaluate's meteor (harness.metrics.Meteor: the evaluate.Metric)
    from harness.metrics import Meteor
    assert Meteor().compute(predictions=[h1, "non matching hypothesis"], references=[r1, "this is a cat"])[
        "meteor"] == pytest.approx(0.6944 / 2, abs=1e-4)


@needs_wordnet
def test_wordnet_synonyms_count_as_matches():
    from nltk.translate.meteor_score import meteor_score
    reader, _ = meteor.wordnet()
    assert reader.synsets("rug") and "carpet" in {l.name() for s in reader.synsets("rug") for l in s.lemmas()}
    with_synonyms = meteor.Meteor.example_score("the cat sat on the carpet", "the cat sat on the rug")

    class NoSynonyms:
        def synsets(self, word):
            return []
    exact_only = meteor_score([["the", "cat", "sat", "on", "the", "rug"]], "the cat sat on the carpet".split(),
                              wordnet=NoSynonyms())
    assert with_synonyms > exact_only


def test_meteor_without_wordnet_reads_not_measured_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "tests"))
    monkeypatch.setattr(meteor, "wordnet", lambda: (None, "METEOR needs WordNet 3.0 and none was found"))
    write_task(tmp_path / "tasks" / "g", "g", [{"id": "1", "text": "a b", "answer": "b"}], kind="generate",
               metrics=["meteor", "exact_match"])
    spec = RunSpec(models=(ModelSpec("m", "py", "fake_models:ShortestChoice"),), tasks=("g",),
                   tasks_dirs=(tmp_path / "tasks",), meters=MeterOptions(enabled=False), probes=())
    state = RunState.create(tmp_path / "out", spec, argv=[])
    metrics = run_audit(state, progress=False).to_json()["models"]["m"]["tasks"]["g"]["metrics"]
    assert metrics["meteor"]["value"] is None and metrics["meteor"]["reason"].startswith("METEOR needs WordNet")
    assert metrics["exact_match"]["value"] == 1.0
    assert "meteor" not in state.samples_path.read_text()
