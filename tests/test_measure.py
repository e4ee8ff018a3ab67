"""harness.measure.measure: one configuration measured with N repeats, from Python (what `harness
tune` calls per trial): typed figures with their intervals, the run folder, refusals before anything runs."""
from __future__ import annotations

import pytest

from harness.errors import HarnessError
from harness.measure import measure

FAKE = "fake=py:fake_models:ShortestChoice"


def test_one_configuration_measured_with_its_intervals(tmp_path):
    m = measure(FAKE, ("facts_mc", "toylang"), limit=6, repeats=3, out=tmp_path)
    assert m.model == "fake" and m.run_dir.parent == tmp_path and (m.run_dir / "samples.jsonl").is_file()
    jpe = m.j_per_example
    assert jpe.repeats == 3 and len(jpe.per_repeat) == 3 and jpe.interval is not None and jpe.cv is not None
    assert m.tasks["toylang"].energy.j_per_generated_token.repeats == 3
    assert m.tasks["facts_mc"].energy.s_per_example.interval is not None
    assert m.quality["facts_mc"]["accuracy"].n == 6 and m.failures == ()
    again = measure(FAKE, ("facts_mc", "toylang"), limit=6, repeats=3, out=tmp_path, resume=m.run_dir)
    assert again.run_dir == m.run_dir and again.quality == m.quality      # nothing missing: nothing run again


def test_one_repeat_has_no_interval(tmp_path):
    m = measure(FAKE, ("facts_mc",), limit=4, repeats=1, out=tmp_path)
    assert m.j_per_example.value > 0 and m.j_per_example.interval is None


def test_a_bad_configuration_is_refused_before_anything_runs(tmp_path):
    with pytest.raises(HarnessError, match="dtype"):
        measure("tiny-gpt2,dtype=flaot16", ("facts_mc",), out=tmp_path)
    assert not any(tmp_path.iterdir())
