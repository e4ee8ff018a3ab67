"""report.html, compare.html and history.html in a real browser (Debian's chromium driven by playwright,
no browser download), at a reviewer's 1400 px: no console errors, no request beyond the file itself,
the key sections visible, markup planted in data, references and model outputs shown as text, never
run; no visible "None"; chart axes whose arrow follows each metric's direction; energy bars on one
scale across models; no horizontal overflow with 5 models; CJK text drawn with a CJK font (asked of
the browser: the platform fonts it used for the node); a gate's verdict that leaves the per-model
summary on the first screen; and each page printed at A4 width with nothing wider than the paper.
Screenshots are kept under reports/test-artifacts/ (git-ignored) for a reviewer to look at: the
default report, a 3-variant comparison, 5 models, compare.html, history.html, each also in print."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from support import REPO, run_cli, write_task
from harness.report import render_html

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
if CHROMIUM is None:
    pytest.skip("chromium is not installed (CI installs it: apt-get install -y chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")

TESTS = Path(__file__).resolve().parent
ARTIFACTS = Path(os.environ.get("HARNESS_TEST_ARTIFACTS", REPO / "reports" / "test-artifacts"))
PAYLOADS = ['<script>window.__pwned = 1; alert(1)</script>', '<img src=x onerror="window.__pwned = 2; alert(2)">',
            '"><svg onload="window.__pwned = 3; alert(3)">']
SECTIONS = ["#verdict", "#summary", "#quality", "#charts", "#models", "#environment"]


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


WIDTH = 1400


def open_report(browser, path: Path, shots: str):
    """Loads the file; returns (page, console errors, requested URLs, dialogs) after screenshots."""
    page = browser.new_page(viewport={"width": WIDTH, "height": 1000})
    errors, requests, dialogs = [], [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{shots}-top.png"))
    if page.locator("#timeline svg").count():
        page.locator("#timeline").screenshot(path=str(ARTIFACTS / f"{shots}-timeline.png"))
    page.screenshot(path=str(ARTIFACTS / f"{shots}-full.png"), full_page=True)
    print(f"screenshots: {ARTIFACTS}/{shots}-*.png")
    return page, errors, requests, dialogs


def assert_clean(page, path: Path, errors, requests, dialogs):
    assert errors == []
    assert requests == [path.as_uri()]                    # nothing but the file itself
    assert dialogs == [] and page.evaluate("window.__pwned") is None
    assert page.evaluate("document.scripts.length") == 0
    assert page.evaluate("document.querySelectorAll('[onerror], [onload], img').length") == 0
    for section in SECTIONS:
        assert page.locator(section).first.is_visible(), section


@pytest.mark.slow
def test_default_run_report_in_chromium(browser, default_run):
    _, run_dir = default_run
    path = run_dir / "report.html"
    page, errors, requests, dialogs = open_report(browser, path, "default-run")
    assert_clean(page, path, errors, requests, dialogs)
    assert page.locator("#timeline svg rect.band-probe").count() > 0          # probe windows are banded
    assert page.locator("#quality-energy").is_visible()                       # quality against J per example
    verdict = page.locator("#verdict").inner_text()
    assert "Run complete" in verdict and "tiny-gpt2" in verdict and "minilm" in verdict and "not measured" in verdict
    # invisible characters of the robustness probe's kept examples are spelt out
    assert page.locator("mark.invisible, mark.homoglyph").count() > 0
    assert path.stat().st_size < 3_000_000
    assert visible_none(page) == []
    results = json.loads((run_dir / "results.json").read_text())
    rows = page.evaluate("""Array.from(document.querySelectorAll('#quality-energy tr')).slice(1)
                            .map(r => Array.from(r.cells).map(c => c.innerText))""")
    assert rows, "one model per task: a table, not one-dot charts"
    for task, model, metric, *_ in rows:
        name, arrow = metric.split()
        higher = results["models"][model]["tasks"][task]["metrics"][name]["higher_is_better"]
        assert arrow == ("↑" if higher else "↓"), (task, metric)
    assert page.locator("#charts svg circle").count() == 0                    # no one-dot panel
    assert overflowing(page) == [] and page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    assert_one_energy_scale(page)
    examples = page.locator("table.examples-perplexity").first.inner_text()
    assert "loss per token" in examples and "prediction" not in examples and "wrong" not in examples
    toyzh = page.locator("h4", has_text="tiny-gpt2 · toyzh").first.inner_text()
    assert "every one of the" in toyzh and "bleu 0" in toyzh
    assert_cjk_renders(page)
    assert_fits_a_printed_page(page, "default-run")


@pytest.mark.slow
def test_planted_markup_renders_as_text_and_never_runs(browser, tmp_path):
    rows = [{"id": f"x{i}", "text": f"{PAYLOADS[i % 3]} item {i}", "ref": PAYLOADS[(i + 1) % 3]} for i in range(6)]
    write_task(tmp_path / "tasks" / "evil", "evil", rows, kind="generate", prompt="{text}", answer="ref", metrics=["exact_match"])
    proc = run_cli("run", "--model", "echo=py:fake_models:Echo", "--tasks", "evil", "--tasks-dir",
                   str(tmp_path / "tasks"), "--probes", "robustness", "--probe-limit", "3", "--out", str(tmp_path / "out"),
                   "--no-progress", cwd=TESTS)
    run_dir = next(p for p in (tmp_path / "out").iterdir() if p.is_dir()) if (tmp_path / "out").exists() else None
    assert run_dir is not None, proc.stderr
    path = run_dir / "report.html"
    page, errors, requests, dialogs = open_report(browser, path, "planted-markup")
    assert_clean(page, path, errors, requests, dialogs)
    text = page.locator("body").inner_text()
    for payload in PAYLOADS:
        assert payload in text                                                # shown verbatim, as text


def test_multi_model_report_in_chromium(browser, tmp_path):
    from report_synthetic import synthetic, telemetry
    results = lower_is_better_first(synthetic(n_tasks=30), "task_01")
    records = [{"model": m, "task": "task_00", "id": f"q{i}", "index": i, "input": PAYLOADS[i % 3], "prediction": PAYLOADS[(i + 1) % 3],
                "reference": PAYLOADS[(i + 2) % 3], "scores": {"accuracy": float(i % 2)}} for m in results["models"] for i in range(6)]
    path = tmp_path / "report.html"
    path.write_text(render_html(results, records, telemetry(models=tuple(results["models"]), n_tasks=30)), encoding="utf-8")
    (tmp_path / "results.json").write_text(json.dumps(results))
    page, errors, requests, dialogs = open_report(browser, path, "multi-model")
    assert_clean(page, path, errors, requests, dialogs)
    assert page.locator("#verdict .big").inner_text() == "Gate: FAIL"
    assert page.locator("#comparison").is_visible() and page.locator("#timeline svg").count() == 4
    header = page.locator("#quality tr").first.inner_text()
    assert all(m in header for m in results["models"])                      # one table across the models
    # labels above the timeline never overlap (measured in the browser, not assumed)
    boxes = page.evaluate("""Array.from(document.querySelectorAll('#timeline svg:first-of-type text[class^=label]'))
                             .map(t => { const b = t.getBBox(); return [b.x, b.y, b.width, b.height]; })""")
    assert boxes
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            overlap = a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]
            assert not overlap, (a, b)
    # the page fits a reader's width: nothing but the wide tables scrolls sideways
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    assert overflowing(page) == []                        # 5 models: no table wider than the page, no side scroll
    assert visible_none(page) == []
    assert_arrows_follow_directions(page, results)
    assert_one_energy_scale(page)
    assert_fits_a_printed_page(page, "multi-model")
    assert page.locator("nav").is_hidden()
    pdf = page.pdf() if hasattr(page, "pdf") else b""
    assert len(pdf) > 10_000


HOSTILE = ["</script><script>window.__pwned = 11</script>", "{{ 7 * 7 }}{% raw %}", "nul\x00byte \x1b[31mansi \u202eevil\u202c",
           '<a href="javascript:window.__pwned = 12">click</a>', "javascript:window.__pwned = 13",
           "\u202eevil\u202c \u2066rtl\u2069", "<base href='javascript:window.__pwned = 14//'>",
           "<meta http-equiv='refresh' content='0;url=javascript:window.__pwned = 15'>",
           "<iframe srcdoc='<script>parent.__pwned = 16</script>'></iframe>", "<style>body{display:none}</style>",
           "x" * 20000 + " END"]


@pytest.mark.slow
def test_hostile_strings_in_names_data_and_outputs_stay_text(browser, tmp_path):
    """Task and model names, the task's description, inputs, references and outputs (an echo model
    repeats its prompt) hold markup, template syntax, javascript: URLs, bidi overrides, NUL and a
    20,000-character line: the page runs none of it, requests nothing, and shows it as text."""
    rows = [{"id": f"h{i}<b>", "text": text, "ref": HOSTILE[(i + 1) % len(HOSTILE)]} for i, text in enumerate(HOSTILE)]
    name = "evil<script>window.__pwned = 17</script>"
    write_task(tmp_path / "tasks" / "evil", name, rows, kind="generate", prompt="{text}", answer="ref", metrics=["exact_match"],
               description="<img src=x onerror='window.__pwned = 18'> {{ 1 }}")
    proc = run_cli("run", "--model", "echo<svg/onload>=py:fake_models:Echo", "--tasks", name, "--tasks-dir",
                   str(tmp_path / "tasks"), "--no-probes", "--no-meters", "--out", str(tmp_path / "out"), "--no-progress",
                   cwd=TESTS)
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = [p for p in (tmp_path / "out").iterdir() if p.is_dir()]
    path = run_dir / "report.html"
    html = path.read_text(encoding="utf-8")
    assert "\x00" not in html and "\x1b" not in html and "\u202e" not in html    # spelt out, never written raw
    page, errors, requests, dialogs = open_report(browser, path, "hostile-strings")
    assert errors == [] and requests == [path.as_uri()] and dialogs == []
    assert page.evaluate("window.__pwned") is None and page.evaluate("document.scripts.length") == 0
    assert page.evaluate("document.querySelectorAll('iframe, base, img, a[href^=javascript], meta[http-equiv=refresh]').length") == 0
    text = page.locator("body").inner_text()
    for shown in ("</script><script>window.__pwned = 11</script>", "{{ 7 * 7 }}{% raw %}", name, "echo<svg/onload>",
                  "nul⟨U+0000⟩byte", "⟨U+202E⟩evil"):
        assert shown in text, shown
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH      # the long line wraps


# --- checks shared by the tests above and below ----------------------------------------------------

def visible_none(page) -> list[str]:
    """Every visible "None" on the page, with every folded part opened."""
    import re
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    text = page.locator("body").inner_text()
    return re.findall(r".{0,40}\bNone\b.{0,20}", text)


PRINTED = 703          # an A4 page less the report's 12 mm print margins, in CSS pixels


def assert_fits_a_printed_page(page, shots: str) -> None:
    """Printed (to paper or PDF) at A4, nothing is wider than the page: the timeline was 916 px and its
    right part was cut off. A print-layout screenshot is kept beside the others."""
    page.set_viewport_size({"width": PRINTED, "height": 1000})
    page.emulate_media(media="print")
    wide = page.evaluate("""Array.from(document.querySelectorAll('table, figure, svg, pre, .verdict, section'))
        .map(e => [e.tagName, e.id || e.getAttribute('class') || '', Math.round(e.getBoundingClientRect().right)])
        .filter(x => x[2] > document.documentElement.clientWidth + 1)""")
    assert wide == [], wide
    page.screenshot(path=str(ARTIFACTS / f"{shots}-print.png"), full_page=True)


def overflowing(page) -> list:
    """The boxes that scroll sideways at this width (a table wider than the page)."""
    return page.evaluate("""Array.from(document.querySelectorAll('.scroll')).filter(e => e.scrollWidth > e.clientWidth + 1)
                            .map(e => [e.firstElementChild.id || e.firstElementChild.className, e.scrollWidth, e.clientWidth])""")


def assert_arrows_follow_directions(page, results: dict) -> None:
    """Each quality-against-energy panel's y axis: ↑ better for a higher-is-better metric, ↓ for a lower one."""
    panels = page.evaluate("""Array.from(document.querySelectorAll('#charts figure.scatter')).map(f =>
        [f.querySelector('figcaption').innerText, f.querySelector('svg').dataset.metric, f.querySelector('.y-title').textContent])""")
    assert panels
    for task, metric, title in panels:
        model = next(m for m in results["models"].values() if task in m["tasks"])
        higher = model["tasks"][task]["metrics"][metric].get("higher_is_better", True)
        assert title == f"{metric} {'↑' if higher else '↓'} better", (task, title)


