"""harness.tune's trial path in one process: the sequential floor test prunes a configuration that
already fails the floor on a prefix of the items, and the power-limit knob sets and restores the
limit on the synthetic NVML (never on a real GPU)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from fake_nvml import FakeClock, FakeNvml
from harness.errors import HarnessError
from harness.spec import MeterOptions, RuntimeOptions
from harness.tune import Settings, tune
from harness.tune.space import NONE, Space


class SettableNvml(FakeNvml):
    """The synthetic NVML with a settable power limit (milliwatts), recording every change."""

    def __init__(self, limit_mw: int = 700_000, low_mw: int = 100_000, high_mw: int = 700_000, **kw):
        super().__init__(FakeClock(), [(0.0, 100.0)], **kw)
        self.limit = {i: limit_mw for i in range(self.count)}
        self.range = (low_mw, high_mw)
        self.set_calls: list[tuple[int, int]] = []

    def nvmlDeviceGetPowerManagementLimit(self, h):
        return self.limit[h]

    def nvmlDeviceGetPowerManagementLimitConstraints(self, h):
        return self.range

    def nvmlDeviceSetPowerManagementLimit(self, h, mw):
        self.set_calls.append((h, mw))
        self.limit[h] = mw


def _settings(out: Path, space: Space, **kw) -> Settings:
    return Settings(model="tiny-gpt2", tasks=("facts_mc",), out=out, space=space, limit=32, repeats=1,
                    runtime=RuntimeOptions(device="cpu"), meters=MeterOptions(names=("host",)), **kw)


def _folders(out: Path) -> list[Path]:
    return sorted(p for p in out.iterdir() if p.is_dir() and p.name != "prefix")


def test_pruner_stops_a_trial_that_fails_the_floor_on_the_prefix(tmp_path):
    space = Space(batch_sizes=(32,), dtypes=("float32",), quantize=(NONE,), prune=(0.9,))   # 0.59 -> ~0.13 accuracy
    result = tune(_settings(tmp_path, space, trials=1), say=lambda t: None)
    trial = result["trials"][0]
    assert trial["state"] == "pruned", trial
    assert "fails the floor on the first 16 items" in trial["note"]
    look = trial["looks"][0]
    assert look["items"] == 16 and look["clearly_fails"] and not look["passed"]
    accuracy = next(m for m in look["metrics"] if m["metric"] == "accuracy")
    assert accuracy["ci95"][1] < -0.05            # the whole interval beyond the margin
    assert len(_folders(tmp_path)) == 1           # only the full model was measured: the trial cost a prefix pass
    assert result["best"]["is_full_model"]        # nothing else passed: the full model is what is left
    assert result["pareto"] == [result["full"]]


def test_power_limit_knob_sets_and_restores_on_the_synthetic_nvml(tmp_path):
    nvml = SettableNvml(count=2)
    space = Space(batch_sizes=(32,), dtypes=("float32",), quantize=(NONE,), prune=(0.0,), power_limits_w=(150, 250))
    result = tune(_settings(tmp_path, space, trials=2, looks=(), nvml=nvml), say=lambda t: None)
    measured = [t for t in result["trials"] if t["state"] != "redrawn"]      # a configuration drawn again is not run
    asked = [t["power_limit_w"] for t in measured]
    assert sorted(asked) == [150, 250] and all(t["state"] == "complete" for t in measured)
    expected = []
    for watts in asked:                           # each trial: both GPUs set, then both restored
        expected += [(0, watts * 1000), (1, watts * 1000), (0, 700_000), (1, 700_000)]
    assert nvml.set_calls == expected
    assert nvml.limit == {0: 700_000, 1: 700_000}
    assert result["power_limits_found_w"] == {"0": 700.0, "1": 700.0}
    assert "power limit at" in measured[0]["command"]


def test_power_limit_restored_when_the_trial_raises(tmp_path):
    from harness.tune import power
    nvml = SettableNvml()
    with pytest.raises(RuntimeError):
        with power.applied(200, nvml):
            assert nvml.limit[0] == 200_000
            raise RuntimeError("the trial failed")
    assert nvml.limit[0] == 700_000
    with power.applied(None, object()):          # no flag: NVML is not even opened
        pass


def test_power_limits_outside_the_range_are_refused_before_any_run(tmp_path):
    space = Space(batch_sizes=(32,), power_limits_w=(50, 150))
    with pytest.raises(HarnessError, match="outside GPU 0's range 100-700 W"):
        tune(_settings(tmp_path, space, trials=1, nvml=SettableNvml()))
    assert not (tmp_path / "tune.sqlite").exists()


def test_power_limit_that_cannot_be_set_is_a_one_line_error(tmp_path):
    class NoPermission(SettableNvml):
        def nvmlDeviceSetPowerManagementLimit(self, h, mw):
            raise RuntimeError("Insufficient Permissions")
    from harness.tune import power
    with pytest.raises(HarnessError, match="cannot set the GPU power limit to 200 W"):
        with power.applied(200, NoPermission()):
            pass


def test_no_setting_changes_without_the_flag(tmp_path):
    class Untouchable(SettableNvml):
        def nvmlDeviceSetPowerManagementLimit(self, h, mw):
            raise AssertionError("a power limit was set without --power-limits")
    space = Space(batch_sizes=(32,), dtypes=("float32",), quantize=(NONE,), prune=(0.0,))
    result = tune(_settings(tmp_path, space, trials=1, looks=(), nvml=Untouchable()), say=lambda t: None)
    assert result["trials"][0]["state"] == "complete" and result["trials"][0]["power_limit_w"] is None
    assert json.loads((tmp_path / "tune.json").read_text())["best"]["spec"].startswith("tiny-gpt2")
