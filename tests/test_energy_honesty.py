"""Energy is never made up: NVML failures, partial coverage, window edges, the idle baseline,
examples counted at every level, and totals that add up over a run's invocations.

The trace of these tests (tests/fake_nvml.py): 50 W idle until 1.0 s, 120 W from 1.0 s, 250 W from
1.6 s; the sampler runs every 0.1 s and the energy counter updates every 0.1 s.
"""
from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest

from fake_nvml import FakeClock, FakeNvml
from harness.meters.carbon import CarbonIntensity
from harness.meters.energy import aggregate, covering, energy_object
from harness.meters.nvml import NvmlMeter, integrate_power
from harness.meters.session import MeterSession, cuda_sync, read_windows
from harness.report.terminal import summary_table

POWER = [(0.0, 50.0), (1.0, 120.0), (1.6, 250.0)]


def traced(until: float = 4.0, **fake_kwargs):
    clock = FakeClock()
    meter = NvmlMeter(period_s=0.1, idle_s=1.0, nvml=FakeNvml(clock, POWER, **fake_kwargs), clock=clock,
                      sleep=clock.sleep, threaded=False, visible=None)
    meter.start()
    while clock() <= until + 1e-9:
        meter.sample_once()
        clock.sleep(0.1)
    return clock, meter


def window(clock, meter, t0, t1):
    clock.set(t0)
    begin = meter.read()
    clock.set(t1)
    return meter.figures(begin, meter.read())


def test_after_the_gpu_is_lost_windows_read_not_measured_with_the_nvml_error():
    clock, meter = traced(lost_at=2.0)
    before = window(clock, meter, 1.2, 1.8)          # the counter still works: 0.4 s x 120 W + 0.2 s x 250 W
    assert before["gpu_energy_j"] == {"value": pytest.approx(98.0), "unit": "J", "source": "nvml_energy_counter"}
    after = window(clock, meter, 2.5, 3.5)           # no NVML call succeeded in it
    assert after["gpu_energy_j"]["source"] == "not_measured"
    assert "GPU is lost" in after["gpu_energy_j"]["reason"]
    assert after["gpu_power_mean_w"]["source"] == "not_measured"
    assert after["gpu_energy_net_j"]["source"] == "not_measured"


def test_a_window_the_sampler_covered_in_part_says_so_and_never_extrapolates():
    clock, meter = traced(lost_at=2.0)
    f = window(clock, meter, 1.5, 2.5)               # the end counter read fails; good samples 1.5 ... 1.9
    g = f["gpu_energy_j"]
    # 1.5 -> 1.6 ramps 120 -> 250 W (18.5 J), then 0.3 s at 250 W (75 J); nothing past 1.9 s
    assert g["source"] == "nvml_power_integrated" and g["value"] == pytest.approx(93.5)
    assert g["coverage"] == pytest.approx(0.4) and g["covered_s"] == pytest.approx(0.4)
    assert f["gpu_power_mean_w"]["value"] == pytest.approx(93.5 / 0.4)
    assert f["gpu_energy_net_j"]["value"] == pytest.approx(93.5 - 50.0 * 0.4)   # idle over the covered time only


def test_power_reads_failing_while_the_counter_works_compare_the_counter_over_the_covered_span_only():
    clock, meter = traced(power_fails_at=2.0)
    f = window(clock, meter, 1.5, 2.5)
    assert f["gpu_energy_j"] == {"value": pytest.approx(0.1 * 120 + 0.9 * 250), "unit": "J", "source": "nvml_energy_counter"}
    assert f["gpu_energy_integrated_j"]["coverage"] == pytest.approx(0.4)
    # good power samples cover 1.5 ... 1.9 s: integrated 93.5 J (the 120 -> 250 W step at 1.6 s drawn as a
    # ramp), the counter read at those samples 0.1 x 120 + 0.3 x 250 = 87 J; never the whole window's 237 J
    d = f["gpu_energy_discrepancy_pct"]
    assert d["value"] == pytest.approx(100 * (93.5 - 87) / 87)
    assert d["coverage"] == pytest.approx(0.4) and d["covered_s"] == pytest.approx(0.4)
    assert d["compared_counter_j"] == pytest.approx(87.0) and d["compared_integrated_j"] == pytest.approx(93.5)