def assert_one_energy_scale(page) -> None:
    """Every model's energy bars on one axis: the same axis end, and bar length proportional to joules."""
    charts = page.evaluate("""Array.from(document.querySelectorAll('#charts figure.energy-bars svg')).map(s => [s.dataset.axisEnd,
        Array.from(s.querySelectorAll('rect')).map(r => [parseFloat(r.getAttribute('width')), parseFloat(r.parentNode.querySelector('title').textContent.split(': ')[1])])])""")
    assert len(charts) >= 2 and len({end for end, _ in charts}) == 1
    ratios = [w / j for _, bars in charts for w, j in bars if j > 0 and w > 1]
    assert max(ratios) / min(ratios) < 1.02, ratios             # pixels per joule the same in every chart


def lower_is_better_first(results: dict, task: str) -> dict:
    """The task's headline metric turned into a lower-is-better one (a perplexity) for every model."""
    for model in results["models"].values():
        metrics = model["tasks"][task]["metrics"]
        ppl = {**metrics.pop("accuracy"), "higher_is_better": False}
        model["tasks"][task]["metrics"] = {"word_perplexity": ppl, **metrics}
    for entry in (results.get("comparison") or {}).get("models", {}).values():
        stats = entry["tasks"][task]
        entry["tasks"][task] = {"word_perplexity": {**stats.pop("accuracy"), "higher_is_better": False}, **stats}
    return results


