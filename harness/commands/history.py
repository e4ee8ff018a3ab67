"""`harness history`: each figure's trend across the runs of a reports folder, and history.html."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from harness.commands.options import renamed
from harness.errors import HarnessError

HELP = "trend of every figure across the runs in a reports folder (and history.html)"
FAIL_ON_EPILOG = """\
--fail-on (for a scheduled audit's CI job):
  A series is one figure of one model name; a changed recipe or weights is an event on it, changed
  task data or configuration a warning that comparability may break. Only the series left after
  --model/--metric are judged, each by its model's newest run's point against the baseline point (the
  --baseline run where the series has it, else its first run). A point is changed when both have a
  95% CI and the two do not overlap; figures without a CI (energy) never fail. A failed point (what it
  measures scored nothing) fails under either mode; a point the newest run did not measure is named.
  changed  fails on a change either way.
  worse    fails on a change the worse way: down for a metric whose results.json records
           higher_is_better true (accuracy, bleu), up for one recording false (perplexity). A series
           whose runs record no direction (probe metrics) is named in a NOT JUDGED line, not failed.
  Each failing series prints "FAIL <label>: <newest point> vs baseline <point>; since the baseline:
  <recipe or inputs changed>".
  exit codes: 0 nothing failed, 1 a series failed, 2 bad input.

example (cron, weekly):
  harness run --out reports/ && harness history reports/ --metric accuracy --fail-on worse
"""


def add_parser(sub, epilog: str) -> None:
    p = sub.add_parser("history", help=HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Prints one line per series (a figure of one model name; a changed recipe, weights "
                                   "or inputs is marked on it) with its values over time and 95% CIs, and writes a "
                                   "self-contained history.html. Run folders not yet in the index "
                                   "(REPORTS_DIR/history.sqlite) are added first.",
                       epilog=FAIL_ON_EPILOG)
    p.add_argument("reports_dir", nargs="?", type=Path, default=Path("reports"), metavar="REPORTS_DIR",
                   help="the folder `harness run --out` wrote to (default: ./reports)")
    p.add_argument("--model", action="append", default=[], metavar="NAME", help="only this model; repeatable")
    p.add_argument("--metric", action="append", default=[], metavar="NAME",
                   help="only this metric (e.g. accuracy, j_per_example); repeatable")
    p.add_argument("--baseline", metavar="RUN_ID|NAME|RUN_DIR",
                   help="compare with this run: a run id, a name blessed with `harness bless` (REPORTS_DIR/.blessed), "
                        "or a run folder; default: each series' first run")
    p.add_argument("--rebuild", action="store_true",
                   help="re-read every run folder still in REPORTS_DIR and replace its entry (runs whose folders are gone stay)")
    p.add_argument("--html", type=Path, metavar="FILE", help="where history.html goes (default: REPORTS_DIR/history.html)")
    renamed(p, "--out", "--html FILE", "--out names the folder of run folders in `harness run`: here that is REPORTS_DIR")
    p.add_argument("--fail-on", default="never", metavar="worse|changed",
                   help="exit 1 when the newest measured point of a selected series lies outside its baseline's 95%% CI "
                        "(changed), or does so in the direction results.json records as worse for its metric (worse); "
                        "default: never")


def _recorded_folders(index) -> dict[str, Path]:
    """Each run id's folder as the index recorded it (resolved), where that folder still exists."""
    out = {}
    for r in index.runs() if index.path.is_file() else []:
        folder = Path(r["run_dir"] or "")
        if r["run_dir"] and (folder / "results.json").is_file():
            out[r["run_id"]] = folder.resolve()
    return out


def backfill(reports_dir: Path, index, rebuild: bool = False) -> list[str]:
    """Adds every finished run folder in ``reports_dir`` that the index lacks, and re-reads those
    whose entry an older index layout wrote (with ``rebuild``, every one, replacing its entry);
    returns their ids. A folder holding a run id that another folder holds (a copied run folder) is
    left out with a warning naming both: the history keeps one entry per run id."""
    from harness.history import read_entry
    known, added = set() if rebuild else index.run_ids() - index.stale_run_ids(), []
    holders = {} if rebuild else _recorded_folders(index)
    for child in sorted(reports_dir.iterdir()):
        if child.name.startswith(".") or not (child / "results.json").is_file():
            continue
        if child.name in known and holders.get(child.name, child.resolve()) == child.resolve():
            holders.setdefault(child.name, child.resolve())
            continue
        try:
            entry = read_entry(child)
        except HarnessError as exc:
            print(f"harness: warning: {child} left out of the history: {exc}", file=sys.stderr)
            continue
        holder = holders.get(entry.run_id)
        if holder is not None and holder != child.resolve():
            print(f"harness: warning: {child} holds run {entry.run_id}, which {holder} holds too (a copied run folder?); "
                  f"the history keeps one entry per run id, from {holder.name}, and leaves {child.name} out; fix: delete "
                  "the copy, or re-run it to give it a run id of its own", file=sys.stderr)
            continue
        holders[entry.run_id] = child.resolve()
        if entry.run_id not in known:
            index.upsert(entry)
            known.add(entry.run_id)
            added.append(entry.run_id)
    return added


def resolve_baseline(name: str | None, reports: Path, run_ids: list[str]) -> str | None:
    """``--baseline``: a run id in the history, a name blessed in REPORTS_DIR (.blessed/NAME.json, the one
    store of blessed names, which `harness gate --baseline NAME` reads too), or a run folder or its results.json."""
    from harness.gate.baseline import blessed_names
    if name is None:
        return None
    if name in run_ids:
        return name
    blessed = blessed_names(reports)
    if name in blessed:
        run_id = blessed[name].get("run_id")
        if run_id not in run_ids:
            raise HarnessError(f"--baseline {name!r} is blessed as run {run_id}, which is not in the history of {reports}",
                               "restore that run folder there (`harness history` then adds it), or bless another run")
        return run_id
    path = Path(name)
    if path.is_dir() or path.is_file():
        from harness.results.reading import read_results
        run_id = read_results(path).run.id
        if run_id not in run_ids:
            raise HarnessError(f"--baseline {name} holds run {run_id}, which is not in the history of {reports}",
                               f"move or copy that run folder into {reports}")
        return run_id
    from harness.suggest import did_you_mean
    raise HarnessError(f"--baseline {name!r} is neither a run id in the history, a blessed name nor a run folder",
                       did_you_mean(name, run_ids + sorted(blessed), "pass a run id that `harness history` lists",
                                    shown=repr))


def recipe_words(index, runs: list[dict], reports: Path) -> dict[str, str]:
    """Series key -> its model's recipe in words ("float32, prune=0.9") for history.html's labels: the
    recipe keys from the run folder's results.json where it is still there, else the dtype the index keeps."""
    from harness.report.headline import recipe_text
    from harness.results.reading import read_results
    words: dict[str, str] = {}                       # recipe hash -> words
    folders = {r["run_id"]: r.get("run_dir") for r in runs}
    for m in index.models():
        if m["recipe_hash"] in words:
            continue
        text = m.get("dtype") or ""
        folder = folders.get(m["run_id"])
        for candidate in ([Path(folder)] if folder else []) + [reports / m["run_id"]]:
            try:
                info = read_results(candidate).models.get(m["model"])
            except (HarnessError, OSError, ValueError):
                continue
            if info is not None:
                text = recipe_text(info) or text
                break
        words[m["recipe_hash"]] = text
    return {f["series_key"]: words.get(f["recipe_hash"], "") for f in index.figures()}


def execute(args, argv: list[str]) -> int:
    from harness.history import HistoryIndex, carry_over_blessed, index_path
    from harness.history.entry import RUN_SUBJECT
    from harness.history.html import render_history
    from harness.history.trend import (build_series, current, fail_line, fail_on_mode, failing, findings, series_line,
                                       undirected_line)
    from harness.store import write_text_atomic

    from harness.output_guard import check_output

    mode = fail_on_mode(args.fail_on)
    reports = args.reports_dir
    if not reports.is_dir():
        raise HarnessError(f"{reports} is not a folder", "pass the folder `harness run --out` wrote to (default ./reports)")
    out = check_output(args.html or reports / "history.html", "--html", "html")    # before the index is touched
    index = HistoryIndex(index_path(reports))
    has_runs = any((c / "results.json").is_file() for c in reports.iterdir() if not c.name.startswith("."))
    if not index.path.is_file() and not has_runs:
        raise HarnessError(f"{reports} holds no history index and no run folders",
                           "pass the folder `harness run --out` wrote to (default ./reports)")
    stale = set() if args.rebuild else index.stale_run_ids()
    added = backfill(reports, index, args.rebuild)
    for note in carry_over_blessed(reports, index):       # an older index's blessed names, once
        print(f"harness: {note}", file=sys.stderr)
    runs = index.runs()
    if not runs:
        raise HarnessError(f"{reports} holds no finished runs", "run `harness run --out " + str(reports) + "` first")
    run_ids = [r["run_id"] for r in runs]
    baseline = resolve_baseline(args.baseline, reports, run_ids)
    series = build_series(index.figures(), baseline, args.model, args.metric)
    by_run: dict[str, list] = {}
    for m in index.models():
        by_run.setdefault(m["run_id"], []).append(m)
    for r in runs:
        r["models"] = sorted(by_run.get(r["run_id"], []), key=lambda m: m["model"])
        r["gate"] = json.loads(r["gate_json"]) if r["gate_json"] else None
    reread = [a for a in added if a in stale]
    if len(added) > len(reread):
        n = len(added) - len(reread)
        print(f"{'re-read' if args.rebuild else 'added'} {n} run folder{'s' * (n != 1)} to {index.path}", file=sys.stderr)
    if reread:
        print(f"re-read {len(reread)} run folder{'s' * (len(reread) != 1)} recorded by an older index layout into {index.path}",
              file=sys.stderr)
    print(f"{len(runs)} runs in {reports} ({runs[0]['started']} … {runs[-1]['started']}); "
          f"baseline: {'run ' + baseline + ' where present, else ' if baseline else ''}the first run of each series; "
          f"▲/▼: 95% CI wholly above/below the baseline's")
    for s in series:
        print(series_line(s))
    gated = [r for r in runs if r["gate_verdict"]]
    if gated:
        print("gate: " + ", ".join(f"{r['run_id']} {r['gate_verdict']}" for r in gated))
    try:
        write_text_atomic(out, render_history(series, runs, baseline, str(reports), recipe_words(index, runs, reports)))
    except OSError as exc:
        raise HarnessError(f"cannot write {out} ({exc.strerror})", "pass a writable --html FILE") from None
    print(f"wrote {out}")
    if mode == "never":
        return 0
    newest_run = {m["model"]: r["run_id"] for r in runs for m in r["models"]}       # runs: oldest first
    newest_run[RUN_SUBJECT] = runs[-1]["run_id"]                                   # the run's own energy series
    live, stale = current(series, newest_run)
    failed, undirected = failing(findings(live, newest_run), mode)
    for d in undirected:
        print(undirected_line(d))
    for d in failed:
        print(fail_line(d))
    if stale:
        print(f"{len(stale)} series that their model's newest run has no point in (a task, probe or metric it no "
              "longer evaluates) were not judged")
    print(f"--fail-on {mode}: {len(failed)} of {len(live)} series failed; exit {1 if failed else 0}")
    return 1 if failed else 0