def test_a_window_that_ends_after_the_last_good_sample_is_not_held_at_the_last_power():
    clock, meter = traced(until=3.0, has_energy_counter=False, power_fails_at=3.05)
    f = window(clock, meter, 2.5, 3.5)               # good samples end at 3.0; the edge sample at 3.5 fails
    assert f["gpu_energy_j"]["value"] == pytest.approx(0.5 * 250)
    assert f["gpu_energy_j"]["coverage"] == pytest.approx(0.5)


def test_integration_skips_gaps_around_failed_samples():
    points = [(0.0, 100.0), (1.0, 100.0), (2.0, None), (3.0, 200.0), (4.0, 200.0)]
    energy, covered = integrate_power(points, 0.5, 3.5)
    assert covered == pytest.approx(1.0) and energy == pytest.approx(0.5 * 100 + 0.5 * 200)
    assert integrate_power(points[:1], 0.0, 1.0) == (None, 0.0)


def test_the_idle_baseline_waits_until_two_blocks_agree():
    clock = FakeClock()
    settling = [(0.0, 90.0), (1.5, 50.0), (10.0, 300.0)]          # leaves a higher P-state at 1.5 s
    meter = NvmlMeter(period_s=0.1, idle_s=2.0, nvml=FakeNvml(clock, settling), clock=clock, sleep=clock.sleep,
                      threaded=False, visible=None)
    meter.start()
    baseline = meter.environment()["idle_baseline"]
    # blocks of 1 s: 90, 70, 50, 50 W -> stable after 4 s; a fixed 2 s baseline would read 80 W
    assert [b["0"] for b in baseline["blocks_w"]] == pytest.approx([90.0, 70.0, 50.0, 50.0])
    assert baseline["stable"] is True and baseline["seconds"] == pytest.approx(4.0)
    assert meter.idle_power_w[0] == pytest.approx(50.0)


def test_an_idle_baseline_that_never_settles_stops_at_the_cap_and_says_so():
    clock = FakeClock()
    ramp = [(float(t), 50.0 + 20 * t) for t in range(40)]
    meter = NvmlMeter(period_s=0.1, idle_s=2.0, nvml=FakeNvml(clock, ramp), clock=clock, sleep=clock.sleep,
                      threaded=False, visible=None)
    meter.start()
    baseline = meter.environment()["idle_baseline"]
    assert baseline["stable"] is False and baseline["seconds"] == pytest.approx(10.0)


class _Recorder:
    name = "rec"

    def __init__(self, log):
        self.log = log

    def start(self):
        pass

    def stop(self):
        pass

    def read(self):
        self.log.append("read")
        return 0

    def figures(self, begin, end):
        return {}

    def telemetry(self):
        return []

    def environment(self):
        return {}


def test_window_edges_synchronize_the_accelerator_before_reading_the_meters(tmp_path):
    log: list[str] = []
    with MeterSession([_Recorder(log)], tmp_path, sync=lambda: log.append("sync")) as session:
        with session.window("task", "t"):
            log.append("work")
    assert log == ["sync", "read", "work", "sync", "read"]


def test_cuda_sync_waits_only_where_cuda_was_started(monkeypatch):
    calls = []
    fake = SimpleNamespace(cuda=SimpleNamespace(is_initialized=lambda: False, synchronize=lambda: calls.append(1)))
    monkeypatch.setitem(sys.modules, "torch", fake)
    cuda_sync()
    assert calls == []                                            # never starts CUDA itself
    fake.cuda.is_initialized = lambda: True
    cuda_sync()
    assert calls == [1]


