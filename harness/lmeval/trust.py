"""Code in lm-eval task files: allowed from lm-eval's own package, from other folders only with
``--trust-task-code``.

An lm-eval YAML runs Python in three ways, each checked here on every file a selection reads
(``harness.lmeval.index.files_read``) before lm-eval loads any of them:

* ``!function module.name``: lm-eval imports a .py file beside the YAML and runs it;
* a ``metric_list`` entry that lm-eval does not register (or marks ``hf_evaluate: true``): lm-eval
  hands the name to ``evaluate.load``, which runs a metric script from a path or the hub;
* Jinja templates (``doc_to_text`` and the like): lm-eval renders them in an unsandboxed Jinja
  environment, where ``{{ cycler.__init__.__globals__.os }}`` reaches the os module. Unless code is
  trusted, ``harness.lmeval.templates.sandbox_templates`` swaps in Jinja's SandboxedEnvironment
  (same output for templates that only read the document).

Files inside the installed lm-eval package are library code and pass. Anything else without the
flag is exit 2 naming the file, the line and the flag. The harness's own task format stays
code-free whatever the flag says.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import yaml

from harness.errors import HarnessError

FLAG = "--trust-task-code"


def _library_root() -> Path:
    import lm_eval
    return Path(lm_eval.__file__).resolve().parent


class _Scanner(yaml.SafeLoader):
    """Reads a YAML file as lm-eval does (its one extra tag: !function), noting each !function."""


def _scan(path: Path) -> tuple[dict, list[tuple[int, str]]]:
    found: list[tuple[int, str]] = []

    class Loader(_Scanner):
        pass

    def function(loader, node):
        found.append((node.start_mark.line + 1, str(loader.construct_scalar(node))))
        return "!function"

    Loader.add_constructor("!function", function)
    try:
        with path.open("rb") as fh:
            cfg = yaml.load(fh, Loader=Loader)  # noqa: S506 - a SafeLoader subclass with one inert tag
    except (yaml.YAMLError, OSError, UnicodeDecodeError):
        return {}, found                   # lm-eval's own load reports what is wrong with the file
    return (cfg if isinstance(cfg, dict) else {}), found


def _unregistered_metrics(cfg: dict) -> list[str]:
    from lm_eval.api.registry import metric_registry
    if not metric_registry:
        import lm_eval.api.metrics  # noqa: F401 - registers lm-eval's metrics
    out = []
    for entry in cfg.get("metric_list") or []:
        if not isinstance(entry, dict):
            continue
        name = entry.get("metric")
        if entry.get("hf_evaluate") is True or (isinstance(name, str) and name not in metric_registry):
            out.append(str(name))
    return out


def check(files: Iterable[Path], trusted: bool) -> None:
    """Refuses the first file outside lm-eval's package that would run code, unless ``trusted``."""
    if trusted:
        return
    library = _library_root()
    for path in files:
        if path.is_relative_to(library):
            continue
        cfg, functions = _scan(path)
        if functions:
            line, target = functions[0]
            raise HarnessError(f"lm-eval task file {path}:{line} runs Python (`!function {target}`), and code in "
                               "task files outside the lm-eval package runs only when asked",
                               f"pass {FLAG} if you trust the code beside that file, or remove the !function")
        metrics = _unregistered_metrics(cfg)
        if metrics:
            raise HarnessError(f"lm-eval task file {path}: metric {metrics[0]!r} is not one lm-eval registers, so lm-eval "
                               "would load it with `evaluate.load`, which runs a metric script",
                               f"pass {FLAG} if you trust that metric's code, or use a metric lm-eval registers "
                               "(acc, acc_norm, exact_match, bleu, ...)")