def cjk_fonts_installed() -> bool:
    import subprocess
    try:
        return bool(subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True, timeout=30).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        return False


def assert_cjk_renders(page) -> None:
    """The toyzh references are drawn with a font that has their glyphs, as the browser reports (CDP's
    CSS.getPlatformFontsForNode): no box, no last-resort font."""
    if not cjk_fonts_installed():
        pytest.skip("no CJK font installed (CI installs it: apt-get install -y fonts-noto-cjk)")
    marked = page.evaluate("""(() => { const pre = Array.from(document.querySelectorAll('table.examples pre'))
        .find(p => /^[\u3000-\u9fff]+$/.test(p.textContent.trim())); if (pre) { pre.id = 'cjk-probe'; } return pre ? pre.textContent : null; })()""")
    assert marked, "no Chinese reference among the examples"
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": "#cjk-probe"})["nodeId"]
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    cjk = [f for f in fonts if any(k in (f["familyName"] + f.get("postScriptName", "")).lower()
                                   for k in ("cjk", "han sans", "hei", "pingfang", "wenquanyi", "noto sans sc"))]
    assert cjk and sum(f["glyphCount"] for f in cjk) >= len(marked.strip()), fonts
    assert not any("last resort" in f["familyName"].lower() for f in fonts), fonts
    families = page.evaluate("getComputedStyle(document.querySelector('#cjk-probe')).fontFamily")
    assert "Noto Sans CJK SC" in families                     # the page's own stack names a CJK font


