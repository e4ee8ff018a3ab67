"""Scale-out on torchrun: `torchrun --nproc-per-node N -m harness run ...` shards one run across ranks.

Nothing here is a cluster layer of its own: torchrun (single- or multi-node) starts the processes
and sets RANK, WORLD_SIZE, LOCAL_RANK, GROUP_RANK, MASTER_ADDR/PORT; torch.distributed (gloo: it
only carries a few small messages, so it works the same on CPU and GPU machines) carries the
few collectives a run needs: rank 0 tells the others which run folder to work in, the ranks
check that they hold one GPU each, and they wait for each other three times: once every rank has
read what is stored (the dealing depends on it), once per model (a model's probes read every
rank's task records), and at the end, before rank 0 merges. Each wait is polled with a timeout
(HARNESS_DIST_TIMEOUT_S, default 1800 s), so SIGTERM from torchrun's agent (another rank died)
is handled at once and a hung peer ends the wait with a message instead of hanging rank 0 forever.

The run folder (on a filesystem every node sees) holds one shard per rank, ranks/rank<k>/, laid
out like a run folder of its own: samples.jsonl, windows.jsonl, telemetry.csv and run.json (that
rank's models, skips and failures), plus shard.json (which rank, node and invocation wrote it,
the pieces it attempted, its meters). The runner stays rank-agnostic: it is handed a ``Shard``
(harness.shard; ``WHOLE`` for an ordinary run) that says which items are this process's, where it
appends, and where it waits.

* Sharding: every task's examples and every probe's items still missing when an invocation
  starts are dealt round-robin across ranks, in dataset order (tasks) and in the order the probe
  asks about them (probes, through ``ProbeContext.done``). Every rank reads every shard, so what
  any rank stored counts as done for all: a resume with a different world size simply deals what
  is left among the ranks it has (re-sharding), and a folder sharded once can also be finished by
  one plain `harness run --resume DIR`.
* Merging (rank 0): samples.jsonl is every shard's records (each key once), in a canonical order
  (probe items by the position the probe asked for them, so ties in ``index`` fall as in a
  single-process run); results are assembled from it exactly as for one process (metrics
  recomputed from records sorted by index), so the metric values are the same, bit for bit where
  the batches are fixed (--batch-size); with automatic batching a rank's batches hold other items,
  padded otherwise, so continuous log-likelihoods may differ in float32's last digits (as after a
  single-process resume).
* Energy: each rank meters its own GPU (cuda:LOCAL_RANK, chosen by UUID); host CPU/RAM is metered
  by local rank 0 only, once per node. windows.jsonl is every shard's windows with a ``rank``;
  harness.meters.ranks sums energy across ranks and takes, per invocation, the slowest rank's time.

The package, by job:

* ``group``: torchrun's ranks (``Rank``) and the few collectives over torch.distributed (``Group``);
* ``shards``: one rank's part of a run (``Sharded``, the runner's ``Shard`` on a rank), its records
  and its run state in RANKS/rank<k>/;
* ``merge``: rank 0 folds the shards into the run folder;
* ``run``: `harness run` on one rank, from the folder's creation to the command's end, which is
  the same as a single process's (harness.finish).
"""
