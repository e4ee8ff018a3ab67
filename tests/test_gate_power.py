"""harness.gate.power and the rules that use it: every metric baseline rule states its minimum
detectable effect (MDE) at 80% power with its n, a rule whose allowed drop is below it says so (the
policy's ``underpowered`` decides the verdict), and ``judge: test`` corrects its p-values over its own
Holm family, so unrelated metrics or models never weaken it."""
from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

import numpy as np
import pytest

import results_builder as rb
from support import write_task
from harness.cli import main
from harness.compare.build import paired_stat
from harness.gate.policy import parse_policy
from harness.gate.power import exact_min_discordant, mde_mcnemar, mde_normal
from harness.gate.rules import evaluate
from harness.results.comparison import PairedStat

TESTS = Path(__file__).resolve().parent


# the formulas --------------------------------------------------------------------------------------

def test_connors_formula_solved_for_the_difference_gives_back_its_sample_size():
    """n = [z(1-α/2)√ψ + z(power)√(ψ-δ²)]²/δ² (Connor 1987) at the δ we return, for an observed ψ."""
    from statistics import NormalDist
    z = NormalDist().inv_cdf
    for n, psi in ((100, 0.2), (400, 0.1), (1000, 0.3)):
        d = mde_mcnemar(n, psi, 0.05)
        needed = (z(0.975) * math.sqrt(psi) + z(0.8) * math.sqrt(psi - d * d)) ** 2 / d ** 2
        assert needed == pytest.approx(n, rel=1e-6)
    assert mde_mcnemar(1000, 0.3, 0.05) > mde_mcnemar(1000, 0.1, 0.05)        # more discordance, less power
    assert mde_mcnemar(400, 0.1, 0.05 / 10) > mde_mcnemar(400, 0.1, 0.05)      # a stricter level, less power


def test_the_exact_test_floor_and_hopeless_sizes():
    assert exact_min_discordant(0.05) == 6                   # 2 * 0.5**6 = 0.031 < 0.05 <= 2 * 0.5**5
    assert exact_min_discordant(0.01) == 8
    assert mde_mcnemar(8, 0.0, 0.05) == pytest.approx(6 / 8)  # six one-way flips out of eight items at least
    assert mde_mcnemar(5, 0.0, 0.05) is None                  # five items can never give p < 0.05
    assert 0.2 < mde_mcnemar(32, 0.0, 0.05) < 0.26            # n = 32: about a quarter of the items


def test_the_normal_mde_is_2_8_standard_errors():
    assert mde_normal(1.0, 0.05) == pytest.approx(1.959964 + 0.841621, rel=1e-6)


# a planted 5-point drop at n = 32 ------------------------------------------------------------------

