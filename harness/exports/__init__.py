"""Monitoring exports of a finished run: Prometheus (a node_exporter textfile, a Pushgateway) and
TensorBoard events. `harness run --prometheus-textfile/--pushgateway/--tensorboard` exports the run
it just finished (harness/exports/after_run.py); `harness export RUN_DIR ...` exports an existing one."""
from __future__ import annotations

from pathlib import Path


def export(results, run_dir: Path, *, textfile: Path | None = None, pushgateway: str | None = None,
           tensorboard: Path | None = None) -> list[str]:
    """Does each export asked for (``results``: harness.results.Results); returns one line per export done."""
    done = []
    if textfile is not None:
        from harness.exports.prometheus import write_textfile
        write_textfile(results, textfile)
        done.append(f"wrote Prometheus metrics to {textfile}")
    if pushgateway:
        from harness.exports.prometheus import push
        groups = push(results, pushgateway)
        done.append(f"pushed {len(groups)} metric groups (job harness) to {pushgateway}")
    if tensorboard is not None:
        from harness.exports.tensorboard import write_events
        done.append(f"wrote TensorBoard events to {write_events(results, run_dir, tensorboard)}")
    return done
