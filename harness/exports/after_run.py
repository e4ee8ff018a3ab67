"""`harness run`'s export consumer (an after-run consumer: harness.plugins.AFTER_RUN):
--prometheus-textfile, --pushgateway, --tensorboard (`harness export` takes the same flags)."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

ORDER = 30
RESUME_OPTIONS = frozenset({"prometheus_textfile", "pushgateway", "tensorboard"})


@dataclass(frozen=True)
class ExportOptions:
    prometheus_textfile: Path | None = None
    pushgateway: str | None = None
    tensorboard: Path | None = None


def add_arguments(parser) -> None:
    group = parser.add_argument_group("monitoring exports of the finished run")
    group.add_argument("--prometheus-textfile", type=Path, metavar="FILE",
                       help="write the headline metrics, energy and carbon in Prometheus' text format (for "
                            "node_exporter's textfile collector: name it *.prom)")
    group.add_argument("--pushgateway", metavar="URL", help="push the same metrics to a Prometheus Pushgateway "
                       "(job harness, grouping key run and model)")
    group.add_argument("--tensorboard", type=Path, metavar="DIR",
                       help="write the scalars and the power/clock timelines as TensorBoard events to DIR/<run-id>/")


def options(args) -> ExportOptions:
    return ExportOptions(prometheus_textfile=args.prometheus_textfile, pushgateway=args.pushgateway,
                         tensorboard=args.tensorboard)


def check(options: ExportOptions, spec) -> None:
    """Before the run (no run folder yet): an export that cannot happen is refused now, not after
    the whole audit has run."""
    from harness.errors import HarnessError
    textfile, url, tensorboard = options.prometheus_textfile, options.pushgateway, options.tensorboard
    if textfile is not None and (textfile.is_dir() or not textfile.parent.is_dir()):
        raise HarnessError(f"--prometheus-textfile {textfile}: " + ("that is a folder" if textfile.is_dir() else
                           f"there is no folder {textfile.parent}"), "pass a FILE.prom in an existing folder")
    if url:
        from harness.exports.prometheus import check_url
        check_url(url)
    if tensorboard is not None and tensorboard.exists() and not tensorboard.is_dir():
        raise HarnessError(f"--tensorboard {tensorboard} is not a folder", "pass a folder (it is created if missing)")
    from harness.output_guard import check_output          # outputs never overwrite inputs (one guard, every command)
    if textfile is not None:
        check_output(textfile, "--prometheus-textfile", "prometheus")
    if tensorboard is not None:
        check_output(tensorboard, "--tensorboard", "folder")


def after_run(options: ExportOptions, run) -> None:
    results, run_dir = run.results, run.dir
    from harness.exports import export
    for line in export(results, run_dir, textfile=options.prometheus_textfile, pushgateway=options.pushgateway,
                       tensorboard=options.tensorboard):
        print(line, file=sys.stderr)
    return None