# --- the gate's verdict, a 3-variant comparison, compare.html, history.html ----------------------------

def test_a_gated_run_keeps_the_model_summary_on_the_first_screen(browser, tmp_path):
    from report_gated import CARBON_REASON, gated
    path = tmp_path / "report.html"
    path.write_text(render_html(gated(), []), encoding="utf-8")
    page, errors, requests, dialogs = open_report(browser, path, "gated")
    assert_clean(page, path, errors, requests, dialogs)
    assert page.locator("#summary").bounding_box()["y"] + 60 < 1000           # its first rows above the fold
    assert page.locator("#verdict .verdict").inner_text().count(CARBON_REASON) == 1
    assert not page.locator("text=budget 3").is_visible()                     # the passes are folded


def test_a_three_variant_comparison_in_chromium(browser, tmp_path):
    from report_synthetic import synthetic, telemetry
    models = ("full", "int8", "pruned")
    results = lower_is_better_first(synthetic(n_tasks=4, models=models), "task_01")
    path = tmp_path / "report.html"
    path.write_text(render_html(results, [], telemetry(models=models, n_tasks=4)), encoding="utf-8")
    page, errors, requests, dialogs = open_report(browser, path, "comparison-3-variants")
    assert_clean(page, path, errors, requests, dialogs)
    page.locator("#comparison").screenshot(path=str(ARTIFACTS / "comparison-3-variants-comparison.png"))
    assert overflowing(page) == [] and visible_none(page) == []
    assert_arrows_follow_directions(page, results)
    assert_one_energy_scale(page)
    axes = page.evaluate("Array.from(document.querySelectorAll('#comparison figure.forest svg')).map(s => s.textContent)")
    assert len(axes) == 2 and all("relative to the baseline" in a for a in axes)      # one unit on every delta axis
    assert_fits_a_printed_page(page, "comparison-3-variants")


