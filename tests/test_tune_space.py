"""harness.tune's pure parts and its refusals: the knobs as a pasteable --model spec, the flags'
parsing, the floor's constraint, the Pareto front and the best point, the gate policy snippet, the
escaped page, and bad input (one line, exit 2)."""
from __future__ import annotations

import importlib.util

import pytest

from harness.cli import main
from harness.errors import HarnessError
from harness.spec import ModelSpec, RuntimeOptions
from harness.tune import front, page
from harness.tune.floor import Floor, MetricFloor
from harness.tune.space import NONE, Config, build_space, command_of, spec_text


def test_spec_text_replaces_the_recipe_and_keeps_the_rest():
    base = ModelSpec.parse("mine=hf-causal:/models/x,revision=main,dtype=float16,prune=0.3")
    text = spec_text(base, Config(batch_size=8, dtype="bfloat16", quantize="int8-dynamic", prune=0.25))
    assert text == "mine=hf-causal:/models/x,revision=main,dtype=bfloat16,quantize=int8-dynamic,prune=0.25"
    again = ModelSpec.parse(text)
    assert again.name == "mine" and again.options["revision"] == "main"
    assert spec_text(ModelSpec.parse("tiny-gpt2"), Config()) == "tiny-gpt2"
    line = command_of("a b,dtype=float32", Config(batch_size=4), ("facts_mc",), 32)
    assert line == "harness run --model 'a b,dtype=float32' --tasks facts_mc --batch-size 4 --limit 32"


def test_build_space_parses_each_knob_and_refuses_bad_values():
    base, runtime = ModelSpec.parse("tiny-gpt2"), RuntimeOptions(device="cpu")
    space = build_space(base, runtime, batch_sizes="2,8,8", dtypes="fp32,bf16", quantize="none,int8-dynamic",
                        prune="0,0.5", power_limits="150,200")
    assert space.batch_sizes == (2, 8) and space.dtypes == ("float32", "bfloat16")
    assert space.quantize == (NONE, "int8-dynamic") and space.prune == (0.0, 0.5) and space.power_limits_w == (150, 200)
    assert "float16" not in build_space(base, runtime).dtypes        # known to be slow on a CPU: left out by default
    assert build_space(base, runtime).power_limits_w == ()           # never searched unless asked for
    for kwargs, needle in [({"batch_sizes": "0"}, "--batch-sizes"), ({"batch_sizes": "4,"}, "empty entry"),
                           ({"dtypes": "fp8"}, "--dtypes: 'fp8'"), ({"quantize": "int4"}, "--quantize: 'int4'"),
                           ({"prune": "1.5"}, "--prune: '1.5'"), ({"prune": "nan"}, "--prune: 'nan'"), ({"power_limits": "x"}, "--power-limits")]:
        with pytest.raises(HarnessError, match=needle):
            build_space(base, runtime, **kwargs)


def _metric(lo, hi, passed, beyond=False):
    return MetricFloor("t", "accuracy", 0.6, 0.6, 0.0, (lo, hi), 32, passed, beyond, "")


def test_floor_constraint_is_feasible_exactly_when_every_metric_passes():
    assert Floor(0.05, (_metric(-0.04, 0.02, True),)).constraint() == pytest.approx(-0.01)
    failing = Floor(0.05, (_metric(-0.04, 0.02, True), _metric(-0.09, 0.0, False)))
    assert not failing.passed and failing.constraint() == pytest.approx(0.04)
    assert Floor(0.05, (_metric(None, None, False),)).constraint() == 1.0
    assert not Floor(0.05, ()).passed


def _point(trial, j, q, feasible=True, per_repeat=None):
    return {"trial": trial, "spec": f"m{trial}<b>", "command": f"harness run --model m{trial}", "feasible": feasible,
            "quality_mean": q, "quality_ci95": [q - 0.1, q + 0.1],
            "quality": {"t": {"accuracy": {"value": q, "ci95": [q - .1, q + .1], "n": 32, "higher_is_better": True}}},
            "j_per_example": {"value": j, "ci95": [j * 0.9, j * 1.1], "per_repeat": per_repeat or [j, j * 1.01, j * 0.99]},
            "j_per_correct": {"value": j / q}, "floor": {"passed": feasible}}


def test_pareto_front_best_point_and_its_saving():
    full = _point(None, 10.0, 0.6)
    points = [full, _point(0, 5.0, 0.6), _point(1, 4.0, 0.55), _point(2, 6.0, 0.5), _point(3, 1.0, 0.7, feasible=False)]
    pareto = front.pareto(points, "j_per_example")
    assert [p["trial"] for p in pareto] == [1, 0]            # trial 2 and the full model are dominated; 3 infeasible
    best = front.best(pareto, full, "j_per_example")
    assert best["trial"] == 1 and best["saving_pct"] == pytest.approx(60.0) and best["saving_p"] < 0.001
    assert front.best([], full, "j_per_example") is None
    assert [p["trial"] for p in front.pareto(points, "j_per_correct")] == [1, 0]


