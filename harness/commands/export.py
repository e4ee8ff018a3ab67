"""`harness export`: a finished run's figures to Prometheus (textfile, Pushgateway) and TensorBoard."""
from __future__ import annotations

from pathlib import Path

from harness.errors import HarnessError

HELP = "export a finished run to Prometheus (textfile, Pushgateway) and TensorBoard"


def add_parser(sub, epilog: str) -> None:
    from harness.exports.after_run import add_arguments
    p = sub.add_parser("export", help=HELP, description="Exports the headline metrics, energy and carbon of RUN_DIR. "
                       "Figures that read not_measured are left out and counted in harness_not_measured.")
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    add_arguments(p)


def execute(args, argv: list[str]) -> int:
    from harness.results.reading import read_results
    from harness.exports import export
    if not (args.prometheus_textfile or args.pushgateway or args.tensorboard):
        raise HarnessError("harness export: nothing to export",
                           "pass --prometheus-textfile FILE, --pushgateway URL and/or --tensorboard DIR")
    if not args.run_dir.is_dir():
        raise HarnessError(f"{args.run_dir} is not a run folder", "pass a folder written by `harness run`")
    from harness.output_guard import check_output
    if args.prometheus_textfile is not None:
        check_output(args.prometheus_textfile, "--prometheus-textfile", "prometheus")
    if args.tensorboard is not None:
        check_output(args.tensorboard, "--tensorboard", "folder")
    results = read_results(args.run_dir)
    for line in export(results, args.run_dir, textfile=args.prometheus_textfile, pushgateway=args.pushgateway,
                       tensorboard=args.tensorboard):
        print(line)
    return 0