def _planted_stat(n: int = 32, drop: float = 5.0, seed: int = 7) -> PairedStat:
    """Per-item scores (0-100, e.g. sentence chrF) of a baseline and a variant that loses exactly
    ``drop`` points on average, through the comparison's own paired bootstrap."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(30, 90, n)
    noise = rng.normal(0, 12, n)
    other = base - drop + (noise - noise.mean())
    rows = lambda x: np.column_stack([x, np.ones(n)])        # noqa: E731
    stat = paired_stat(rows(base), rows(other), lambda t: t[0] / t[1], binary=False, higher_is_better=True, seed=1,
                       ar_trials=0)
    return PairedStat.model_validate({**stat, "p_holm": stat["p_value"]})


def _policy(*rules: dict) -> object:
    return parse_policy({"version": 1, "rules": list(rules)})


def _comparison(stats: dict, model: str = "m") -> dict:
    return rb.comparison({model: {"tasks": stats}}, baseline=model,
                         runs={model: {"run_id": "run-b", "model": model}}).to_json()


def _run(tasks: dict, models=("m",)) -> dict:
    return rb.results("run-a", {m: rb.model(tasks={t: rb.task({k: rb.metric(50.0) for k in ms}, kind="generate")
                                                   for t, ms in tasks.items()}) for m in models}).to_json()


def test_a_planted_five_point_drop_at_n_32_reports_its_minimum_detectable_effect():
    stat = _planted_stat()
    assert stat.delta == pytest.approx(-5.0) and stat.n == 32
    rules = [{"name": "tight", "select": {"task": "t"}, "metric": "score", "baseline": {"max_drop": 2, "judge": "test"}},
             {"name": "loose", "select": {"task": "t"}, "metric": "score", "baseline": {"max_drop": 20, "judge": "test"}},
             {"name": "ci", "select": {"task": "t"}, "metric": "score", "baseline": {"max_drop": 2}}]
    out = {o.name: o for o in evaluate(_policy(*rules), _run({"t": ["score"]}), None, _comparison({"t": {"score": stat}}))}
    tight, loose, ci = out["tight"], out["loose"], out["ci"]
    expected = (1.959964 + 0.841621) * stat.sd_delta                         # (z(.975) + z(.8)) x paired SD
    for o in (tight, loose, ci):
        assert o.power["n"] == 32 and o.power["power"] == 0.8 and o.power["mde"] == pytest.approx(expected, rel=1e-5)
        assert "paired bootstrap SD" in o.power["method"] and "Bloom 1995" in o.power["method"]
    assert 3 < expected < 8                                                  # about what a 5-point drop needs
    assert tight.power["margin"] == 2 and tight.power["detectable"] is False
    assert "cannot detect its own max_drop 2" in tight.reason and "80% power at n=32" in tight.reason
    assert loose.power["detectable"] is True and loose.verdict == "pass" and "cannot detect" not in loose.reason
    assert ci.verdict == "fail" and "cannot detect its own max_drop 2" in ci.reason      # the CI reaches past -2


@pytest.mark.parametrize("handling, verdict", [(None, "warn"), ("warn", "warn"), ("fail", "fail"), ("ignore", "pass")])
def test_the_policy_decides_what_an_underpowered_pass_is(handling, verdict):
    """No drop at all, n = 32 0/1 items, max_drop 0.05: McNemar cannot see 0.05 at that n."""
    b = np.column_stack([np.array([1.0, 0.0, 1.0, 1.0] * 8), np.ones(32)])
    o = b.copy()
    o[0, 0], o[1, 0] = 0.0, 1.0                                               # one flip each way
    raw = paired_stat(b, o, lambda t: t[0] / t[1], binary=True, higher_is_better=True, seed=1)
    stat = PairedStat.model_validate({**raw, "p_holm": raw["p_value"]})
    base = {"max_drop": 0.05, "judge": "test"} | ({"underpowered": handling} if handling else {})
    rule = {"name": "acc", "select": {"task": "t"}, "metric": "accuracy", "baseline": base}
    outcome = evaluate(_policy(rule), _run({"t": ["accuracy"]}), None, _comparison({"t": {"accuracy": stat}}))[1]
    assert outcome.verdict == verdict
    assert outcome.power["detectable"] is False and 0.2 < outcome.power["mde"] < 0.3
    assert "McNemar, discordant rate 0.0625 (Connor 1987)" == outcome.power["method"]
    assert "cannot detect its own max_drop 0.05" in outcome.reason and "a pass is no evidence" in outcome.reason


def test_a_probe_percentage_scales_the_mde_to_its_units():
    b = np.column_stack([np.array([100.0, 0.0] * 50), np.ones(100)])
    o = b.copy()
    o[:10, 0] = 100.0 - o[:10, 0]
    raw = paired_stat(b, o, lambda t: t[0] / t[1], binary=True, higher_is_better=False, seed=1, scale=100.0)
    stat = PairedStat.model_validate({**raw, "p_holm": raw["p_value"]})
    policy = _policy({"name": "p", "select": {"probe": "crows_pairs"}, "metric": "stereotype_preference_pct",
                      "baseline": {"max_drop": 5}})
    run = rb.results("run-a", {"m": rb.model(probes={"crows_pairs": rb.probe("crows_pairs", {
        "stereotype_preference_pct": rb.metric(50.0)})})}).to_json()
    comp = rb.comparison({"m": {"probes": {"crows_pairs": {"stereotype_preference_pct": stat}}}}, baseline="m").to_json()
    power = evaluate(policy, run, None, comp)[1].power
    assert power["mde"] == pytest.approx(100 * mde_mcnemar(100, 0.1, 0.05))


def test_identical_outputs_plan_with_the_baselines_spread_and_say_so():
    b = np.column_stack([np.linspace(20, 80, 32), np.ones(32)])
    raw = paired_stat(b, b.copy(), lambda t: t[0] / t[1], binary=False, higher_is_better=True, seed=1, ar_trials=0)
    assert raw["sd_delta"] == 0 and raw["sd_baseline"] > 0 and raw["p_value"] == 1.0
    stat = PairedStat.model_validate({**raw, "p_holm": 1.0})
    rule = {"name": "s", "select": {"task": "t"}, "metric": "score", "baseline": {"max_drop": 1, "judge": "test"}}
    outcome = evaluate(_policy(rule), _run({"t": ["score"]}), None, _comparison({"t": {"score": stat}}))[1]
    assert outcome.power["mde"] == pytest.approx((1.959964 + 0.841621) * math.sqrt(2) * raw["sd_baseline"], rel=1e-5)
    assert "no paired spread" in outcome.power["method"] and outcome.verdict == "warn"


# the Holm family of a rule -------------------------------------------------------------------------

def _many(p_bleu: float, others: int, other_p: float = 0.001, models=("m",)) -> tuple[dict, dict]:
    """A comparison where toylang BLEU fell 54 points (bootstrap p ``p_bleu``) beside ``others``
    unrelated statistics, for each model of ``models``."""
    drop = rb.stat(54.9, 0.85, (-60.0, -48.0), n=32, p_holm=p_bleu, test="paired_bootstrap", resamples=1000,
                   sd_delta=3.0)
    extra = {f"x{i}": rb.stat(0.5, 0.5, (-0.1, 0.1), n=32, p_holm=other_p, test="paired_bootstrap", resamples=1000,
                              sd_delta=0.05) for i in range(others)}
    comp = rb.comparison({m: {"tasks": {"toylang": {"bleu": drop}, "other": extra}} for m in models},
                         baseline=models[0]).to_json()
    run = rb.results("run-a", {m: rb.model(tasks={"toylang": rb.task({"bleu": rb.metric(0.85)}, kind="generate"),
                                                  "other": rb.task({k: rb.metric(0.5) for k in extra})})
                               for m in models}).to_json()
    return run, comp


BLEU_RULE = {"name": "bleu", "select": {"task": "toylang"}, "metric": "bleu", "baseline": {"max_drop": 1, "judge": "test"}}


def test_a_54_point_bleu_drop_fires_however_many_other_metrics_the_comparison_holds():
    """Holm over the whole comparison (36 other p-values) made p 0.001 into 0.037, above an alpha of
    0.01; over the rule's own family (one statistic) it stays 0.001."""
    run, comp = _many(0.000999, others=36)
    rule = {**BLEU_RULE, "baseline": {"max_drop": 1, "judge": "test", "alpha": 0.01}}
    families: dict = {}
    outcome = evaluate(_policy(rule), run, None, comp, families=families)[1]
    assert outcome.verdict == "fail" and "Holm p 0.000999: a significant drop" in outcome.reason
    assert families["bleu"]["size"] == 1 and families["bleu"]["members"] == ["m/toylang/bleu"]