def test_policy_snippet_is_a_policy_the_gate_reads(tmp_path):
    from harness.gate.policy import parse_policy
    import yaml
    chosen, full = _point(1, 4.0, 0.55), _point(None, 10.0, 0.6)
    text = front.policy_text(chosen, full, 0.05, "reports/FULL")
    policy = parse_policy(yaml.safe_load(text))
    names = [r.name for r in policy.rules]
    assert names == ["t accuracy non-inferior to the full model (margin 0.05)", "t accuracy floor",
                     "J/example budget of the tuned configuration"]
    raw = yaml.safe_load(text)["rules"]
    assert raw[0]["baseline"] == {"max_drop": 0.05, "judge": "ci"} and raw[1]["min"] == pytest.approx(0.55)
    assert raw[2]["max"] == pytest.approx(4.4)
    assert "--baseline reports/FULL" in text


def test_policy_snippet_keeps_a_hostile_name_in_its_comment():
    """A model name holding a line break ended the YAML comment: its next line became policy keys."""
    import yaml
    for brk in ("\n", "\r", "\u2028", "\x85"):
        chosen = _point(1, 4.0, 0.55) | {"spec": f"ev{brk}rules: []{brk}il=tiny-gpt2"}
        full = _point(None, 10.0, 0.6) | {"spec": f"ev{brk}version: 9{brk}il=tiny-gpt2"}
        text = front.policy_text(chosen, full, 0.05, "reports/FULL")
        loaded = yaml.safe_load(text)
        assert loaded["version"] == 1 and len(loaded["rules"]) == 3, (brk, text)
        assert all(line.startswith("#") for line in text.split("\n")[:4])


def test_page_escapes_every_string_and_needs_no_network():
    full = _point(None, 10.0, 0.6)
    trial = {"number": 0, "state": "complete", "spec": "<script>alert(1)</script>", "batch_size": 4,
             "point": _point(0, 5.0, 0.6), "note": "<img src=x>"}
    html = page.render({"full": full, "trials": [trial], "pareto": [trial["point"]], "best": trial["point"],
                        "settings": {"objective": "j_per_example", "model": "<m>"}})
    assert "<script>" not in html and "<img" not in html and "&lt;script&gt;" in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in html
    assert html.count("<circle") == 2


@pytest.mark.parametrize("args, needle", [
    (["--tasks", "facts_mc,"], "--tasks 'facts_mc,' holds an empty name"),
    (["--tasks", "facts_mc", "--dtypes", "fp8"], "--dtypes: 'fp8'"),
    (["--tasks", "facts_mc", "--prune", "2"], "--prune: '2' is not a fraction"),     # not "model 'm'": no such model
    (["--tasks", "facts_mc", "--power-limits", "1"], "power"),      # no GPU here; out of range on any GPU
    (["--tasks", "no_such_task", "--trials", "1"], "no_such_task"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, needle):
    code = main(["tune", "--model", "tiny-gpt2", "--limit", "8", "--out", str(tmp_path / "t"), *args])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("harness: error:")]
    assert code == 2 and len(lines) == 1 and needle in lines[0] and "fix:" in lines[0], err
    assert "Traceback" not in err


def test_without_optuna_tune_exits_2_with_the_install_line(tmp_path, capsys, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "optuna" else real(name, *a))
    code = main(["tune", "--model", "tiny-gpt2", "--tasks", "facts_mc", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "harness tune needs Optuna" in err and "pip install -e '.[tune]'" in err


def test_resume_with_other_settings_is_refused(tmp_path):
    from harness.tune import Settings
    from harness.tune.space import Space
    from harness.tune.study import open_study
    first = Settings(model="tiny-gpt2", tasks=("facts_mc",), out=tmp_path, space=Space(), margin=0.05)
    open_study(Settings(model="tiny-gpt2", tasks=("facts_mx",), out=tmp_path, space=Space()))   # a typo, nothing measured
    study = open_study(first)                                  # the corrected command is not refused
    study.set_user_attr("full", {"run_dir": "x"})              # something was measured under these settings
    with pytest.raises(HarnessError, match=r"holds a tune with other settings \(margin differ\)"):
        open_study(Settings(model="tiny-gpt2", tasks=("facts_mc",), out=tmp_path, space=Space(), margin=0.01))
    open_study(Settings(model="tiny-gpt2", tasks=("facts_mc",), out=tmp_path, space=Space(), margin=0.05, trials=9))


def test_both_samplers_read_the_floor_as_a_constraint(tmp_path):
    import optuna
    from harness.tune import Settings
    from harness.tune.space import Space
    from harness.tune.study import _constraints, open_study
    for sampler, kind in (("tpe", optuna.samplers.TPESampler), ("nsga2", optuna.samplers.NSGAIISampler)):
        (tmp_path / sampler).mkdir()
        study = open_study(Settings(model="tiny-gpt2", tasks=("t",), out=tmp_path / sampler, space=Space(),
                                    sampler=sampler))
        assert isinstance(study.sampler, kind)
    trial = optuna.trial.create_trial(values=[1.0, 0.5], user_attrs={"constraint": [-0.01]},
                                      distributions={}, params={})
    assert _constraints(trial) == [-0.01]
