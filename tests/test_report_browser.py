"""report.html in a real browser (Debian's chromium driven by playwright, no browser download): no
console errors, no request beyond the file itself, the key sections visible, and markup planted in
data, references and model outputs shown as text, never run. Screenshots are kept under
reports/test-artifacts/ (git-ignored) for a reviewer to look at."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from conftest import REPO, run_cli, write_task
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


def open_report(browser, path: Path, shots: str):
    """Loads the file; returns (page, console errors, requested URLs, dialogs) after screenshots."""
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
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
    assert page.locator("#charts svg circle").count() >= 4                    # quality against J per example
    verdict = page.locator("#verdict").inner_text()
    assert "Run complete" in verdict and "tiny-gpt2" in verdict and "minilm" in verdict and "not measured" in verdict
    # invisible characters of the robustness probe's kept examples are spelt out
    assert page.locator("mark.invisible, mark.homoglyph").count() > 0
    assert path.stat().st_size < 3_000_000


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
    results = synthetic(n_tasks=30)
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
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    page.emulate_media(media="print")
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
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280       # the long line wraps
