"""When no configuration beats the full model at the floor (every trial fails it or is pruned, or
costs more), `harness tune` and tune.html say so and name the full model to keep: never a "best"
configuration with a 0.0% saving; and no configuration measured twice: no trial beyond the space's
size, and a configuration the sampler draws again is not run (an untried one is)."""
from __future__ import annotations

from harness.cli import main
from harness.tune import front, page


def _full():
    return {"trial": None, "spec": "ev<b>il=tiny-gpt2", "command": "harness run --model 'ev<b>il=tiny-gpt2'",
            "feasible": True, "quality_mean": 0.5, "quality_ci95": [0.4, 0.6], "quality": {},
            "j_per_example": {"value": 4.0, "ci95": [3.5, 4.5], "per_repeat": [4.0]},
            "j_per_correct": {"value": 8.0}, "run_dir": "full"}


def _failed(n):
    point = dict(_full(), trial=n, spec=f"t{n}", feasible=False, j_per_example={"value": 1.0, "ci95": [0.9, 1.1]})
    return {"number": n, "state": "complete", "spec": f"t{n}", "point": point, "note": ""}


def _result():
    full, trials = _full(), [_failed(0), _failed(1)]
    pareto = front.pareto([full, *(t["point"] for t in trials)], "j_per_example")
    return {"full": full, "trials": trials, "pareto": pareto, "best": front.best(pareto, full, "j_per_example"),
            "settings": {"objective": "j_per_example"}}


def test_page_says_no_configuration_passed_when_the_full_model_is_best():
    html = page.render(_result())
    assert "No configuration passed the floor with less j_per_example than the full model" in html
    assert "Best:" not in html and "saving" not in html and "ev&lt;b&gt;il" in html and "ev<b>il" not in html


def test_cli_says_no_configuration_passed_when_the_full_model_is_best(tmp_path, capsys, monkeypatch):
    import harness.tune
    monkeypatch.setattr(harness.tune, "tune", lambda settings: _result())
    code = main(["tune", "--model", "tiny-gpt2", "--tasks", "facts_mc", "--out", str(tmp_path / "t")])
    out = capsys.readouterr().out
    assert code == 0 and "no configuration passed the floor with less j_per_example than the full model" in out
    assert "best:" not in out and "% less" not in out


def test_trials_beyond_the_space_size_are_not_run(tmp_path, monkeypatch, capsys):
    """A space of one configuration with --trials 3 measured the same configuration three times."""
    import harness.tune.study as studies
    import harness.tune.trial as trial
    from harness.spec import ModelSpec, RuntimeOptions
    from harness.tune import Settings, tune
    from harness.tune.space import build_space
    space = build_space(ModelSpec.parse("tiny-gpt2"), RuntimeOptions(device="cpu"), batch_sizes="4",
                        dtypes="float32", quantize="none", prune="0,0.5")
    assert space.size == 2
    monkeypatch.setattr(trial, "measure_full", lambda settings: _full())
    ran = []
    monkeypatch.setattr(studies, "run_one", lambda study, settings, full, say: ran.append(1) or True)
    monkeypatch.setattr("harness.tune.summarize", lambda *a: _result() | {"best": None})
    tune(Settings(model="tiny-gpt2", tasks=("facts_mc",), out=tmp_path / "t", space=space, trials=3))
    assert len(ran) == 2 and "the space holds 2 configuration(s): 2 trial(s), not 3" in capsys.readouterr().out


def test_a_configuration_the_sampler_draws_again_is_not_measured_twice(tmp_path, monkeypatch, capsys):
    """TPE re-drew a measured configuration: a space of two with --trials 2 measured one of them twice."""
    import json

    import optuna

    import harness.tune.study as studies
    import harness.tune.trial as trial
    from harness.spec import ModelSpec, RuntimeOptions
    from harness.tune import Settings, tune
    from harness.tune.space import build_space

    class FirstChoice(optuna.samplers.RandomSampler):          # a sampler that always draws the same
        def sample_independent(self, study, trial, name, distribution):
            return distribution.choices[0]

    monkeypatch.setattr(studies, "_new_sampler", lambda optuna, settings: FirstChoice(seed=0))
    monkeypatch.setattr(trial, "measure_full", lambda settings: _full())
    measured = []

    def run_trial(t, settings, full):
        measured.append(settings.space.suggest(t))
        return 1.0, 0.5

    monkeypatch.setattr(trial, "run_trial", run_trial)
    space = build_space(ModelSpec.parse("tiny-gpt2"), RuntimeOptions(device="cpu"), batch_sizes="4",
                        dtypes="float32", quantize="none", prune="0,0.5")
    result = tune(Settings(model="tiny-gpt2", tasks=("facts_mc",), out=tmp_path / "t", space=space, trials=2))
    assert sorted(c.prune or 0.0 for c in measured) == [0.0, 0.5]
    states = [t["state"] for t in result["trials"]]
    assert states == ["complete", "redrawn", "complete"], states
    assert "drew trial 0's configuration again" in capsys.readouterr().out
    assert json.loads((tmp_path / "t" / "tune.json").read_text())["trials"][1]["note"].startswith("drew trial 0")


def test_a_full_model_with_no_correct_answer_under_j_per_correct_is_one_line_before_any_trial(tmp_path, monkeypatch,
                                                                                           capsys):
    """Every trial failed on the reference's missing J/correct and the tune said only "no
    configuration passed the floor"."""
    import harness.tune.study as studies
    import harness.tune.trial as trial
    full = _full() | {"j_per_correct": {"value": None, "unit": "J/correct", "reason": "no answer was correct"}}
    monkeypatch.setattr(trial, "measure_full", lambda settings: full)
    ran = []
    monkeypatch.setattr(studies, "run_one", lambda *a: ran.append(1) or True)
    code = main(["tune", "--model", "tiny-gpt2", "--tasks", "facts_mc", "--objective", "j_per_correct",
                 "--out", str(tmp_path / "t")])
    err = capsys.readouterr().err
    assert code == 2 and not ran, err
    assert "j_per_correct is not measured (no answer was correct)" in err and "--objective j_per_example" in err


def _best(p):
    point = dict(_full(), trial=1, spec="tiny-gpt2,prune=0.5", command="harness run --model tiny-gpt2,prune=0.5",
                 j_per_example={"value": 2.0, "ci95": [1.9, 2.1], "unit": "J/example", "source": "estimated"})
    return point | {"saving_pct": 50.0, "saving_p": p, "is_full_model": False}


def test_cli_best_line_names_the_energy_source_and_the_saving_test(tmp_path, capsys, monkeypatch):
    """It printed "50.0% less than the full model" with no source and no test, even from one repeat."""
    import harness.tune
    for p, needle in ((None, "not tested: needs --repeats 2 or more"), (0.3, "not significant: Welch p=0.3"),
                      (0.001, "(Welch p=0.001)")):
        monkeypatch.setattr(harness.tune, "tune", lambda settings: {"best": _best(p)})
        assert main(["tune", "--model", "tiny-gpt2", "--tasks", "facts_mc", "--out", str(tmp_path / "t")]) == 0
        line = capsys.readouterr().out.splitlines()[0]
        assert "estimated" in line and "50.0% less than the full model" in line and needle in line, line
