"""`harness list`: the registered tasks, models, metrics, probes, meters or report sections."""
from __future__ import annotations

from pathlib import Path

HELP = "list registered tasks, models, metrics, probes, meters or report sections"


def add_parser(sub, epilog: str) -> None:
    lst = sub.add_parser("list", help=HELP)
    lst.add_argument("what", nargs="?", default="tasks", choices=["tasks", "models", "metrics", "probes", "meters", "sections"])
    lst.add_argument("--tasks-dir", action="append", type=Path, default=[], metavar="DIR")


def execute(args, argv: list[str]) -> int:
    from harness import catalog
    from harness.plugins import METERS, METRICS, MODELS, REPORT_SECTIONS
    if args.what == "tasks":
        rows = [(t.name, t.kind, t.description.strip().splitlines()[0] if t.description.strip() else t.source)
                for t in sorted(catalog.discover(args.tasks_dir).values(), key=lambda t: t.name)]
    elif args.what == "probes":         # a configured probe named as its plugin is listed once; another name says its plugin
        rows = [(c.name, c.description if c.name == c.probe else f"(probe {c.probe}) {c.description}")
                for c in sorted(catalog.discover_probes(args.tasks_dir).values(), key=lambda c: c.name)]
    elif args.what == "metrics":
        rows = [(name, "higher is better" if cls.higher_is_better else "lower is better", cls.description_)
                for name, cls in METRICS.items()]
    elif args.what == "sections":           # in the order report.html shows them; a broken plugin is listed, not fatal
        rows = [(name, REPORT_SECTIONS.origin(name), REPORT_SECTIONS.describe(name))
                for name in REPORT_SECTIONS.in_order(tolerant=True)]
        rows += [(name, REPORT_SECTIONS.origin(name), f"failed to load: {why}") for name, why in REPORT_SECTIONS.broken.items()]
    else:
        registry = {"models": MODELS, "meters": METERS}[args.what]
        rows = [(name, registry.origin(name), registry.describe(name)) for name in registry.names()]
    if not rows:
        print(f"no {args.what} registered")
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))] if rows else []
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
        if args.what == "models":
            print(" " * (widths[0] + 2) + "options: " + model_options(row[0]))
    return 0


def model_options(name: str) -> str:
    """The ,key=value options a model spec may give this adapter, with the values each takes (read
    without importing a built-in adapter's module: harness.models.OPTIONS_OF)."""
    from harness.models import declared_options
    from harness.models.variants import OPTION_FORMS
    allowed = declared_options(name)
    if name == "py":
        return "the keyword arguments CALLABLE takes, passed to it as given (dtype=, quantize=, prune= too: harness applies no recipe)"
    if allowed is None:
        return "not declared (the adapter reads its spec's options itself)"
    if not allowed:
        return "none"
    forms = {**OPTION_FORMS, "revision": "REVISION", "head": "FOLDER"}
    return ", ".join(f"{key}={forms.get(key, 'VALUE')}" for key in sorted(allowed))
