"""Every fenced example in README.md is run or checked, so none can rot.

Each block is sorted into one kind by what it holds (``kind_of``); a block of no known kind fails
``test_every_fenced_block_is_run_or_checked``, so a new example must come with its check:

* ``session``  - lines ``$ harness ...``: run as written, in order, in a scratch folder;
* ``policy``   - a gate policy: `harness gate` of (a copy of) the default run with it, the default run
  gated against the same audit run a minute earlier (blessed as `release`), passes (exit 0); examples/gate.yaml too;
* ``workflow`` - a GitHub Actions job: its `harness gate` / `harness history` steps run on a copy of the
  default run as written; every other `harness` command in it is checked up to the moment a run folder
  would be made (flags, model specs, tasks, probes), as `harness run` itself checks them;
* ``cron``     - a crontab line: run as written (its folder swapped for a scratch one holding a copy of
  the earlier copy blessed as the baseline it names);
* ``torchrun`` - `torchrun ... -m harness run ...`: the harness part parses (no GPUs here);
* ``lm-eval``  - the lm-eval section's commands (a model folder that is not here): the extra they
  install exists, every `harness` command parses, and a policy over `lm-eval:` tasks is a valid policy;
* ``synopsis`` - `harness run [--flag ...]`: every flag it names is one `harness run` takes;
* ``plugin``   - Python: executed, and its function called on the default run's results;
* ``setup``    - the set-up and test commands: `.ci/run` runs exactly these on every CI run;
* ``transcript`` - `$ harness ...` lines and what they printed on one machine: the commands are checked
  before the run (not re-run; the output is that machine's).
* ``output``   - what a command printed (or a shape): listed in OUTPUTS with what shows it.
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from support import REPO, run_cli

README = REPO / "README.md"
FENCE = re.compile(r"^```(\w*)\s*$")
CRON = re.compile(r"^\S+ \S+ \S+ \S+ \S+\s+cd (\S+) && (.+)$")
# what a fenced output block shows, by its first line's start: not a command, nothing to run
OUTPUTS = {
    "4 runs in /tmp/history-readme": "`harness history` output, excerpt (tests/test_history.py checks its format)",
    "NOT JUDGED ": "`harness history --fail-on worse` output (tests/test_history_fail_on.py makes it)",
    "tiny-gpt2 task:facts_mc accuracy: ": "`harness history --fail-on worse` on a pruned variant, excerpt "
                                          "(tests/test_history_trend.py makes it)",
    "harness_task_metric{": "Prometheus textfile lines (tests/test_exports.py checks the families)",
    '{"source": "softmax': "the shape of a calibration object (tests/test_calibration.py)",
    "harness: warning: model 'fp16' runs in float16": "the slow-dtype warning (tests/test_slow_dtypes.py makes it)",
}


def fenced_blocks(text: str) -> list[tuple[int, str, str]]:
    """(first line number, language, body) of every fenced block."""
    blocks, lang, start, body = [], None, 0, []
    for number, line in enumerate(text.splitlines(), 1):
        match = FENCE.match(line)
        if lang is None and match:
            lang, start, body = match.group(1), number, []
        elif lang is not None and line.strip() == "```":
            blocks.append((start, lang, "\n".join(body)))
            lang = None
        elif lang is not None:
            body.append(line)
    assert lang is None, f"README.md: the block opened at line {start} is never closed"
    return blocks


def kind_of(lang: str, body: str) -> str:
    first = body.lstrip().splitlines()[0] if body.strip() else ""
    if any(first.startswith(prefix) for prefix in OUTPUTS):
        return "output"
    if lang == "python":
        return "plugin"
    if lang == "yaml":
        data = yaml.safe_load(body)
        if "rules" in data:
            return "lm-eval" if "lm-eval:" in body else "policy"
        return "workflow" if "jobs" in data else "unknown"
    if lang == "bash" and "lm-eval:" in body:
        return "lm-eval"
    if re.search(r"^\$ harness ", body, re.M):
        commands = [line for line in body.splitlines() if line.startswith("$ harness ")]
        return "session" if commands[-1].startswith("$ harness compare ") else "transcript"
    if "torchrun" in body:
        return "torchrun"
    if first.startswith("harness run ["):
        return "synopsis"
    if CRON.match(first):
        return "cron"
    if lang == "bash" and ("pip install" in body or "pytest" in body):
        return "setup"
    return "unknown"


BLOCKS = fenced_blocks(README.read_text(encoding="utf-8"))


def blocks(kind: str) -> list[str]:
    return [body for _, lang, body in BLOCKS if kind_of(lang, body) == kind]


def test_every_fenced_block_is_run_or_checked():
    kinds = {(line, kind_of(lang, body)) for line, lang, body in BLOCKS}
    unknown = sorted(line for line, kind in kinds if kind == "unknown")
    assert not unknown, f"README.md blocks at lines {unknown} are of no kind this module runs or checks"
    setup = blocks("setup")
    ci = (REPO / ".ci" / "run").read_text()
    assert setup and all(
        line.split("&& .venv/bin/harness run")[0].strip() in ci for body in setup for line in body.splitlines()
        if line.strip() and not line.startswith("#")), "the README's set-up and test commands must be what .ci/run runs"


# ------------------------------------------------------------------ helpers


def harness_commands(shell: str) -> list[list[str]]:
    """The argv of every `harness ...` command in a shell snippet (split at ;, &&, ||, pipes)."""
    out = []
    shell = re.sub(r"\$\([^)]*\)", "RUN_DIR", shell.replace("\\\n", " "))      # command substitutions
    for part in re.split(r"\s*(?:;|&&|\|\||\||\n)\s*", shell):
        words = shlex.split(part, comments=True)
        if words and Path(words[0]).name == "harness":          # harness, .venv/bin/harness
            out.append(words[1:])
    return out


def checked_before_the_run(argv: list[str]) -> None:
    """`harness ARGV` as far as it goes before a run folder would be made: the flags, and for `run` the
    typed options, the model specs (preflight) and the tasks and probes (prepared)."""
    from harness.audit import prepare, prepare_probes
    from harness.cli import build_parser
    from harness.commands.run import run_options
    from harness.preflight import check_models
    args = build_parser().parse_args(argv)
    if args.command == "run":
        options = run_options(args, argv)
        if options.spec is not None:
            check_models(options.spec.models, options.spec.runtime)
            prepare(options.spec)
            prepare_probes(options.spec)


def bash(script: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """``script`` in bash with `harness` meaning this checkout's harness (in this interpreter)."""
    shim = f'harness() {{ "{sys.executable}" -m harness "$@"; }}\n'
    return subprocess.run(["bash", "-c", shim + script], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=os.environ.copy())