def test_model_and_run_windows_count_the_examples_inside_them(tmp_path):
    with MeterSession([_Recorder([])], tmp_path) as session:
        with session.window("run", "r"):
            with session.window("model", "m", model="m"):
                with session.window("task", "t", model="m", examples=0, generated_tokens=0) as w:
                    w.attrs["examples"], w.attrs["generated_tokens"] = 10, 40
                with session.window("probe", "p", model="m", examples=0) as w:
                    w.attrs["examples"] = 5
    by_kind = {w["kind"]: w for w in read_windows(tmp_path)}
    assert by_kind["model"]["examples"] == 15 and by_kind["run"]["examples"] == 15
    assert by_kind["model"]["generated_tokens"] == 40
    e = energy_object(aggregate([{**by_kind["model"], "figures": {
        "gpu_energy_j": {"value": 30.0, "unit": "J", "source": "nvml_energy_counter"}}}]), CarbonIntensity(None, "not given"))
    assert e["j_per_example"]["value"] == pytest.approx(2.0)


def _w(path, invocation, joules, seconds=1.0, **attrs):
    kind = path.rsplit("/", 1)[-1].split(":")[0]
    return {"path": path, "kind": kind, "invocation": invocation, "duration_s": seconds, "examples": 0,
            "figures": {"gpu_energy_j": {"value": joules, "unit": "J", "source": "nvml_energy_counter"}}, **attrs}


def test_model_and_run_totals_add_every_invocation_even_one_killed_before_its_model_window_closed():
    windows = [  # invocation a was killed inside model m: only its two task windows closed
        _w("run:R/model:m/task:t1", "a", 100.0), _w("run:R/model:m/task:t2", "a", 106.0),
        # invocation b (the resume) finished: its task, probe, model and run windows closed
        _w("run:R/model:m/task:t2", "b", 50.0), _w("run:R/model:m/probe:p", "b", 40.0),
        _w("run:R/model:m", "b", 98.0, seconds=3.0), _w("run:R", "b", 110.0, seconds=4.0)]
    model = aggregate(covering(windows, "run:R/model:m"))
    assert model["gpu_energy_j"]["value"] == pytest.approx(100 + 106 + 98)
    assert model["invocations"] == 2
    tasks_and_probes = aggregate([w for w in windows if w["kind"] in ("task", "probe")])
    assert model["gpu_energy_j"]["value"] >= tasks_and_probes["gpu_energy_j"]["value"]
    run = aggregate(covering(windows, "run:R"))
    assert run["gpu_energy_j"]["value"] == pytest.approx(206 + 110) and run["invocations"] == 2
    e = energy_object(run, CarbonIntensity(None, "not given"))
    assert e["invocations"] == 2


def test_windows_that_were_not_measured_lower_the_coverage_of_a_total():
    windows = [_w("run:R/model:m/task:t1", "a", 100.0),
               {**_w("run:R/model:m/task:t2", "a", 0.0), "figures": {"gpu_energy_j": {
                   "value": None, "unit": "J", "source": "not_measured", "reason": "GPU: GPU is lost"}}}]
    total = aggregate(windows)["gpu_energy_j"]
    assert total["value"] == 100.0 and total["coverage"] == pytest.approx(0.5)


def test_the_terminal_summary_shows_the_runs_energy_and_power():
    def summary(run_energy):
        return summary_table({"schema_version": "2.0", "models": {}, "run": {"id": "R", "status": "complete"},
                              "energy": {"run": run_energy}})
    e = energy_object(aggregate([_w("run:R", "a", 200.0, seconds=4.0), _w("run:R", "b", 100.0, seconds=2.0)]),
                      CarbonIntensity(None, "not given"))
    line = next(x for x in summary(e).splitlines() if x.startswith("energy: "))
    assert line.startswith("energy: 300 J in 6 s over 2 invocations") and "GPU 300 J (nvml_energy_counter)" in line
    assert "GPU 50 W" in line
    off = energy_object(aggregate([]), CarbonIntensity(None, "x"), disabled_reason="meters were off (--no-meters)")
    assert "energy: not measured: meters were off (--no-meters)" in summary(off).splitlines()