def test_compare_html_opens_clean_in_chromium(browser, tmp_path, monkeypatch, capsys):
    from harness.cli import main
    from planted_runs import VARIANTS, planted_runs
    monkeypatch.syspath_prepend(str(TESTS))
    monkeypatch.chdir(tmp_path)
    runs = planted_runs(tmp_path, VARIANTS)
    assert main(["compare", *map(str, runs), "--json", str(tmp_path / "cmp" / "compare.json")]) == 0
    capsys.readouterr()
    path = tmp_path / "cmp" / "compare.html"
    page, errors, requests, dialogs = open_report(browser, path, "compare")
    assert errors == [] and requests == [path.as_uri()] and dialogs == []
    assert page.evaluate("document.scripts.length") == 0
    for section in ("#runs", "#summary", "#quality", "#comparison", "#charts"):
        assert page.locator(section).first.is_visible(), section
    assert overflowing(page) == [] and visible_none(page) == []
    assert page.locator("#comparison figure.forest").count() == 2
    assert_fits_a_printed_page(page, "compare")


def test_history_html_opens_clean_in_chromium(browser, tmp_path, capsys):
    from run_folders import in_process, make_run
    times = ["2026-11-01T10:00:00+00:00", "2026-11-08T10:00:00+00:00", "2026-11-15T10:00:00+00:00", "2026-11-22T10:00:00+00:00"]
    for i, (t, acc, jpe) in enumerate(zip(times, (0.5, 0.52, 0.8, 0.6), (1.5, 1.4, 1.2, 1.3))):
        make_run(tmp_path, f"r{i + 1}", t, accuracy=(acc, acc - 0.1, acc + 0.1), j_per_example=jpe,
                 **({"task_print": {"data": "x" * 64, "prompt": "p" * 64, "config": "c" * 64}} if i == 3 else {}))
    assert in_process(capsys, "history", str(tmp_path)).returncode == 0
    path = tmp_path / "history.html"
    page, errors, requests, dialogs = open_report(browser, path, "history")
    assert errors == [] and requests == [path.as_uri()] and dialogs == []
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    titles = page.evaluate("Array.from(document.querySelectorAll('.chart h3')).map(h => h.textContent)")
    assert titles and not any("@" in t for t in titles)                         # names and recipes, not hashes
    assert page.locator("#single-point").is_visible()
    assert_fits_a_printed_page(page, "history")