@pytest.fixture
def reports(default_run, tmp_path):
    """A scratch reports/ folder holding a copy of the default run (gates and history write into it) and,
    blessed as `release`, the same audit run a minute earlier: same seed, so the same outputs, under its
    own run id (a run is never its own baseline)."""
    _, run = default_run
    folder = tmp_path / "reports"
    shutil.copytree(run, folder / run.name)
    earlier = (datetime.strptime(run.name[:15], "%Y%m%d-%H%M%S") - timedelta(minutes=1)).strftime("%Y%m%d-%H%M%S")
    base = folder / f"{earlier}{run.name[15:]}"
    shutil.copytree(run, base)
    for name, path in (("run.json", ("id",)), ("results.json", ("run", "id"))):
        data = json.loads((base / name).read_text())
        (data[path[0]] if len(path) == 2 else data)[path[-1]] = base.name
        (base / name).write_text(json.dumps(data, indent=2, ensure_ascii=False))
    proc = run_cli("bless", str(base), "--as", "release")
    assert proc.returncode == 0, proc.stderr
    return folder / run.name


# ------------------------------------------------------------------ the kinds


def test_the_synopsis_names_only_flags_the_commands_take():
    from harness.cli import build_parser
    [synopsis] = blocks("synopsis")
    parser = build_parser()
    subcommands = parser._subparsers._group_actions[0].choices
    for line in synopsis.splitlines():
        if line.startswith("harness "):
            command = line.split()[1]
            assert command in subcommands, line
            current = subcommands[command]
        flags = {f for action in current._actions for f in action.option_strings}
        for flag in re.findall(r"--[a-z][a-z-]*", line):
            assert flag in flags, f"the README's synopsis names {flag}, which `harness {current.prog.split()[-1]}` lacks"