def test_unrelated_metrics_and_models_do_not_weaken_a_rule():
    rule = {**BLEU_RULE, "select": {"model": "m", "task": "toylang"}}
    run, comp = _many(0.02, others=0)
    alone = evaluate(_policy(rule), run, None, comp)[1]
    run, comp = _many(0.02, others=60, models=("m", "m2", "m3"))
    crowded = evaluate(_policy(rule), run, None, comp)[1]
    assert alone.reason == crowded.reason and alone.verdict == crowded.verdict == "fail"
    assert alone.power == crowded.power                                      # the level is the family's: same size


def test_a_rule_selecting_more_has_a_larger_family_and_says_so():
    run, comp = _many(0.02, others=3, other_p=0.5)
    rule = {"name": "all", "select": {"task": "*"}, "metric": "*", "baseline": {"max_drop": 1, "judge": "test"}}
    families: dict = {}
    outcomes = evaluate(_policy(rule), run, None, comp, families=families)
    assert families["all"]["size"] == 4 and "nothing else" in families["all"]["definition"]
    bleu = next(o for o in outcomes if o.target == "m/toylang/bleu")
    assert "Holm p 0.08: no significant change" in bleu.reason and bleu.power["alpha"] == pytest.approx(0.05 / 4)


# end to end: `harness gate` on real runs ------------------------------------------------------------

@pytest.fixture
def planted(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))
    monkeypatch.chdir(TESTS)
    rows = [{"id": f"q{i}", "text": f"item {i}: label {'a' if i % 2 else 'b'}", "label": "a" if i % 2 else "b"}
            for i in range(32)]
    write_task(tmp_path / "tasks" / "t", "t", rows, kind="classify", prompt="{text}", answer="label", labels=["a", "b"],
               metrics=["accuracy"])
    return tmp_path


def _harness_run(capsys, root: Path, wrong: str) -> Path:
    code = main(["run", "--model", f"m=py:fake_models:PlantedFlips,wrong={wrong}", "--tasks", "t", "--tasks-dir",
                 str(root / "tasks"), "--no-probes", "--no-meters", "--no-progress", "--no-history",
                 "--out", str(root / "reports")])
    capsys.readouterr()
    assert code == 0
    return max((root / "reports").iterdir(), key=lambda p: p.stat().st_mtime_ns)


def test_harness_gate_states_power_and_family_in_every_output(planted, capsys):
    base = _harness_run(capsys, planted, "0")
    cand = _harness_run(capsys, planted, "0-1-2")                     # 2 of 32 more wrong: 6.25 points down
    policy = planted / "gate.yaml"
    policy.write_text(textwrap.dedent("""\
        version: 1
        rules:
          - {name: acc, select: {task: t}, metric: accuracy, baseline: {max_drop: 0.05, judge: test}}
        """))
    code = main(["gate", str(cand), "--policy", str(policy), "--baseline", str(base),
                 "--junit", str(planted / "g.xml"), "--markdown", str(planted / "g.md")])
    out = capsys.readouterr().out
    assert code == 0                                                   # the default: warn
    record = json.loads((cand / "results.json").read_text())["gate"]
    rule = record["rules"][1]
    assert rule["verdict"] == "warn" and rule["power"]["detectable"] is False and rule["power"]["n"] == 32
    assert record["families"]["acc"]["size"] == 1
    assert "MDE 0.228 (n=32) < max_drop" in out and "Holm family of rule 'acc': 1 p-value" in out
    assert "MDE 0.228 (n=32) &lt; max\\_drop" in (planted / "g.md").read_text()
    assert "the smallest drop this test detects with 80% power at n=32 is 0.2277" in (planted / "g.xml").read_text()
