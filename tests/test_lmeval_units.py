"""Units of harness.lmeval: request translation against lm-eval's HFLM, readable metric keys, the
intervals of corpus aggregations, the hub probe, the gate's literal metric names, the extra's pin."""
from __future__ import annotations

import math
import tomllib

import numpy as np
import pytest

from lmeval_tasks import REPO

pytest.importorskip("lm_eval", reason="lm-eval is in the test extra")


@pytest.mark.parametrize("context,continuation", [("Question: 2+2?\nAnswer:", " 4"), ("Answer: ", "B"),
                                                  ("Q\n\n", "yes"), ("", " first"), ("a \t\n", " b")])
def test_requests_move_trailing_context_whitespace_as_hflms_encode_pair_does(context, continuation):
    from harness.lmeval.translate import split_pair
    ctx, cont = split_pair(context, continuation)
    assert ctx + cont == context + continuation and ctx == context.rstrip()
    if context.rstrip() != context:
        assert cont.startswith(context[len(context.rstrip()):])


def test_generation_settings_are_lm_evals_and_sampling_is_refused():
    from harness.errors import HarnessError
    from harness.lmeval.translate import generation_settings
    assert generation_settings("t", {"until": "\n", "max_gen_toks": 7}) == (("\n",), 7)
    assert generation_settings("t", {"until": ["Q:", ""], "max_new_tokens": 9, "do_sample": False}) == (("Q:",), 9)
    assert generation_settings("t", None)[1] == 256                   # HFLM's default max_gen_toks
    with pytest.raises(HarnessError, match="samples its generations"):
        generation_settings("t", {"do_sample": True, "temperature": 0.8})


def test_metric_keys_are_readable_and_round_trip():
    from harness.lmeval.kind import metric_key, parse_key
    assert metric_key("acc", "none") == "acc" and metric_key("exact_match", "strict-match") == "exact_match[strict-match]"
    for metric, filter_name in (("acc", "none"), ("exact_match", "strict-match"), ("pass@1", "create_test")):
        assert parse_key(metric_key(metric, filter_name)) == (metric, filter_name)


@pytest.mark.parametrize("name", ["bleu", "chrf", "chrf++", "ter"])
def test_corpus_aggregations_from_summed_sentence_statistics_equal_lm_evals_own(name):
    from lm_eval.api.registry import get_aggregation
    from harness.lmeval.aggregate import ADDITIVE, replicates
    from harness.metrics.bootstrap import resample_counts
    items = [("la rexo kantas .", " la rexo kantas ."), ("the dog sees the owl .", "the dog sees owl"),
             (["a b c d", "a b c e"], "a b c d"), ("x y z", "q r s"), ("one two three four", "one two three four")]
    items = [(r if isinstance(r, str) else r[0], p) for r, p in items]
    fn = get_aggregation(name)
    stats, value = ADDITIVE[name]
    assert value(stats(items).sum(axis=0)) == pytest.approx(fn(items), abs=1e-9)
    counts = resample_counts(len(items), 5, seed=3)
    expect = [fn([items[i] for i in np.repeat(np.arange(len(items)), row)]) for row in counts]
    assert replicates(items, name, fn, 5, seed=3) == pytest.approx(expect, abs=1e-9)


def test_perplexity_aggregations_resample_as_ratios_of_sums():
    from lm_eval.api.metrics import bits_per_byte, weighted_perplexity
    from harness.lmeval.aggregate import replicates
    from harness.metrics.bootstrap import resample_counts
    items = [(-10.0, 4), (-6.0, 2), (-30.5, 9)]
    counts = resample_counts(3, 4, seed=1)
    for name, fn in (("weighted_perplexity", weighted_perplexity), ("bits_per_byte", bits_per_byte)):
        expect = [fn([items[i] for i in np.repeat(np.arange(3), row)]) for row in counts]
        assert replicates(items, name, fn, 4, seed=1) == pytest.approx(expect)


def test_a_custom_aggregation_is_recomputed_on_each_resample():
    from harness.lmeval.aggregate import replicates
    median = lambda xs: float(np.median(xs))      # noqa: E731 - not a registered aggregation
    reps = replicates([1.0, 2.0, 3.0, 10.0], "custom:test.median", median, 50, seed=0)
    assert len(reps) == 50 and all(math.isfinite(r) for r in reps) and set(reps) <= {1.0, 1.5, 2.0, 2.5, 3.0, 6.0, 6.5, 10.0}


def test_the_hub_probe_says_unreachable_in_seconds(monkeypatch):
    import time
    from harness.lmeval.offline import hub_reachable
    monkeypatch.setenv("HF_ENDPOINT", "https://127.0.0.1:9")          # nothing listens there
    started = time.perf_counter()
    assert hub_reachable(timeout=2.0) is False
    assert time.perf_counter() - started < 3.0


def test_a_gate_metric_name_with_brackets_reads_that_metric_not_the_glob_it_spells():
    """exact_match[strip] as an fnmatch glob matches exact_matchs (one of s, t, r, i, p): the rule
    must read the metric of that exact name when the task reports one."""
    from harness.gate.policy import Metric
    from harness.gate.rules import Target, metric_names
    from results_builder import metric, task
    entry = task({"exact_match[strip]": metric(0.3), "exact_matchs": metric(0.9)}, kind="lm-eval:generate_until")
    target = Target("m", "task", "lm-eval:t", entry)
    assert metric_names(target, Metric("exact_match[strip]")) == ["exact_match[strip]"]
    assert metric_names(target, Metric("exact_match*")) == ["exact_match[strip]", "exact_matchs"]


def test_the_extra_is_pinned_to_the_tested_range_and_the_installed_lm_eval_is_in_it():
    from importlib.metadata import version
    from packaging.requirements import Requirement
    from harness.lmeval import TESTED
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    (pin,) = extras["lm-eval"]
    requirement = Requirement(pin)
    assert requirement.name == "lm-eval" and str(requirement.specifier) == str(Requirement("x" + TESTED).specifier)
    assert version("lm-eval") in requirement.specifier
    assert any(Requirement(r).name == "lm-eval" and Requirement(r).specifier == requirement.specifier
               for r in extras["test"])


def test_the_readmes_lm_eval_section_holds_three_commands_and_a_policy_the_gate_reads():
    import re
    from harness.gate.policy import parse_policy
    import yaml
    text = (REPO / "README.md").read_text()
    section = text[text.index("## lm-eval tasks"):text.index("## Metrics")]
    commands = re.search(r"```bash\n(.*?)```", section, re.S).group(1).strip().splitlines()
    assert len(commands) == 3 and "[lm-eval]" in commands[0]
    assert "lm-eval:" in commands[1] and "--country" in commands[1] and commands[2].split()[0].endswith("harness")
    policy = parse_policy(yaml.safe_load(re.search(r"```yaml\n(.*?)```", section, re.S).group(1)), "README")
    assert {r.quantity.name for r in policy.rules} == {"acc", "exact_match[strict-match]", "j_per_example"}
    assert "Refused" in section and "--trust-task-code" in section
