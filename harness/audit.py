"""One audit from start to end: prepare tasks, run the models, and always write what was computed."""
from __future__ import annotations

from pathlib import Path

from harness import catalog, environment
from harness.errors import HarnessError, Terminated
from harness.interrupts import sigterm_held
from harness.lmeval import split_names
from harness.meters import build_session
from harness.meters.carbon import CarbonIntensity, resolve_intensity
from harness.meters.session import read_telemetry, read_windows
from harness.prepared import PreparedTask, prepare_task
from harness.progress import Reporter, as_reporter
from harness.report import render_html
from harness.results.assembly import assemble
from harness.results.types import COMPLETE_WITH_ERRORS, Results

from harness.run_dir import RunState, now
from harness.runner import run_models
from harness.shard import WHOLE
from harness.spec import RunSpec
from harness.store import SampleStore, write_json_atomic, write_text_atomic


NOTHING_EVALUATED = "nothing evaluated: every task and probe was skipped for every model"   # exit 3


def prepare(spec: RunSpec) -> list[PreparedTask]:
    ours, theirs = split_names(spec.tasks)            # lm-eval:NAME goes to harness.lmeval
    tasks = catalog.select(catalog.discover(spec.tasks_dirs), ours) if ours or not theirs else []
    prepared = [prepare_task(task, spec.limit, spec.seed) for task in tasks]
    if theirs:
        from harness.lmeval.prepare import prepare as prepare_lm_eval
        prepared += prepare_lm_eval(theirs, spec)
    return prepared


def prepare_probes(spec: RunSpec) -> list:
    return catalog.select_probes(catalog.discover_probes(spec.tasks_dirs), spec.probes)


def run_audit(state: RunState, progress: "bool | Reporter" = True, tasks: list[PreparedTask] | None = None,
              probes: list | None = None, shard=None) -> Results | None:
    """Runs what is missing in ``state.dir`` and writes results.json and report.html. They are
    written even when the run stops on an error or Ctrl-C, marked incomplete. With ``shard``
    (harness.distributed.shards.Sharded) this process is one rank of several: it meters and computes its
    part, and the shard publishes (rank 0 merges every rank's part; the others return None). ``progress``:
    a harness.progress.Reporter, or True (bars on a terminal, heartbeat lines otherwise) / False (none)."""
    tasks = prepare(state.spec) if tasks is None else tasks
    probes = prepare_probes(state.spec) if probes is None else probes
    options = state.spec.meters
    intensity = resolve_intensity(options.country, options.carbon_intensity, options.pue)
    status, session = "incomplete: stopped", None
    reporter = as_reporter(progress)
    try:         # from here on results.json is written, even when a signal comes while the meters are built
        session = shard.session(options) if shard else build_session(options, state.dir)
        with session:
            with session.window("run", state.id):
                run_models(state, tasks, reporter, session, probes, shard or WHOLE)
        status = "complete"
    except HarnessError as exc:
        status = f"incomplete: {exc.problem}"
        raise
    except Terminated:
        status = "incomplete: terminated"
        raise
    except KeyboardInterrupt:
        status = "incomplete: interrupted"
        raise
    finally:
        reporter.close()
        publish = shard.publish if shard else write_outputs
        stopped = "the run was stopped before its meters were built"
        environment, disabled = (session.environment(), session.disabled_reason) if session is not None else \
            ({"disabled": stopped}, stopped)
        results = publish(state, tasks, status, intensity, environment, disabled, probes)
    return results


def write_outputs(state: RunState, tasks: list[PreparedTask], status: str, intensity: CarbonIntensity,
                  meters_environment: dict, meters_disabled: str | None = None, probes: list = (),
                  run_extra: dict | None = None) -> Results:
    """results.json and report.html from what the run folder holds; a SIGTERM that comes meanwhile
    (a second one, after the one that stopped the run) waits until both are written."""
    with sigterm_held():
        records = SampleStore(state.samples_path).records()
        if status == "complete" and state.failures:
            status = COMPLETE_WITH_ERRORS
        elif status == "complete" and not records:
            status = NOTHING_EVALUATED
        env = {**environment.describe(), "git_sha": environment.git_sha()}
        finished = None if status.startswith("incomplete") else now()
        results = assemble(state, tasks, records, env, finished=finished, status=status,
                           windows=read_windows(state.dir), intensity=intensity, meters_environment=meters_environment,
                           meters_disabled=meters_disabled, probes=probes, run_extra=run_extra)
        write_json_atomic(state.dir / "results.json", results.to_json())
        write_text_atomic(state.dir / "report.html", render_html(results, records, read_telemetry(state.dir),
                                                                 show_pii=state.spec.show_pii))
    return results


def republish(run_dir: Path, results: Results) -> None:
    """Writes results.json again, with what a consumer of the finished run added to it (a
    comparison, a gate verdict), and renders report.html from it."""
    write_json_atomic(run_dir / "results.json", results.to_json())
    records = SampleStore(run_dir / "samples.jsonl").records()
    write_text_atomic(run_dir / "report.html", render_html(results, records, read_telemetry(run_dir),
                                                           show_pii=shows_pii(run_dir)))


def shows_pii(run_dir: Path) -> bool:
    """Whether the run was started with --show-pii (run.json records it); a page redacts personal data otherwise."""
    import json
    try:
        return json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["spec"].get("show_pii") is True
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False
