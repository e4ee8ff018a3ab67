"""Report sections from plugins (REPORT_SECTIONS): plain data in, escaped HTML out, in registration
order after the built-in sections; a plugin that raises or returns garbage is a note, not a failed run."""
from __future__ import annotations

import json
import re

import pytest
from markupsafe import Markup

from support import run_cli
from harness.audit import republish
from harness.plugins import REPORT_SECTIONS
from harness.registry import Registry
from harness.report import render_html
from harness.report.sections import LIMITS, Section, Table, collect
from harness.results.reading import parse
from report_synthetic import synthetic
from test_registry import ENTRY_POINTS, PLUGIN, _install_fake_distribution

HOSTILE = "<script>alert(1)</script>"


@pytest.fixture
def sections():
    """REPORT_SECTIONS as it is, restored after the test (decorator registrations are global)."""
    REPORT_SECTIONS.in_order(tolerant=True)
    items, origins = dict(REPORT_SECTIONS._items), dict(REPORT_SECTIONS._origins)
    yield REPORT_SECTIONS
    REPORT_SECTIONS._items, REPORT_SECTIONS._origins = items, origins


def _plugin_part(html: str) -> str:
    """report.html after the last built-in section (Environment)."""
    return html[html.index('<section id="environment">'):].split("</section>", 1)[1]


def _results() -> dict:
    return synthetic(n_tasks=2, models=("full", "int8"))


# --- the protocol ---------------------------------------------------------------------------------

def test_section_and_table_check_what_a_plugin_builds():
    s = Section("T", ["a", "b"], Table(["k", "v"], [["x", 1], ("y", 2.5)]))
    assert s.paragraphs == ("a", "b") and s.table.rows == (("x", 1), ("y", 2.5)) and s.table.headers == ("k", "v")
    with pytest.raises(TypeError, match="paragraphs must be a tuple or list, not str"):
        Section("T", "one paragraph")               # would otherwise become one paragraph per character
    with pytest.raises(TypeError, match=r"cell \(row 1, column 'v'\) must be a str, int or float, not dict"):
        Table(("k", "v"), (("x", {"a": 1}),))
    with pytest.raises(TypeError, match="not bool"):
        Table(("k",), ((True,),))
    with pytest.raises(ValueError, match="row 2 has 1 cells for 2 headers"):
        Table(("k", "v"), (("x", 1), ("y",)))
    with pytest.raises(ValueError, match="not measured"):
        Table(("v",), ((float("nan"),),))
    with pytest.raises(TypeError, match="rows must be a tuple or list, not generator"):
        Table(("v",), (r for r in [(1,)]))
    with pytest.raises(ValueError, match="title must not be empty"):
        Section("  ")
    with pytest.raises(TypeError, match="table must be"):
        Section("T", table={"headers": ["a"]})
    marked = Section(Markup("<b>bold</b>"))
    assert type(marked.title) is str                # Markup loses its claim to be HTML


def test_a_section_shows_after_the_built_in_ones_with_its_title_and_table(sections):
    @sections.register("test-latency")
    def latency(results):
        """Per-model latency budget (a test section)."""
        return Section("Latency budget", ("Budgets per model.",),
                       Table(("model", "budget ms", "share"), tuple((m, 120, 0.4567) for m in results["models"])))

    html = render_html(_results(), [])
    tail = _plugin_part(html)
    assert tail.index("Metric definitions") < tail.index("Latency budget")     # built-in first, then in order
    section = tail[tail.index("Latency budget"):]
    assert "section test-latency" in section and "<p>Budgets per model.</p>" in section
    assert re.search(r"<th>model</th><th class=\"num\">budget ms</th><th class=\"num\">share</th>", section)
    assert re.search(r"<td>full</td><td class=\"num\">120</td><td class=\"num\">0.457</td>", section)
    assert re.search(r"<td>int8</td>", section)
    assert '<a href="#section-2">Latency budget</a>' in html                    # in the navigation too


