"""Monitoring exports: the Prometheus textfile (read back with prometheus_client's own parser), a
push to a real Pushgateway (read back from its HTTP API), TensorBoard events (read back with
TensorBoard's EventAccumulator), and the Grafana dashboard's metric names."""
from __future__ import annotations

import json
import re
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from support import REPO, assert_one_line_error
from run_folders import in_process, make_run, results as make_results

from harness.exports.prometheus import build_registry, push

PUSHGATEWAY = Path("/usr/bin/prometheus-pushgateway")
T0 = "2026-11-01T10:00:00+00:00"
GATE = {"verdict": "pass", "counts": {"pass": 4, "fail": 0, "warn": 1, "skip": 0}, "rules": []}
TELEMETRY_HEADER = ("unix_time,t_s,event,window,gpu,power_w,power_avg_w,energy_j,sm_clock_mhz,mem_clock_mhz,gfx_clock_mhz,"
                    "pstate,clock_event_reasons,temp_c,util_gpu_pct,util_mem_pct,mem_used_mib,power_limit_w,cpu_power_w,"
                    "cpu_power_source\n")


def _samples(text: str) -> dict[tuple, float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _textfile(tmp_path, capsys, results: dict) -> dict[tuple, float]:
    run = tmp_path / "run"
    run.mkdir(exist_ok=True)
    (run / "results.json").write_text(json.dumps(results))
    proc = in_process(capsys, "export", str(run), "--prometheus-textfile", str(tmp_path / "harness.prom"))
    assert proc.returncode == 0, proc.stderr
    return _samples((tmp_path / "harness.prom").read_text())


def test_textfile_parses_with_the_right_values_and_leaves_not_measured_out(tmp_path, capsys):
    res = make_results("r1", T0, accuracy=(0.625, 0.375, 0.875), j_per_example=1.5, gate=GATE)
    got = _textfile(tmp_path, capsys, res)
    acc = (("metric", "accuracy"), ("model", "tiny-gpt2"), ("task", "facts_mc"))
    assert got[("harness_task_metric", acc)] == 0.625
    assert got[("harness_task_metric_ci95_lower", acc)] == 0.375
    assert got[("harness_task_metric_ci95_upper", acc)] == 0.875
    assert got[("harness_task_examples", (("model", "tiny-gpt2"), ("task", "facts_mc")))] == 8
    assert got[("harness_task_energy_joules_per_example",
                (("model", "tiny-gpt2"), ("source", "estimated"), ("task", "facts_mc")))] == 1.5
    assert got[("harness_run_energy_joules", (("source", "estimated"),))] == 35.0
    assert got[("harness_run_carbon_gco2e", (("source", "estimated"),))] == 0.0031
    assert got[("harness_run_device_energy_joules", (("device", "ram"), ("source", "estimated")))] == 35.0 * 0.75
    assert not any(n == "harness_run_device_energy_joules" and ("device", "gpu") in l for n, l in got)
    assert got[("harness_probe_metric", (("metric", "accuracy_ambiguous"), ("model", "tiny-gpt2"), ("probe", "bbq")))] == 0.45
    assert got[("harness_gate_pass", ())] == 1 and got[("harness_gate_rules", (("verdict", "warn"),))] == 1
    # s_dis was not measured: absent from its family, counted with its reason
    assert not any(name == "harness_probe_metric" and ("metric", "s_dis") in labels for name, labels in got)
    missing = {dict(labels)["figure"]: (dict(labels)["reason"], v) for (name, labels), v in got.items() if name == "harness_not_measured"}
    assert missing["harness_probe_metric:s_dis"] == ("no disambiguated item fits", 1.0)
    assert missing["harness_run_device_energy_joules:gpu"] == ("GPU: NVML Shared Library Not Found", 1.0)
    assert all(v != 0 for (name, _), v in got.items() if "energy" in name or "carbon" in name)


def test_energy_not_measured_is_counted_never_zero(tmp_path, capsys):
    res = make_results("r1", T0, j_per_example=None)
    res["energy"]["run"] = {"total_energy_j": {"value": None, "unit": "J", "source": "not_measured",
                                                "reason": "meters were off (--no-meters)"}}
    got = _textfile(tmp_path, capsys, res)
    assert not any(name.startswith("harness_run_energy") or name == "harness_run_carbon_gco2e" for name, _ in got)
    assert not any(name == "harness_task_energy_joules_per_example" for name, _ in got)
    reasons = {(dict(l)["target"], dict(l)["figure"]): dict(l)["reason"] for (n, l), _ in got.items() if n == "harness_not_measured"}
    assert reasons[("run", "harness_run_energy_joules")] == "meters were off (--no-meters)"
    assert reasons[("run", "harness_run_carbon_gco2e")] == "meters were off (--no-meters)"
    assert reasons[("task:facts_mc", "harness_task_energy_joules_per_example")] == "GPU: NVML Shared Library Not Found"


def test_grafana_dashboard_names_only_exported_metrics():
    dashboard = json.loads((REPO / "docs" / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    exprs += [v["query"]["query"] if isinstance(v.get("query"), dict) else v.get("query", "")
              for v in dashboard.get("templating", {}).get("list", [])]
    used = {name for e in exprs for name in re.findall(r"\bharness_[a-z0-9_]+", e)}
    assert len(used) >= 10
    from prometheus_client import generate_latest
    full = make_results("r1", T0, gate=GATE)
    full["models"]["tiny-gpt2"]["probes"]["bbq"]["metrics"]["s_dis"] = {"value": 0.1, "ci95": [0.0, 0.2], "n": 4}
    exported = {f.name for f in text_string_to_metric_families(generate_latest(build_registry(full)).decode())}
    exported |= {s.name for f in text_string_to_metric_families(generate_latest(build_registry(full)).decode()) for s in f.samples}
    assert used <= exported, sorted(used - exported)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def pushgateway(tmp_path):
    if not PUSHGATEWAY.exists():
        pytest.skip(f"{PUSHGATEWAY} is not installed (apt-get install prometheus-pushgateway; .ci/run installs it)")
    port = _free_port()
    proc = subprocess.Popen([str(PUSHGATEWAY), f"--web.listen-address=127.0.0.1:{port}",
                             f"--persistence.file={tmp_path / 'pushgateway.db'}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{url}/-/ready", timeout=1).read()
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"pushgateway exited: {proc.stderr.read().decode()[-500:]}")
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_push_to_a_real_pushgateway(tmp_path, pushgateway, capsys):
    run = make_run(tmp_path, "r1", T0, accuracy=(0.625, 0.375, 0.875), gate=GATE)
    proc = in_process(capsys, "export", str(run), "--pushgateway", pushgateway)
    assert proc.returncode == 0, proc.stderr
    assert "pushed 2 metric groups" in proc.stdout
    got = _samples(urllib.request.urlopen(f"{pushgateway}/metrics", timeout=5).read().decode())
    key = (("instance", ""), ("job", "harness"), ("metric", "accuracy"), ("model", "tiny-gpt2"), ("run", "r1"), ("task", "facts_mc"))
    assert got[("harness_task_metric", key)] == 0.625
    assert got[("harness_run_energy_joules", (("instance", ""), ("job", "harness"), ("run", "r1"), ("source", "estimated")))] == 35.0
    groups = json.loads(urllib.request.urlopen(f"{pushgateway}/api/v1/metrics", timeout=5).read())["data"]
    labels = sorted(tuple(sorted(g["labels"].items())) for g in groups)
    assert labels == [(("job", "harness"), ("model", "tiny-gpt2"), ("run", "r1")), (("job", "harness"), ("run", "r1"))]
    # a second push of the same run replaces its groups (PUT), with the new numbers
    res = json.loads((run / "results.json").read_text())
    res["models"]["tiny-gpt2"]["tasks"]["facts_mc"]["metrics"]["accuracy"]["value"] = 0.75
    push(res, pushgateway)
    got = _samples(urllib.request.urlopen(f"{pushgateway}/metrics", timeout=5).read().decode())
    assert got[("harness_task_metric", key)] == 0.75
    assert len(json.loads(urllib.request.urlopen(f"{pushgateway}/api/v1/metrics", timeout=5).read())["data"]) == 2


def test_push_to_nothing_is_one_line(tmp_path, capsys):
    run = make_run(tmp_path, "r1", T0)
    assert_one_line_error(in_process(capsys, "export", str(run), "--pushgateway", f"http://127.0.0.1:{_free_port()}"),
                          "cannot push to the Pushgateway")
    assert_one_line_error(in_process(capsys, "export", str(run)), "nothing to export")
    assert_one_line_error(in_process(capsys, "export", str(tmp_path / "nope"), "--tensorboard", str(tmp_path / "tb")), "not a run folder")


def _events(folder: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(str(folder))
    acc.Reload()
    return acc


def test_tensorboard_events_read_back(tmp_path, capsys):
    rows = [f"1000.{k},{k / 10},sample,,0,{200 + k},,,{1400 - k},1600,{1400 - k},0,,{60 + k},90,40,1000,300,25.5,estimated\n"
            for k in range(5)]
    run = make_run(tmp_path, "r1", T0, accuracy=(0.625, 0.375, 0.875),
                   telemetry=TELEMETRY_HEADER + "1000.0,0,begin,run:r1,,,,,,,,,,,,,,,,\n" + "".join(rows))
    proc = in_process(capsys, "export", str(run), "--tensorboard", str(tmp_path / "tb"))
    assert proc.returncode == 0, proc.stderr
    acc = _events(tmp_path / "tb" / "r1")
    tags = set(acc.Tags()["scalars"])
    assert acc.Scalars("tiny-gpt2/task/facts_mc/accuracy")[0].value == 0.625
    assert acc.Scalars("tiny-gpt2/task/facts_mc/accuracy/ci95_upper")[0].value == 0.875
    assert acc.Scalars("tiny-gpt2/energy/facts_mc/j_per_example")[0].value == 1.5
    power = acc.Scalars("telemetry/gpu0/power_w")
    assert [e.value for e in power] == [200, 201, 202, 203, 204] and [e.step for e in power] == [0, 100, 200, 300, 400]
    assert [e.value for e in acc.Scalars("telemetry/gpu0/sm_clock_mhz")] == [1400, 1399, 1398, 1397, 1396]
    assert "telemetry/host/cpu_power_w" in tags
    assert "tiny-gpt2/probe/bbq/s_dis" not in tags                   # not measured: not written as 0
    assert "s_dis" in acc.Tensors("not_measured/text_summary")[0].tensor_proto.string_val[0].decode()
    proc = in_process(capsys, "export", str(run), "--tensorboard", str(tmp_path / "tb"))       # again: replaced, not doubled
    assert proc.returncode == 0, proc.stderr
    assert len(list((tmp_path / "tb" / "r1").glob("events.out.tfevents.*"))) == 1
    assert len(_events(tmp_path / "tb" / "r1").Scalars("telemetry/gpu0/power_w")) == 5


@pytest.mark.slow
def test_harness_run_exports_a_cpu_run(tmp_path, capsys):
    out, tb, prom = tmp_path / "reports", tmp_path / "tb", tmp_path / "harness.prom"
    proc = in_process(capsys, "run", "--model", "tiny-gpt2", "--tasks", "facts_mc", "--limit", "4", "--no-probes", "--idle-seconds", "0",
                   "--carbon-intensity", "300", "--out", str(out), "--prometheus-textfile", str(prom), "--tensorboard", str(tb))
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    results = json.loads((run_dir / "results.json").read_text())
    got = _samples(prom.read_text())
    acc = results["models"]["tiny-gpt2"]["tasks"]["facts_mc"]["metrics"]["accuracy"]["value"]
    assert got[("harness_task_metric", (("metric", "accuracy"), ("model", "tiny-gpt2"), ("task", "facts_mc")))] == acc
    energy = results["energy"]["run"]["total_energy_j"]
    assert got[("harness_run_energy_joules", (("source", energy["source"]),))] == energy["value"]
    tags = set(_events(tb / run_dir.name).Tags()["scalars"])
    assert "tiny-gpt2/task/facts_mc/accuracy" in tags
    if not results["environment"]["gpus"]:
        # no GPU here: its energy is counted as not measured with NVML's reason, and TensorBoard has no GPU tags
        reason = results["energy"]["run"]["gpu_energy_j"]["reason"]
        assert got[("harness_not_measured", (("figure", "harness_run_device_energy_joules:gpu"), ("model", ""),
                                             ("reason", reason), ("target", "run")))] == 1
        assert not any(t.startswith("telemetry/gpu") for t in tags)
        from harness.meters.session import read_telemetry
        host = [r for r in read_telemetry(run_dir) if r["event"] == "sample" and r["cpu_power_w"]]
        assert ("telemetry/host/cpu_power_w" in tags) == bool(host)          # what the sampler wrote, nothing more
    assert (out / "history.sqlite").is_file()


def _one_reply_server(reply: bytes) -> int:
    import threading
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)

    def answer():
        while True:
            conn, _ = server.accept()
            conn.recv(65536)
            conn.sendall(reply)
            conn.close()
    threading.Thread(target=answer, daemon=True).start()
    return server.getsockname()[1]


def test_a_pushgateway_url_that_is_not_an_http_server_is_one_line(tmp_path, capsys):
    run = make_run(tmp_path, "r1", T0)
    port = _one_reply_server(b"SSH-2.0-OpenSSH_9.6\r\n")           # something that is not HTTP on that port
    assert_one_line_error(in_process(capsys, "export", str(run), "--pushgateway", f"http://127.0.0.1:{port}"),
                          "cannot push to the Pushgateway")
    for url in ("file:///etc/passwd", "ftp://127.0.0.1/x"):
        assert_one_line_error(in_process(capsys, "export", str(run), "--pushgateway", url), "not an http(s) URL")


@pytest.mark.parametrize("flag, where, needle", [
    ("--prometheus-textfile", "missing/m.prom", "no folder"),
    ("--pushgateway", "file:///etc/passwd", "not an http(s) URL"),
    ("--tensorboard", "afile", "not a folder"),
])
def test_an_export_that_cannot_happen_is_refused_before_the_run(tmp_path, capsys, flag, where, needle):
    (tmp_path / "afile").write_text("x")
    target = where if "://" in where else str(tmp_path / where)
    out = tmp_path / "reports"
    proc = in_process(capsys, "run", "--model", "tiny-gpt2", "--tasks", "facts_mc", "--limit", "2", "--no-probes",
                      "--no-meters", "--out", str(out), flag, target)
    assert_one_line_error(proc, needle)
    assert not out.exists() or not any(out.iterdir())          # no run was started


@pytest.mark.parametrize("run_id", ["../victim", "/tmp", "..", "a/../../victim"])
def test_a_run_id_that_is_a_path_cannot_steer_the_tensorboard_folder(tmp_path, capsys, run_id):
    run = make_run(tmp_path, "r1", T0)
    res = json.loads((run / "results.json").read_text())
    res["run"]["id"] = run_id
    (run / "results.json").write_text(json.dumps(res))
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "events.out.tfevents.keep").write_text("someone else's events")
    proc = in_process(capsys, "export", str(run), "--tensorboard", str(tmp_path / "tb"))
    assert_one_line_error(proc, "run.id")
    assert (victim / "events.out.tfevents.keep").exists()
