"""Scale-out on torchrun (harness/distributed/): a run sharded across 2 CPU ranks (gloo) gives the
same metric values as one process, meters each rank's GPU and each node's host once, and a rank
killed mid-run is finished by a resume (on 2 ranks, or re-sharded onto 1) with the same numbers.

Three torchrun starts in all (a metered run; a run whose rank 1 kills itself; its resume), each a
few seconds of process start-up. ``--batch-size 1`` fixes the batches, so even the continuous
log-likelihood scores are bit-for-bit those of one process (with automatic batching each rank's
batches hold other items, padded otherwise, and those scores differ in float32's last digits, as
in a resumed single-process run)."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
import pytest

from support import close

from harness.cli import main
from harness.distributed import run as rank_run
from harness.distributed.group import Group, Rank, launched
from harness.distributed.merge import LAYOUT, merge_failures, merge_models, merge_run_dir, read_layout, read_shard
from harness.distributed.sharded import Sharded
from harness.distributed.store import ShardedDone, ShardState
from harness.errors import HarnessError
from harness.meters.energy import aggregate, covering
from harness.meters.figures import measured, not_measured

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
ARGS = ["--model", "tiny-gpt2", "--tasks", "facts_mc,toylang", "--limit", "8", "--probes", "crows_pairs",
        "--probe-limit", "2", "--no-progress", "--batch-size", "1"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(*args: str, nproc: int = 2, script: str | None = None, env: dict | None = None,
             timeout: float = 240) -> subprocess.CompletedProcess:
    target = [str(TESTS / script)] if script else ["-m", "harness"]
    clean = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    path = os.pathsep.join([str(REPO), clean.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(nproc),
                           "--master-addr", "127.0.0.1", "--master-port", str(free_port()), *target, *args],
                          capture_output=True, text=True, timeout=timeout,
                          env={**clean, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", **(env or {})})


def folder_in(out: Path) -> Path:
    found = [p for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert len(found) == 1, found
    return found[0]


def numbers(results: dict) -> dict:
    """Every task's and probe's results without their energy: counts, metrics, subgroups, examples."""
    model = results["models"]["tiny-gpt2"]
    strip = lambda d: {k: v for k, v in d.items() if k != "energy"}  # noqa: E731
    return {"tasks": {t: strip(r) for t, r in model["tasks"].items()},
            "probes": {p: strip(r) for p, r in model["probes"].items()}}


def keys(folder: Path) -> list[tuple]:
    return [(r["model"], r["task"], r["id"]) for r in map(json.loads, (folder / "samples.jsonl").read_text().splitlines())]


@pytest.fixture(scope="module")
def single(tmp_path_factory) -> Path:
    """One process, in this interpreter: the numbers every sharded run must give."""
    out = tmp_path_factory.mktemp("single")
    assert main(["run", *ARGS, "--no-meters", "--out", str(out)]) == 0
    folder = folder_in(out)
    assert len(keys(folder)) == 8 + 8 + 18
    return folder


@pytest.fixture(scope="module")
def metered(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("metered")
    proc = torchrun("run", *ARGS, "--idle-seconds", "0", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "(2 ranks, 1 node)" in proc.stderr
    return folder_in(out)


# ------------------------------------------------------------------ end to end on 2 ranks


@pytest.mark.slow
def test_two_ranks_give_the_single_process_numbers(metered, single):
    results = json.loads((metered / "results.json").read_text())
    assert results["run"]["status"] == "complete"
    assert close(numbers(results), numbers(json.loads((single / "results.json").read_text())))
    assert sorted(keys(metered)) == sorted(keys(single))                 # merged: every item once
    ranks = {k: [json.loads(line) for line in (metered / f"ranks/rank{k}/samples.jsonl").read_text().splitlines()]
             for k in (0, 1)}
    for task, total in (("facts_mc", 8), ("toylang", 8), ("probe:crows_pairs", 18)):
        mine = [{r["id"] for r in ranks[k] if r["task"] == task} for k in (0, 1)]
        assert not mine[0] & mine[1] and len(mine[0]) + len(mine[1]) == total
        assert abs(len(mine[0]) - len(mine[1])) <= 1                       # dealt round-robin
    assert {r["index"] % 2 for r in ranks[1] if r["task"] == "facts_mc"} == {1}
    dist = results["run"]["distributed"]
    assert dist["world_size"] == 2 and len(dist["invocations"]) == 1


@pytest.mark.slow
def test_metered_ranks_count_the_host_once_and_sum_across_ranks(metered):
    windows = [json.loads(line) for line in (metered / "windows.jsonl").read_text().splitlines()]
    assert {w["rank"] for w in windows} == {0, 1}
    assert len({w["invocation"] for w in windows}) == 1                  # one invocation id, shared by the ranks
    runs = {w["rank"]: w for w in windows if w["kind"] == "run"}
    assert "cpu_energy_j" in runs[0]["figures"] and "cpu_energy_j" not in runs[1]["figures"]   # local rank 0 only
    results = json.loads((metered / "results.json").read_text())
    run = results["energy"]["run"]
    assert run["ranks"] == 2
    assert run["cpu_energy_j"]["value"] == runs[0]["figures"]["cpu_energy_j"]["value"]        # not doubled
    assert run["duration_s"]["value"] == max(w["duration_s"] for w in runs.values())         # the slowest rank
    assert run["examples"] == 8 + 8 + 18
    for task in ("facts_mc", "toylang"):
        energy = results["models"]["tiny-gpt2"]["tasks"][task]["energy"]
        assert energy["examples"] == 8 and energy["ranks"] == 2
    assert set(results["energy"]["meters"]["by_rank"]) == {"0", "1"}
    assert "host" not in results["energy"]["meters"]["by_rank"]["1"]
    assert (metered / "telemetry.csv").is_file() and "tiny-gpt2" in (metered / "report.html").read_text()


@pytest.mark.slow
def test_a_rank_killed_mid_run_then_resume_on_two_or_one_ranks_gives_the_same_numbers(tmp_path, single):
    out = tmp_path / "killed"
    proc = torchrun("run", *ARGS, "--no-meters", "--out", str(out), script="dist_fault.py",
                    env={"HARNESS_TEST_KILL": "1:6"})       # rank 1 dies storing its 6th record (mid toylang)
    assert proc.returncode != 0
    assert "Signal 9" in proc.stderr or "SIGKILL" in proc.stderr, proc.stderr[-3000:]   # torchrun names the rank
    folder = folder_in(out)
    stored = [json.loads(line) for line in (folder / "ranks/rank1/samples.jsonl").read_text().splitlines()]
    assert len(stored) == 5
    if (folder / "results.json").exists():                   # rank 0, stopped by torchrun, wrote what there was
        assert json.loads((folder / "results.json").read_text())["run"]["status"].startswith("incomplete")
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)

    proc = torchrun("run", "--resume", str(folder), "--no-progress")
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((folder / "results.json").read_text())
    assert results["run"]["status"] == "complete" and results["run"]["failures"] == []
    assert close(numbers(results), numbers(json.loads((single / "results.json").read_text())))
    assert sorted(keys(folder)) == sorted(keys(single))
    assert len(results["run"]["distributed"]["invocations"]) == 2

    assert main(["run", "--resume", str(copy), "--no-progress"]) == 0      # re-sharded onto one process
    results = json.loads((copy / "results.json").read_text())
    assert close(numbers(results), numbers(json.loads((single / "results.json").read_text())))
    assert [i["world_size"] for i in results["run"]["distributed"]["invocations"]] == [2, 1]


# ------------------------------------------------------------------ pure parts


def window(rank, path, duration, invocation="a", **figures) -> dict:
    kind, name = path.split("/")[-1].split(":")
    return {"path": path, "kind": kind, "name": name, "invocation": invocation, "rank": rank, "duration_s": duration,
            "examples": 2, "figures": figures}


def test_energy_sums_across_ranks_and_time_is_the_slowest_rank():
    j = lambda v, source="nvml_energy_counter": measured(v, "J", source)  # noqa: E731
    windows = [window(0, "run:r", 5.0, gpu_energy_j=j(100.0), cpu_energy_j=j(10.0, "rapl")),
               window(1, "run:r", 6.0, gpu_energy_j=j(120.0)),
               window(0, "run:r", 2.0, "b", gpu_energy_j=j(40.0), cpu_energy_j=j(4.0, "rapl")),  # a resume,
               window(1, "run:r", 3.0, "b", gpu_energy_j=j(30.0))]                                 # on 2 ranks
    agg = aggregate(windows)
    assert agg["duration_s"] == 6.0 + 3.0                      # per invocation the slowest rank; summed
    assert agg["gpu_energy_j"] == j(290.0)                     # every rank's GPU
    assert agg["cpu_energy_j"] == j(14.0, "rapl")              # the host, from the rank that meters it
    assert agg["examples"] == 8 and agg["ranks"] == 2 and agg["invocations"] == 2
    single = aggregate([{k: v for k, v in w.items() if k != "rank"} for w in windows[:1]])
    assert single["duration_s"] == 5.0 and "ranks" not in single          # unsharded windows: as before


def test_a_rank_whose_meter_failed_makes_the_total_not_measured_with_its_name():
    windows = [window(0, "run:r", 5.0, gpu_energy_j=measured(100.0, "J", "nvml_energy_counter")),
               window(1, "run:r", 5.0, gpu_energy_j=not_measured("J", "GPU: GPU is lost"))]
    figure = aggregate(windows)["gpu_energy_j"]
    assert figure["value"] is None and figure["reason"] == "rank 1: GPU: GPU is lost"


def test_a_killed_rank_is_covered_by_its_closed_windows():
    """Rank 1 was killed: its run and model windows never closed; its closed task window still counts."""
    j = lambda v: measured(v, "J", "nvml_energy_counter")  # noqa: E731
    windows = [window(0, "run:r/model:m/task:t", 4.0, gpu_energy_j=j(40.0)),
               window(0, "run:r/model:m", 5.0, gpu_energy_j=j(50.0)), window(0, "run:r", 6.0, gpu_energy_j=j(60.0)),
               window(1, "run:r/model:m/task:t", 3.0, gpu_energy_j=j(30.0))]
    chosen = covering(windows, "run:r")
    assert sorted((w["rank"], w["path"]) for w in chosen) == [(0, "run:r"), (1, "run:r/model:m/task:t")]
    assert aggregate(chosen)["gpu_energy_j"]["value"] == 90.0


def test_probe_items_are_dealt_round_robin_in_asking_order_over_those_not_stored():
    items = [f"i{k}" for k in range(7)]
    stored = {"i0", "i3"}
    parts = []
    for rank in (0, 1):
        done = ShardedDone(stored, rank, 2)
        parts.append([i for i in items if i not in done])
        assert done and done.positions == {i: k for k, i in enumerate(items)}
    assert parts == [["i1", "i4", "i6"], ["i2", "i5"]]
    lonely = ShardedDone(set(), 1, 2)
    assert [i for i in ["only"] if i not in lonely] == [] and lonely      # another rank's: not "no items"
    assert not ShardedDone(set(), 0, 2)


def test_failures_merge_a_piece_cleared_by_the_rank_that_retried_it():
    old = {"model": "m", "kind": "task", "piece": "t", "error": "boom", "fix": "x"}
    kept = {"model": "m", "kind": "load", "piece": None, "error": "w", "fix": "x"}
    new = {"model": "m", "kind": "probe", "piece": "p", "error": "p", "fix": "x"}
    shards = [{"failures": [kept], "attempted": {("m", "task", "t")}},       # retried t: cleared
              {"failures": [old, kept, new], "attempted": {("m", "probe", "p")}}]   # had nothing of t left
    assert merge_failures([old, kept], shards) == [new, kept]


def test_a_shard_written_before_failures_were_data_is_read_in_the_new_shape(tmp_path):
    """A sharded folder from an older harness: its shards' failures and attempted pieces hold the words
    ("task 't'"); a resume merges them as records."""
    (tmp_path / "run.json").write_text(json.dumps({"failures": [{"model": "m", "what": 'task "it\'s"', "error": "e",
                                                                  "fix": "f"}]}))
    (tmp_path / "shard.json").write_text(json.dumps({"rank": 0, "attempted": [["m", 'task "it\'s"'], ["m", "warm-up"]]}))
    shard = read_shard(tmp_path)
    assert shard["failures"] == [{"model": "m", "kind": "task", "piece": "it's", "error": "e", "fix": "f"}]
    assert shard["attempted"] == {("m", "task", "it's"), ("m", "load", None)}


def test_merged_models_mark_a_probe_done_only_when_every_rank_did_its_part():
    shards = [{"models": {"m": {"kind": "causal", "probes_done": ["a", "b"], "batch_size": 64}}},
              {"models": {"m": {"kind": "causal", "probes_done": ["a"], "batch_size": 32}}}]
    assert merge_models(["m", "n"], shards) == {"m": {"kind": "causal", "probes_done": ["a"], "batch_size": 32}}


def test_torchrun_resume_of_a_single_process_folder_is_refused(tmp_path):
    from harness.spec import RunOptions
    (tmp_path / "run.json").write_text("{}")
    options = RunOptions(argv=("run", "--resume", str(tmp_path)), resume=tmp_path)
    with pytest.raises(HarnessError, match="started as one process"):
        rank_run._begin(Rank(0, 2), options, start=lambda: pytest.fail("must refuse first"))


def test_a_fixed_cuda_device_under_torchrun_is_refused():
    from harness.spec import ModelSpec, RunSpec, RuntimeOptions
    spec = RunSpec(models=(ModelSpec.parse("tiny-gpt2"),), tasks=(), runtime=RuntimeOptions(device="cuda:1"))
    with pytest.raises(HarnessError, match="every rank on one GPU"):
        rank_run._rank_runtime(spec, Rank(1, 2, local_rank=1))


def test_torchrun_environment_is_read_and_a_bad_one_is_an_input_error():
    rank = Rank.from_env({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "GROUP_RANK": "1",
                                      "GROUP_WORLD_SIZE": "2"})
    assert rank == Rank(rank=3, world=4, local_rank=1, node=1, nodes=2)
    assert not launched({}) and launched({"WORLD_SIZE": "2"})
    with pytest.raises(HarnessError, match="malformed"):
        Rank.from_env({"WORLD_SIZE": "two"})


def test_two_ranks_on_one_gpu_are_refused():
    rank_run._one_gpu_each([("a", "GPU-1"), ("a", "GPU-2"), ("b", "GPU-1"), ("a", None), ("a", None)])
    with pytest.raises(HarnessError, match="ranks 0 and 2 share the GPU GPU-1 on a"):
        rank_run._one_gpu_each([("a", "GPU-1"), ("a", "GPU-2"), ("a", "GPU-1")])


def test_merging_the_shards_is_idempotent_and_ignores_stale_shards(tmp_path):
    """Rank 0 merges at the end of an invocation and again at the next start (it may have been
    killed before it could): the second merge changes nothing, and a shard an older, larger
    invocation left behind adds its records but not its state."""
    from harness.run_dir import RunState
    from harness.spec import ModelSpec, RunSpec
    from harness.store import write_json_atomic
    state = RunState.create(tmp_path, RunSpec(models=(ModelSpec.parse("tiny-gpt2"),), tasks=("t",)), argv=[])
    write_json_atomic(state.dir / LAYOUT, {"invocations": [{"id": "old", "world_size": 3},
                                                                       {"id": "new", "world_size": 2}]})
    failure = {"model": "tiny-gpt2", "kind": "task", "piece": "t", "error": "e", "fix": "f"}
    for rank, invocation, failures in ((0, "new", []), (1, "new", [failure]), (2, "old", [failure])):
        shard = ShardState(dir=state.dir / "ranks" / f"rank{rank}", id=state.id, spec=state.spec, argv=[],
                                       started=state.started, failures=failures,
                                       models={"tiny-gpt2": {"kind": "causal", "probes_done": ["p"] if rank < 2 else []}},
                                       identity={"rank": rank, "invocation": invocation},
                                       attempted={("tiny-gpt2", "task", "t")})
        shard.dir.mkdir(parents=True)
        shard.save()
        (shard.dir / "samples.jsonl").write_text(json.dumps({"model": "tiny-gpt2", "task": "t", "id": str(rank),
                                                             "index": rank}) + "\n")
    merged, _ = merge_run_dir(state.dir)
    first = (state.dir / "run.json").read_text()
    assert merged.failures == [failure] and merged.models["tiny-gpt2"]["probes_done"] == ["p"]
    merge_run_dir(state.dir)
    assert (state.dir / "run.json").read_text() == first
    assert [r["id"] for r in map(json.loads, (state.dir / "samples.jsonl").read_text().splitlines())] == ["0", "1", "2"]


def test_a_wait_for_other_ranks_times_out_or_names_a_lost_rank_instead_of_hanging():
    class Work:
        def __init__(self, done, error=None):
            self.done, self.error = done, error

        def is_completed(self):
            return self.done

        def wait(self):
            if self.error:
                raise RuntimeError(self.error)

    class Dist:
        work = Work(False)

        def barrier(self, async_op):
            assert async_op                     # polled, so SIGTERM is handled while waiting
            return self.work

    group = Group(Rank(), timeout=0.2)
    group._dist, group.rank = Dist(), Rank(0, 2)
    with pytest.raises(HarnessError, match="rank 0 waited 0 s for the other ranks at the end"):
        group.barrier("the end")
    Dist.work = Work(True, "Connection closed by peer [127.0.0.1]:1234\nmore")
    with pytest.raises(HarnessError, match=r"lost the other ranks at the end \(Connection closed by peer"):
        group.barrier("the end")


@pytest.mark.parametrize("run_json, shard_json", [("[]", "{}"), ("{}", "[1]"), ("{}", '{"attempted": 3}'),
                                                  ("{}", '{"attempted": [5]}')])
def test_a_damaged_shard_or_layout_is_treated_as_missing_not_a_traceback(tmp_path, run_json, shard_json):
    (tmp_path / "run.json").write_text(run_json)
    (tmp_path / "shard.json").write_text(shard_json)
    assert read_shard(tmp_path) is None
    (tmp_path / LAYOUT).write_text("[1, 2]")
    assert read_layout(tmp_path) == {"invocations": []}


@pytest.mark.parametrize("local_rank, gpu, names", [(0, None, ("gpu", "host", "extra")), (1, None, ("extra",)),
                                                    (1, "GPU-7", ("gpu", "extra")), (0, "GPU-3", ("gpu", "host", "extra"))])
def test_a_rank_builds_its_meters_where_every_run_does_with_its_own_choices(tmp_path, monkeypatch, local_rank, gpu,
                                                                            names):
    """Sharded.session goes through harness.meters.build_session: the host once per node, the rank's own
    GPU (by UUID) through the registered gpu factory, and a plugin meter on every rank."""
    import harness.meters
    from harness.spec import MeterOptions
    seen = []

    def fake_build(options, run_dir):
        seen.append((options, run_dir))
        return harness.meters.MeterSession([], run_dir)
    import harness.distributed.sharded as sharded
    monkeypatch.setattr(sharded, "build_session", fake_build)
    shard = Sharded(Rank(rank=local_rank, world=2, local_rank=local_rank), Group(Rank(), 1.0), tmp_path, "inv1")
    shard.gpu = gpu
    session = shard.session(MeterOptions(names=("gpu", "host", "extra"), period_s=0.5))
    (options, run_dir), = seen
    assert options.names == names and options.gpu == gpu and options.period_s == 0.5
    assert run_dir == shard.dir and session.invocation == "inv1"
    gpu_meter = harness.meters.gpu_meter(options)
    assert gpu_meter._visible == (gpu if gpu is not None else os.environ.get("CUDA_VISIBLE_DEVICES"))