def test_hostile_strings_from_a_plugin_are_escaped(sections):
    @sections.register("test-hostile")
    def hostile(results):
        return Section(HOSTILE, (f"para {HOSTILE}", Markup("<img src=x onerror=alert(2)>")),
                       Table((HOSTILE,), ((HOSTILE,), (Markup("<b>cell</b>"),), ("a\u200bb",))))

    tail = _plugin_part(render_html(_results(), []))
    assert "<script>" not in tail and "<img" not in tail and "<b>" not in tail
    assert tail.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 4      # title, paragraph, header, cell
    assert "&lt;b&gt;cell&lt;/b&gt;" in tail and "&lt;img src=x" in tail
    assert '<mark class="invisible"' in tail                              # a hidden character is spelt out


def test_a_raising_or_garbage_plugin_is_a_note_with_its_name(sections):
    @sections.register("test-raises")
    def raises(results):
        raise RuntimeError("database <down>")

    @sections.register("test-garbage")
    def garbage(results):
        return "<b>not a section</b>"

    @sections.register("test-exits")
    def exits(results):
        raise SystemExit(7)

    @sections.register("test-mutates")
    def mutates(results):
        results["run"]["status"] = "complete"

    @sections.register("test-after")
    def after(results):
        return Section("Still here")

    sections.add("test-not-callable", 42)
    results = _results()
    before = json.dumps(results, sort_keys=True)
    tail = _plugin_part(render_html(results, []))
    assert "section test-raises failed: RuntimeError: database &lt;down&gt;" in tail
    assert "section test-garbage failed: TypeError: returned str, expected harness.report.sections.Section or None" in tail
    assert "section test-exits failed: SystemExit: 7" in tail
    assert "section test-mutates failed: TypeError: &#39;mappingproxy&#39; object does not support item assignment" in tail
    assert "section test-not-callable failed: TypeError: registered int, expected a callable" in tail
    assert "Still here" in tail                                        # the others still render
    assert json.dumps(results, sort_keys=True) == before                # nobody changed the results


def test_a_section_that_returns_none_adds_nothing_and_the_order_is_registration_order():
    reg = Registry("report section", "harness.test_no_such_group")
    reg.register("zz-first")(lambda r: Section("First"))
    reg.register("aa-skip")(lambda r: None)
    reg.register("mm-last")(lambda r: Section("Last"))
    assert [s.title for s in collect({}, registry=reg)] == ["First", "Last"]


def test_absurd_sizes_are_capped_with_a_note(sections):
    @sections.register("test-huge")
    def huge(results):
        return Section("x" * 10_000, tuple(f"p{i}" for i in range(100)),
                       Table(tuple(f"c{i}" for i in range(50)), tuple(tuple(["y" * 5000] + [i] * 49) for i in range(2_000))))

    rendered = [s for s in collect(_results()) if s.name == "test-huge"][0]
    assert len(rendered.title) == LIMITS.title and len(rendered.paragraphs) == LIMITS.paragraphs
    assert len(rendered.headers) == LIMITS.columns and len(rendered.rows) == LIMITS.rows
    assert all(len(row[0].text) == LIMITS.cell for row in rendered.rows)
    assert "200 of 2000 rows shown" in rendered.cuts and "20 of 50 columns shown" in rendered.cuts
    html = render_html(_results(), [])
    assert len(html) < 1_500_000
    assert "200 of 2000 rows shown" in _plugin_part(html)


def test_a_re_rendered_report_shows_the_sections(sections, tmp_path):
    """harness gate and --baseline re-render report.html through harness.audit.republish."""
    @sections.register("test-republish")
    def gate_note(results):
        return Section("Gate note", (f"gate: {results.get('gate', {}).get('verdict', 'none')}",))

    results = _results()
    republish(tmp_path, parse({**results, "gate": {"verdict": "pass", "rules": []}}))
    html = (tmp_path / "report.html").read_text()
    assert "Gate note" in html and "gate: pass" in html
    assert json.loads((tmp_path / "results.json").read_text())["gate"]["verdict"] == "pass"