def test_on_a_gpu_a_warm_up_window_comes_before_the_first_task_and_stays_out_of_it(tmp_path):
    import json
    from pathlib import Path
    from support import run_cli, write_task
    rows = [{"id": f"q{i}", "question": f"question {i}", "choices": ["aaa", "b"], "answer": 1} for i in range(6)]
    write_task(tmp_path / "tasks" / "mc", "mc", rows, kind="multiple_choice", prompt="{question}")
    tests = Path(__file__).resolve().parent
    proc = run_cli("run", "--model", "py:fake_models:ShortestChoice,device=cuda:0", "--tasks", "mc", "--tasks-dir",
                   str(tmp_path / "tasks"), "--no-probes", "--no-meters", "--out", str(tmp_path / "out"), cwd=tests)
    assert proc.returncode == 0, proc.stderr
    run_dir = next(p for p in (tmp_path / "out").iterdir() if p.is_dir())
    windows = [json.loads(line) for line in (run_dir / "windows.jsonl").read_text().splitlines()]
    assert [w["kind"] for w in windows] == ["warmup", "task", "model", "run"]
    assert windows[0]["on"] == "mc" and windows[1]["examples"] == 6 and windows[2]["examples"] == 6
    results = json.loads((run_dir / "results.json").read_text())
    assert results["models"]["py:fake_models:ShortestChoice"]["tasks"]["mc"]["n"] == 6


class _Sampler(_Recorder):
    """A meter that took one telemetry sample."""
    name = "sampler"

    def telemetry(self):
        rows = [] if "sampled" in self.log else [{"t": 0.5, "gpu": 0, "power_w": 100.0}]
        self.log.append("sampled")
        return rows


def _read_back(run_dir):
    from harness.meters.session import read_telemetry
    rows = read_telemetry(run_dir)
    assert rows and all(r["event"] in ("begin", "end", "sample") for r in rows), rows
    return rows


def test_telemetry_left_empty_by_a_kill_gets_its_header_when_reopened(tmp_path):
    (tmp_path / "telemetry.csv").write_text("")                   # kill -9 right after creation
    with MeterSession([_Sampler([])], tmp_path) as session:
        with session.window("task", "t"):
            pass
    assert (tmp_path / "telemetry.csv").read_text().startswith("unix_time,t_s,event,")
    assert [r["event"] for r in _read_back(tmp_path)] == ["begin", "sample", "end"]


def test_a_torn_telemetry_row_is_dropped_before_new_rows_are_appended(tmp_path):
    from harness.meters.session import TELEMETRY_COLUMNS
    (tmp_path / "telemetry.csv").write_text(",".join(TELEMETRY_COLUMNS) + "\n1795000000.1,0.1,sam")
    with MeterSession([_Sampler([])], tmp_path) as session:
        with session.window("task", "t"):
            pass
    assert [r["event"] for r in _read_back(tmp_path)] == ["begin", "sample", "end"]


def test_telemetry_without_a_header_or_with_a_torn_row_is_still_read(tmp_path):
    from harness.meters.session import read_telemetry
    (tmp_path / "telemetry.csv").write_text("1795000000.1,0.1,begin,run:R" + "," * 16 + "\n1795000000.2,0.2,sam")
    assert [(r["event"], r["window"]) for r in read_telemetry(tmp_path)] == [("begin", "run:R")]
    (tmp_path / "telemetry.csv").write_text("")
    assert read_telemetry(tmp_path) == []


def test_a_torn_window_record_is_dropped_before_the_next_is_appended(tmp_path):
    (tmp_path / "windows.jsonl").write_text('{"path": "run:R", "kind": "run", "invocation": "a", "dur')
    with MeterSession([_Recorder([])], tmp_path) as session:
        with session.window("run", "R"):
            pass
    assert [w["kind"] for w in read_windows(tmp_path)] == ["run"]


