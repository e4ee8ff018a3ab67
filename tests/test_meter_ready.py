"""The GPU idle baseline is taken on a thread while the run imports its model libraries, and no
model is built (nothing touches the GPU) before it is done."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest

from support import REPO
from fake_nvml import FakeClock, FakeNvml
from harness.meters.nvml import NvmlMeter
from harness.meters.session import MeterSession
from harness.registry import Registry
from harness.spec import ModelSpec, RuntimeOptions

POWER = [(0.0, 50.0), (5.0, 300.0)]


def gated_meter():
    """A background-baseline meter whose fake clock only moves while ``gate`` is set."""
    clock, gate = FakeClock(), threading.Event()

    def sleep(seconds: float) -> None:
        gate.wait()
        clock.sleep(seconds)
    meter = NvmlMeter(period_s=0.1, idle_s=1.0, nvml=FakeNvml(clock, POWER), clock=clock, sleep=sleep,
                      threaded=True, background_baseline=True, visible=None)
    return meter, gate


def test_start_returns_before_the_baseline_and_ready_waits_for_it():
    meter, gate = gated_meter()
    started = time.perf_counter()
    meter.start()
    assert time.perf_counter() - started < 0.5
    assert "idle_baseline" not in meter.environment()          # still being taken
    waiter = threading.Thread(target=meter.ready, daemon=True)
    waiter.start()
    waiter.join(0.3)
    assert waiter.is_alive(), "ready() returned before the baseline was taken"
    gate.set()
    waiter.join(5)
    assert not waiter.is_alive()
    baseline = meter.environment()["idle_baseline"]
    assert baseline["power_w"] == {"0": 50.0} and baseline["stable"] is True
    assert "thread" in baseline["overlapped"]
    meter.stop()


def test_stop_during_a_long_baseline_returns_at_once():
    meter = NvmlMeter(period_s=0.05, idle_s=30.0, nvml=FakeNvml(time.monotonic, [(0.0, 50.0)]),
                      threaded=True, background_baseline=True, visible=None)
    meter.start()
    time.sleep(0.2)
    started = time.perf_counter()
    meter.stop()
    meter.ready()                                              # released, not left waiting
    assert time.perf_counter() - started < 1.5
    assert not meter._thread.is_alive()


def test_without_background_the_baseline_is_taken_in_start_as_before():
    clock = FakeClock()
    meter = NvmlMeter(period_s=0.1, idle_s=1.0, nvml=FakeNvml(clock, POWER), clock=clock, sleep=clock.sleep,
                      threaded=False, visible=None)
    meter.start()
    assert meter.environment()["idle_baseline"]["power_w"] == {"0": 50.0}
    assert "overlapped" not in meter.environment()["idle_baseline"]


class RecordingMeter:
    name = "rec"

    def __init__(self, log: list):
        self.log = log

    def start(self): self.log.append("start")
    def ready(self): self.log.append("ready")
    def read(self): return 0
    def figures(self, begin, end): return {}
    def telemetry(self): return []
    def environment(self): return {}
    def stop(self): pass


def test_task_windows_wait_for_the_meters_but_the_run_and_model_windows_do_not():
    log: list = []
    with MeterSession([RecordingMeter(log)], None) as session:
        with session.window("run", "r"):
            with session.window("model", "m"):
                assert log == ["start"]
                with session.window("task", "t"):
                    assert log == ["start", "ready"]
                with session.window("task", "u"):
                    pass
    assert log == ["start", "ready"]                          # once


def test_load_model_imports_the_libraries_then_waits_then_builds(monkeypatch, tmp_path):
    import harness.runner as runner
    (tmp_path / "heavy_lib_for_test.py").write_text("import sys\nsys.modules[__name__].loaded = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    log: list = []

    def factory(spec, options):
        log.append("build")
        return "adapter"
    factory.imports = ("heavy_lib_for_test",)
    models = Registry("model", "harness.test_models")
    models.add("slow", factory, origin="test")
    monkeypatch.setattr(runner, "MODELS", models)
    monkeypatch.delitem(sys.modules, "heavy_lib_for_test", raising=False)

    def before_device():
        log.append("ready:" + str("heavy_lib_for_test" in sys.modules))
    assert runner.load_model(ModelSpec(name="slow", adapter="slow"), RuntimeOptions(), before_device) == "adapter"
    assert log == ["ready:True", "build"]


@pytest.mark.parametrize("name", ["tiny-gpt2", "minilm"])
def test_embedded_factories_name_importable_libraries(name):
    from harness.plugins import MODELS
    imports = MODELS.get(name).imports
    assert "transformers.modeling_utils" in imports
    for module in imports:
        __import__(module)


_PROBE = """
import json, sys
from harness.audit import prepare
from harness.preflight import check_models
from harness.spec import ModelSpec, RuntimeOptions
check_models([ModelSpec.parse("tiny-gpt2"), ModelSpec.parse("minilm")], RuntimeOptions())
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules} & {"torch", "transformers"})))
"""


def test_what_runs_before_the_meters_start_imports_neither_torch_nor_transformers():
    """So that, on a GPU, they import while the idle baseline is taken (runner.load_model)."""
    proc = subprocess.run([sys.executable, "-c", _PROBE], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


def test_preload_imports_the_declared_modules_on_its_own_thread_and_swallows_failures(monkeypatch, tmp_path):
    import harness.preload as preload
    (tmp_path / "preload_mod_a.py").write_text("import threading\nTHREAD = threading.current_thread().name\n")
    (tmp_path / "preload_mod_bad.py").write_text("raise RuntimeError('broken library')\n")
    (tmp_path / "preload_mod_c.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("preload_mod_a", "preload_mod_bad", "preload_mod_c"):
        monkeypatch.delitem(sys.modules, name, raising=False)

    def first(spec, options): ...
    def second(spec, options): ...
    first.imports = ("preload_mod_a", "preload_mod_bad", "preload_mod_c")
    second.imports = ("preload_mod_a",)
    models = Registry("model", "harness.test_models")
    models.add("first", first, origin="test")
    models.add("second", second, origin="test")
    models.add("plain", lambda spec, options: None, origin="test")
    import harness.plugins
    monkeypatch.setattr(harness.plugins, "MODELS", models)
    specs = [ModelSpec(name=n, adapter=n) for n in ("first", "second", "plain")]
    assert preload.declared_imports(specs) == ("preload_mod_a", "preload_mod_bad", "preload_mod_c")
    thread = preload.start(specs)
    thread.join(10)
    assert sys.modules["preload_mod_a"].THREAD == "harness-preload"
    assert "preload_mod_bad" not in sys.modules and "preload_mod_c" not in sys.modules   # stops at the failure
    assert preload.start([ModelSpec(name="plain", adapter="plain")]) is None


def test_a_module_still_importing_on_the_preload_thread_reads_as_not_imported(monkeypatch, tmp_path):
    """While the preload thread imports torch, sys.modules holds a half-built torch without .cuda;
    asking whether CUDA is started then must answer no, not raise AttributeError (it did)."""
    from harness.meters.memory import PeakMemory
    from harness.meters.session import cuda_sync
    from harness.models.device import is_out_of_memory
    from harness.preload import imported
    (tmp_path / "slow_torch").mkdir()
    (tmp_path / "slow_torch" / "__init__.py").write_text(
        "import builtins, time\nwhile not builtins._release_slow_torch:\n    time.sleep(0.01)\n")
    import builtins
    import importlib
    monkeypatch.syspath_prepend(str(tmp_path))
    builtins._release_slow_torch = False
    thread = threading.Thread(target=importlib.import_module, args=("slow_torch",), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while "slow_torch" not in sys.modules and time.monotonic() < deadline:
        time.sleep(0.01)
    half_built = sys.modules["slow_torch"]
    assert not hasattr(half_built, "cuda")
    monkeypatch.setitem(sys.modules, "torch", half_built)
    try:
        assert imported("torch") is None
        cuda_sync()                                                 # no AttributeError
        PeakMemory().reset()
        assert is_out_of_memory(MemoryError()) and not is_out_of_memory(ValueError("x"))
    finally:
        builtins._release_slow_torch = True
        thread.join(10)
        del builtins._release_slow_torch
    assert imported("slow_torch") is sys.modules["slow_torch"]      # done: now it counts
    monkeypatch.delitem(sys.modules, "slow_torch")
