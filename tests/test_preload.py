"""harness/preload.py, the start-up overlap, attacked: signals while the model libraries import on the preload thread,
windows that close before the GPU idle baseline is done, factories that declare odd ``imports``.
Each test failed before its fix."""
from __future__ import annotations

import importlib
import signal
import sys
import threading
import time

import pytest

from fake_nvml import FakeClock, FakeNvml
from harness import cli, interrupts
from harness.errors import Terminated


def importlib_frame():
    """A frame of importlib's own code, as a signal handler is handed it when the signal comes in
    there: the caller of a meta-path finder's find_spec."""
    frames = []

    class Finder:
        @staticmethod
        def find_spec(name, path=None, target=None):
            if name == "harness_test_module_nowhere":
                frames.append(sys._getframe(1))
            return None
    sys.meta_path.insert(0, Finder)
    try:
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module("harness_test_module_nowhere")
    finally:
        sys.meta_path.remove(Finder)
    return frames[0]


@pytest.fixture
def resent(monkeypatch):
    """The signals the handler sends again (instead of to this process)."""
    sent: list[int] = []
    monkeypatch.setattr(interrupts.os, "kill", lambda pid, signum: sent.append(signum))
    monkeypatch.setattr(interrupts, "_deferred_since", {})
    monkeypatch.setattr(interrupts, "_pending", set())
    return sent


def wait_for(condition, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)
    return condition()


@pytest.mark.parametrize("signum,handler,raised", [(signal.SIGTERM, cli._raise_terminated, Terminated),
                                                   (signal.SIGINT, cli._raise_interrupted, KeyboardInterrupt)])
def test_a_signal_inside_importlibs_own_code_is_sent_again_not_raised_there(resent, signum, handler, raised):
    """SIGTERM half a second into `harness run` hung the process about once in fifteen tries: the
    handler raised inside a module lock's weakref callback, between its taking and releasing the
    global import lock; the exception was swallowed there (the signal lost, SIGTERM now ignored) and
    the lock stayed held, so the preload and hardware-probe threads waited on it forever, and the
    main thread on them."""
    frame = importlib_frame()
    assert interrupts.in_import_machinery(frame) and not interrupts.in_import_machinery(sys._getframe())
    previous = signal.signal(signum, handler)
    try:
        handler(signum, frame)                                   # returns: nothing raised inside importlib
        assert signal.getsignal(signum) is handler               # SIGTERM is not ignored from now on
        assert wait_for(lambda: resent == [signum])              # but comes back a moment later
        with pytest.raises(raised):
            handler(signum, sys._getframe())                     # out of importlib: acted on at once
    finally:
        signal.signal(signum, previous)


def test_a_signal_held_back_too_long_is_raised_anyway(resent, monkeypatch):
    """A main thread waiting for another thread's import sits in importlib's code as long as that
    import takes: the signal is not held back past DEFER_AT_MOST_S."""
    monkeypatch.setattr(interrupts, "DEFER_AT_MOST_S", 0.05)
    frame = importlib_frame()
    previous = signal.signal(signal.SIGINT, cli._raise_interrupted)
    try:
        cli._raise_interrupted(signal.SIGINT, frame)
        time.sleep(0.06)
        with pytest.raises(KeyboardInterrupt):
            cli._raise_interrupted(signal.SIGINT, frame)
    finally:
        signal.signal(signal.SIGINT, previous)


def test_main_holds_ctrl_c_back_in_importlib_only_while_it_runs_and_leaves_an_ignored_sigint_alone(monkeypatch):
    from support import add_command
    seen = []

    def execute(args, argv):
        seen.append((signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)))
        return 0
    add_command(monkeypatch, "peek", execute)
    before = signal.getsignal(signal.SIGINT)
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        assert cli.main(["peek"]) == 0
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        signal.signal(signal.SIGINT, signal.SIG_IGN)              # a background job's: Ctrl-C is not for it
        assert cli.main(["peek"]) == 0
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)
    assert seen == [(cli._raise_interrupted, cli._raise_terminated), (signal.SIG_IGN, cli._raise_terminated)]


def gated_meter(idle_s: float = 1.0):
    """A background-baseline meter whose fake clock moves only once ``gate`` is set."""
    from harness.meters.nvml import NvmlMeter
    clock, gate = FakeClock(), threading.Event()

    def sleep(seconds: float) -> None:
        gate.wait()
        clock.sleep(seconds)
    meter = NvmlMeter(period_s=0.1, idle_s=idle_s, nvml=FakeNvml(clock, [(0.0, 50.0)]), clock=clock, sleep=sleep,
                      threaded=True, background_baseline=True, visible=None)
    return meter, gate