def test_the_torchrun_lines_parse():
    from harness.cli import build_parser
    [block] = blocks("torchrun")
    commands = [c for c in block.replace("\\\n", " ").splitlines() if c.strip().startswith("torchrun")]
    assert len(commands) == 3
    for command in commands:
        argv = shlex.split(command.split(" -m harness ", 1)[1])
        build_parser().parse_args(argv)


def test_the_lm_eval_commands_parse_and_their_policy_is_valid():
    import tomllib
    from harness.cli import build_parser
    from harness.gate.policy import parse_policy
    found = [(lang, body) for _, lang, body in BLOCKS if kind_of(lang, body) == "lm-eval"]
    assert sorted(lang for lang, _ in found) == ["bash", "yaml"]
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for lang, body in found:
        if lang == "yaml":
            assert parse_policy(yaml.safe_load(body), "README.md").rules
            continue
        for extra in re.findall(r"\.\[([\w-]+)\]", body):
            assert extra in extras, extra
        commands = harness_commands(body)
        assert [argv[0] for argv in commands] == ["run", "gate"]
        for argv in commands:
            build_parser().parse_args(argv)


def test_the_plugin_section_example_runs_on_the_default_run(default_run):
    from harness.report.sections import Section
    [code] = blocks("plugin")
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    _, run = default_run
    section = namespace["latency_budget"](json.loads((run / "results.json").read_text()))
    assert isinstance(section, Section) and section.title == "Latency budget"


@pytest.mark.slow
@pytest.mark.parametrize("which", ["README.md", "examples/gate.yaml"])
def test_the_policy_passes_the_default_run_gated_against_itself(reports, tmp_path, which):
    policy = tmp_path / "policy.yaml"
    if which == "README.md":
        [text] = blocks("policy")
        policy.write_text(text)
    else:
        shutil.copy(REPO / which, policy)
    proc = run_cli("gate", str(reports), "--policy", str(policy), "--baseline", "release")
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
def test_the_workflows_run_their_gate_and_history_steps_and_their_other_commands_check(reports):
    workflows = [yaml.safe_load(body) for body in blocks("workflow")]
    assert len(workflows) == 2
    work = reports.parent.parent
    shutil.copytree(REPO / "examples", work / "examples")          # the workflow runs in a checkout
    ran = 0
    for workflow in workflows:
        for job in workflow["jobs"].values():
            for step in job["steps"]:
                script = step.get("run", "")
                for argv in harness_commands(script):
                    if argv[0] in ("gate", "history"):
                        proc = bash(script, work)
                        assert proc.returncode == 0, (script, proc.stdout, proc.stderr)
                        ran += 1
                    else:
                        checked_before_the_run(argv)
    assert ran == 2


def test_the_transcripts_commands_are_checked_before_the_run():
    """A terminal transcript (`$ harness ...` lines then what they printed: --repeats, tune) shows output
    of one machine and is not re-run; its commands must still parse and pass the checks before a run."""
    transcripts = blocks("transcript")
    assert transcripts
    for body in transcripts:
        commands = harness_commands("\n".join(line[2:] for line in body.splitlines() if line.startswith("$ harness ")))
        assert commands
        for argv in commands:
            checked_before_the_run(argv)


@pytest.mark.slow
def test_the_compare_session_runs_as_written(tmp_path):
    [session] = blocks("session")
    lines = [line[2:] for line in session.splitlines() if line.startswith("$ ")]
    assert lines[-1].startswith("harness compare ")
    for line in lines:
        proc = bash(line, tmp_path)
        assert proc.returncode == 0, (line, proc.stdout, proc.stderr)
    assert "paired items" in proc.stdout and (tmp_path / "compare.json").is_file()


@pytest.mark.slow
def test_the_cron_line_runs_as_written(reports, tmp_path):
    [line] = blocks("cron")
    folder, command = CRON.match(line.strip()).groups()
    baseline = re.search(r"--baseline (\S+)", command).group(1)
    release = next(p for p in reports.parent.glob("2*") if p.is_dir() and p.name < reports.name)
    assert run_cli("bless", str(release), "--as", baseline).returncode == 0     # blessed at an earlier release
    proc = bash(command, reports.parent.parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "accuracy" in proc.stdout
