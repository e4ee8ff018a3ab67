"""torchrun faults (harness/distributed/): a rank that stops answering before the first gather makes the
others give up after HARNESS_DIST_TIMEOUT_S with one line (not after gloo's own timeout, ~100 s, as an
"internal error"), and a rank killed at any point - before the first gather, before rank 0 has built
its meters, mid-task - leaves results.json marked incomplete, as the README says."""
from __future__ import annotations

import json
import time

import pytest

from harness.distributed.group import Group, Rank
from harness.errors import HarnessError
from test_distributed import ARGS, folder_in, torchrun


@pytest.mark.slow
def test_a_rank_stopped_before_the_first_gather_is_given_up_on_after_the_harness_timeout(tmp_path):
    started = time.monotonic()
    proc = torchrun("run", *ARGS, "--no-meters", "--out", str(tmp_path / "out"), script="dist_fault.py",
                    env={"HARNESS_TEST_HANG": "1", "HARNESS_DIST_TIMEOUT_S": "3"}, timeout=120)
    assert proc.returncode != 0
    assert time.monotonic() - started < 60, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("harness: error:")]
    assert errors and "rank 0 waited 3 s for the other ranks at the start of the run (each rank's GPU)" in errors[0]
    assert "internal error" not in proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("nth", [0, 1, 6])    # before the first gather, at once (rank 0 may still be building its meters), mid-task
def test_a_killed_rank_leaves_results_json_marked_incomplete(tmp_path, nth):
    out = tmp_path / "out"
    proc = torchrun("run", *ARGS, "--out", str(out), "--idle-seconds", "0", script="dist_fault.py",
                    env={"HARNESS_TEST_KILL": f"1:{nth}"})
    assert proc.returncode != 0 and ("Signal 9" in proc.stderr or "SIGKILL" in proc.stderr), proc.stderr[-3000:]
    folder = folder_in(out)
    assert (folder / "results.json").is_file(), proc.stderr[-4000:]
    results = json.loads((folder / "results.json").read_text())
    status = results["run"]["status"]          # torchrun's SIGTERM, or gloo telling rank 0 first that its peer is gone
    assert status == "incomplete: terminated" or status.startswith("incomplete: rank 0 lost the other ranks"), status
    assert (folder / "report.html").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("signum,status", [("TERM", "incomplete: terminated"), ("INT", "incomplete: interrupted")])
def test_rank_0_stopped_while_it_waits_at_the_end_of_the_run_still_writes_results_json(tmp_path, signum, status):
    """Under load rank 0 finished its part first and waited at the last barrier when torchrun's SIGTERM
    came (another rank had died): it said "what was computed is written", and no results.json was."""
    out = tmp_path / "out"
    proc = torchrun("run", *ARGS, "--out", str(out), "--idle-seconds", "0", script="dist_fault.py",
                    env={"HARNESS_TEST_TERM_AT_END": "0", "HARNESS_TEST_SIGNAL": signum})
    assert proc.returncode != 0
    folder = folder_in(out)
    assert (folder / "results.json").is_file(), proc.stderr[-4000:]
    results = json.loads((folder / "results.json").read_text())
    assert results["run"]["status"] == status
    assert (folder / "report.html").is_file()


def test_the_object_collectives_meet_at_a_polled_barrier_and_a_lost_peer_is_one_line():
    calls = []

    class Work:
        def is_completed(self):
            return True

        def wait(self):
            calls.append("barrier")

    class Dist:
        def barrier(self, async_op):
            return Work()

        def broadcast_object_list(self, box, src):
            calls.append("broadcast")

        def all_gather_object(self, out, value):
            raise RuntimeError("Connection closed by peer [127.0.0.1]:29500\ndetails")

    group = Group(Rank(), timeout=1)
    group._dist, group.rank = Dist(), Rank(0, 2)
    group.broadcast({"dir": "x"})
    assert calls == ["barrier", "broadcast"]
    with pytest.raises(HarnessError, match=r"lost the other ranks at the start of the run \(Connection closed by peer"):
        group.gather("x")