def test_a_damaged_window_record_in_the_middle_is_an_error_naming_the_line(tmp_path):
    from harness.errors import HarnessError
    window = '{"path": "run:R", "kind": "run", "duration_s": 1.0, "figures": {}}'
    (tmp_path / "windows.jsonl").write_text(f'{window}\n{{"path": oops\n{window}\n')
    with pytest.raises(HarnessError, match="windows.jsonl:2"):
        read_windows(tmp_path)


def test_a_resume_after_a_kill_damaged_telemetry_and_windows_works_and_adds_both_invocations(tmp_path):
    import json
    from pathlib import Path
    from support import run_cli, write_task
    rows = [{"id": f"q{i}", "question": f"question {i}", "choices": ["aaa", "b"], "answer": 1} for i in range(4)]
    write_task(tmp_path / "tasks" / "mc", "mc", rows, kind="multiple_choice", prompt="{question}")
    tests = Path(__file__).resolve().parent
    first = run_cli("run", "--model", "py:fake_models:ShortestChoice", "--tasks", "mc", "--tasks-dir",
                    str(tmp_path / "tasks"), "--no-probes", "--no-progress", "--out", str(tmp_path / "out"), cwd=tests)
    assert first.returncode == 0, first.stderr
    run_dir = next(p for p in (tmp_path / "out").iterdir() if p.is_dir())
    (run_dir / "telemetry.csv").write_text("")
    with (run_dir / "windows.jsonl").open("a") as fh:
        fh.write('{"path": "run:x", "ki')
    resumed = run_cli("run", "--resume", str(run_dir), cwd=tests)
    assert resumed.returncode == 0, resumed.stderr
    assert "energy: " in resumed.stdout and "over 2 invocations" in resumed.stdout
    _read_back(run_dir)
    assert [w["kind"] for w in read_windows(run_dir)] == ["task", "model", "run", "run"]
    results = json.loads((run_dir / "results.json").read_text())
    assert results["energy"]["run"]["invocations"] == 2


@pytest.mark.parametrize("fake, span", [({}, (1.2, 1.8)), ({"lost_at": 2.0}, (2.5, 3.5)), ({"lost_at": 2.0}, (1.5, 2.5)),
                                        ({"power_fails_at": 2.0}, (1.5, 2.5)),
                                        ({"has_energy_counter": False, "until": 3.0}, (2.5, 3.5))])
def test_every_nvml_window_gives_an_energy_object_the_results_types_accept(fake, span):
    """What a GPU writes (counter, integral, partial coverage, a lost GPU, throttling) reads back as
    a typed energy object: the types refuse nothing the meters write."""
    from harness.results.energy import Energy
    fake = dict(fake)
    clock, meter = traced(until=fake.pop("until", 4.0), **fake)
    figures = window(clock, meter, *span)
    figures["throttle_s"] = {"sw_thermal_slowdown": 0.25}
    host = {"cpu_energy_j": {"value": 3.0, "unit": "J", "source": "estimated"},
            "ram_energy_j": {"value": None, "unit": "J", "source": "not_measured", "reason": "no RAPL DRAM"}}
    windows = [{**_w("run:R/model:m/task:t", "a", 0.0, seconds=span[1] - span[0], examples=4, generated_tokens=9),
                "figures": {**figures, **host}}]
    for intensity in (CarbonIntensity(None, "not given"), CarbonIntensity(400.0, "user")):
        e = energy_object(aggregate(windows), intensity, {"bleu": {"value": 20.0}, "chrf": {"value": None}}, "generate")
        typed = Energy.model_validate(e)
        assert typed.to_json() == e
        assert typed.gpu_energy_j.measured == (figures["gpu_energy_j"]["source"] != "not_measured")