# --- a third-party package, through its entry point -----------------------------------------------

SECTIONS_SOURCE = '''
    from harness.report.sections import Section, Table

    def parity_section(results):
        """Parity of every model (a plugin section)."""
        rows = tuple((name, "<script>alert(1)</script>", len(info["tasks"])) for name, info in results["models"].items())
        return Section("Parity plugin <script>alert(1)</script>", ("from an entry point",), Table(("model", "note", "tasks"), rows))

    def broken_section(results):
        raise ZeroDivisionError("division by zero in the plugin")

    def wrong_section(results):
        return {"title": "a dict"}
'''

SECTION_POINTS = '''
    [harness.report_sections]
    parity-section = harness_parity_plugin:parity_section
    broken-section = harness_parity_plugin:broken_section
    wrong-section = harness_parity_plugin:wrong_section
    missing-section = harness_parity_missing:nothing
'''


def test_sections_from_an_installed_package_through_entry_points(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    _install_fake_distribution(site, "harness_parity_plugin", PLUGIN + SECTIONS_SOURCE, ENTRY_POINTS + SECTION_POINTS)
    rows = [{"id": str(i), "text": "x" * i, "label": "even" if i % 2 == 0 else "odd"} for i in range(1, 7)]
    (site / "parity.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    env = {"PYTHONPATH": str(site)}

    listed = run_cli("list", "sections", env=env)
    assert listed.returncode == 0, listed.stderr
    names = [line.split()[0] for line in listed.stdout.splitlines()]
    assert names == ["metric-definitions", "parity-section", "broken-section", "wrong-section", "missing-section"]
    assert "entry point harness_parity_plugin:parity_section" in listed.stdout
    assert "Parity of every model" in listed.stdout and "failed to load: ModuleNotFoundError" in listed.stdout

    out = tmp_path / "out"
    proc = run_cli("run", "--model", "parity-model", "--tasks", "parity", "--out", str(out), "--no-probes",
                   "--no-progress", env=env)
    assert proc.returncode == 0, proc.stderr                     # the broken sections do not change the exit code
    run_dir = next(p for p in out.iterdir() if p.is_dir())
    results = json.loads((run_dir / "results.json").read_text())
    assert results["run"]["status"] == "complete"
    assert results["models"]["parity-model"]["tasks"]["parity"]["metrics"]["accuracy"]["value"] == 1.0
    tail = _plugin_part((run_dir / "report.html").read_text())
    assert "<script>" not in tail
    assert "Parity plugin &lt;script&gt;alert(1)&lt;/script&gt;" in tail
    assert re.search(r"<td>parity-model</td><td>&lt;script&gt;alert\(1\)&lt;/script&gt;</td><td class=\"num\">1</td>", tail)
    assert "section broken-section failed: ZeroDivisionError: division by zero in the plugin" in tail
    assert "section wrong-section failed: TypeError: returned dict, expected harness.report.sections.Section or None" in tail
    assert "section missing-section failed: ModuleNotFoundError: No module named &#39;harness_parity_missing&#39;" in tail
    order = [tail.index(t) for t in ("Metric definitions", "Parity plugin", "broken-section", "wrong-section", "missing-section")]
    assert order == sorted(order)


def test_a_plugin_error_whose_message_cannot_be_read_is_still_a_note(sections):
    """str() of the plugin's exception raised in its turn: render_html crashed, so the run ended with a
    traceback (exit 1) and no report.html."""
    class Unprintable(Exception):
        def __str__(self):
            raise RuntimeError("no message for you")

    @sections.register("test-unprintable")
    def unprintable(results):
        raise Unprintable()

    @sections.register("test-after-unprintable")
    def after(results):
        return Section("Still here")
    tail = _plugin_part(render_html(_results(), []))
    assert "section test-unprintable failed: Unprintable: (its message cannot be read: RuntimeError)" in tail
    assert "Still here" in tail