def test_a_window_that_ends_before_the_idle_baseline_is_done_says_so(tmp_path):
    """A model that fails to load (its library is missing) ends its window before the baseline taken on
    the sampler thread is done: its net energy said "no idle baseline (set --idle-seconds above 0)", with
    --idle-seconds 2."""
    import json

    from harness.meters.session import MeterSession
    meter, gate = gated_meter()
    with MeterSession([meter], tmp_path) as session:
        with session.window("run", "r"):
            with session.window("model", "broken"):
                pass                                          # failed to load: no ready()
            gate.set()
            with session.window("task", "t"):
                pass
    windows = {w["path"]: w["figures"] for w in map(json.loads, (tmp_path / "windows.jsonl").read_text().splitlines())}
    early = windows["run:r/model:broken"]["gpu_energy_net_j"]
    assert early["value"] is None and "still being taken when this window ended" in early["reason"]
    assert "--idle-seconds" not in early["reason"]
    assert windows["run:r/task:t"]["gpu_energy_net_j"]["value"] is not None       # after ready(): net of idle
    assert windows["run:r"]["gpu_energy_net_j"]["value"] is not None


def test_no_idle_baseline_asked_for_still_says_how_to_get_one():
    from harness.meters.nvml import NvmlMeter
    clock = FakeClock()
    meter = NvmlMeter(period_s=0.1, idle_s=0, nvml=FakeNvml(clock, [(0.0, 50.0)]), clock=clock, sleep=clock.sleep,
                      threaded=False, background_baseline=True, visible=None)
    meter.start()
    begin = meter.read()
    clock.sleep(1.0)
    meter.sample_once()
    net = meter.figures(begin, meter.read())["gpu_energy_net_j"]
    assert net["value"] is None and "set --idle-seconds above 0" in net["reason"]


def one_model_registry(monkeypatch, imports, build=lambda spec, options: "adapter"):
    import harness.plugins
    import harness.runner as runner
    from harness.registry import Registry

    def factory(spec, options):
        return build(spec, options)
    factory.imports = imports
    models = Registry("model", "harness.test_models")
    models.add("lib", factory, origin="test")
    monkeypatch.setattr(runner, "MODELS", models)
    monkeypatch.setattr(harness.plugins, "MODELS", models)


def load(monkeypatch, imports):
    from harness.runner import load_model
    from harness.spec import ModelSpec, RuntimeOptions
    one_model_registry(monkeypatch, imports)
    return load_model(ModelSpec(name="lib", adapter="lib"), RuntimeOptions())


def test_imports_written_without_its_comma_is_one_module_not_one_per_letter(monkeypatch, tmp_path):
    """``imports = ("mylib")`` is the str "mylib": the model failed to load with "No module named 'm'"."""
    (tmp_path / "preload_one_name_lib.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "preload_one_name_lib", raising=False)
    assert load(monkeypatch, ("preload_one_name_lib")) == "adapter"
    assert "preload_one_name_lib" in sys.modules
    from harness import preload
    from harness.spec import ModelSpec
    assert preload.declared_imports([ModelSpec(name="lib", adapter="lib")]) == ("preload_one_name_lib",)


@pytest.mark.parametrize("imports", [None, 3, ("ok", None), ("",)])
def test_imports_that_are_not_module_names_are_the_models_failed_load_not_a_crash(monkeypatch, imports):
    """``imports = None`` crashed `harness run` with a TypeError traceback before the run folder existed."""
    from harness import preload
    from harness.errors import ModelFault
    from harness.spec import ModelSpec
    one_model_registry(monkeypatch, imports)
    assert preload.declared_imports([ModelSpec(name="lib", adapter="lib")]) == ()      # preload leaves it out
    with pytest.raises(ModelFault, match=r"declares imports = .*not a tuple of module names") as caught:
        load(monkeypatch, imports)
    assert caught.value.what == "load"


def test_a_missing_library_says_to_install_it(monkeypatch):
    from harness.errors import ModelFault
    with pytest.raises(ModelFault, match="failed to load: ModuleNotFoundError: No module named 'harness_no_such_lib'") as caught:
        load(monkeypatch, ("harness_no_such_lib",))
    assert "install the package that provides 'harness_no_such_lib'" in caught.value.fix


def test_a_signal_that_interrupts_the_handler_itself_is_held_back_too(resent):
    """The handler runs Python code; a second signal can come in there, on its way back to importlib's
    code: raised there, it would land in that code all the same."""
    def handler(signum=None, frame=None):
        return sys._getframe()
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        assert interrupts.deferred(signal.SIGTERM, handler(), handler) is True
        assert wait_for(lambda: resent == [signal.SIGTERM])
        assert interrupts.deferred(signal.SIGTERM, sys._getframe(), handler) is False
    finally:
        signal.signal(signal.SIGTERM, previous)
