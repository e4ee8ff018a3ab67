"""The harness command for one torchrun rank, with a fault: `python -m torch.distributed.run ...
tests/dist_fault.py run ...` with HARNESS_TEST_KILL=RANK:N makes that rank SIGKILL itself as it
stores its N-th record (a rank that dies mid-run, as on an out-of-memory kill or a lost node), or with
N = 0 as it reaches the first gather (a rank that dies before the run begins, e.g. loading its model);
HARNESS_TEST_HANG=RANK makes that rank stop answering before the first gather (a hung or stopped rank);
HARNESS_TEST_TERM_AT_END=RANK sends that rank SIGTERM as it reaches the barrier at the end of the run
(torchrun's agent stopping rank 0 while it waits there, because another rank failed), SIGINT with
HARNESS_TEST_SIGNAL=INT (Ctrl-C reaching it there)."""
from __future__ import annotations

import os
import signal
import sys

if __name__ == "__main__":
    fault = os.environ.get("HARNESS_TEST_KILL")
    if fault:
        rank, nth = (int(x) for x in fault.split(":"))
        if int(os.environ.get("RANK", "0")) == rank and nth == 0:
            from harness.distributed.group import Group
            Group.gather = lambda self, *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL)
        elif int(os.environ.get("RANK", "0")) == rank:
            from harness.store import SampleStore
            append, count = SampleStore.append, [0]

            def killing_append(self, record):
                count[0] += 1
                if count[0] == nth:
                    os.kill(os.getpid(), signal.SIGKILL)
                return append(self, record)
            SampleStore.append = killing_append
    hang = os.environ.get("HARNESS_TEST_HANG")
    if hang and int(os.environ.get("RANK", "0")) == int(hang):
        import time
        from harness.distributed.group import Group
        Group.gather = lambda self, *args, **kwargs: time.sleep(600)
    term = os.environ.get("HARNESS_TEST_TERM_AT_END")
    if term and int(os.environ.get("RANK", "0")) == int(term):
        from harness.distributed.group import Group
        barrier = Group.barrier

        def terminated_barrier(self, what):
            if what == "the end of the run":
                os.kill(os.getpid(), getattr(signal, "SIG" + os.environ.get("HARNESS_TEST_SIGNAL", "TERM")))
            return barrier(self, what)
        Group.barrier = terminated_barrier
    from harness.cli import main
    sys.exit(main(sys.argv[1:]))
