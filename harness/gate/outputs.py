"""What a gate verdict looks like outside results.json: a terminal table, JUnit XML (one test case
per rule and target) and a Markdown summary (for $GITHUB_STEP_SUMMARY). Pure: a typed verdict
(harness.results.verdict.GateVerdict) in, text out. Each shows a metric baseline rule's power (the
smallest drop its test detects with 80% power at its n: "MDE") and each ``judge: test`` rule's Holm
family."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from harness.results.verdict import GateRule, GateVerdict

_ICON = {"pass": "✅", "fail": "❌", "warn": "⚠️", "skip": "⏭️"}
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")     # not allowed in XML 1.0


def _value(v) -> str:
    return "—" if v is None else f"{v:.4g}"


def _counts(gate: GateVerdict) -> dict[str, int]:
    return {v: gate.counts.get(v, 0) for v in ("pass", "fail", "warn", "skip")}


def headline(gate: GateVerdict) -> str:
    c = _counts(gate)
    against = f" against baseline {gate.baseline}" if gate.baseline else ""
    return (f"gate: {gate.verdict.upper()}{against}: {c['fail']} failed, {c['warn']} warned, {c['pass']} passed, "
            f"{c['skip']} skipped")


def power_cell(r: GateRule) -> str:
    """A metric baseline rule's power in a few words: "MDE 0.228 (n=32)", "MDE none (n=5)", or ""."""
    p = r.power
    if p is None:
        return ""
    mde = "none" if p.mde is None and p.detectable is False else "?" if p.mde is None else f"{p.mde:.3g}"
    return f"MDE {mde} (n={p.n})" + (" < max_drop" if p.detectable is False else "")


def power_text(r: GateRule) -> str:
    p = r.power
    if p is None:
        return ""
    if p.mde is None:
        return f"power: {p.reason or 'not known'} (n={p.n})"
    return (f"the smallest drop this test detects with 80% power at n={p.n} is {p.mde:.4g} (two-sided α {p.alpha:.3g}; "
            f"{p.method})" + ("" if p.margin is None else f"; the rule allows {p.margin:.4g}"))


def family_lines(gate: GateVerdict) -> list[str]:
    return [f"Holm family of rule {name!r}: {f.size} p-value{'s' * (f.size != 1)} at α {f.alpha:g} "
            f"({', '.join(f.members[:6])}{f' and {f.size - 6} more' if f.size > 6 else ''}): {f.definition}"
            for name, f in gate.families.items()]


def table(gate: GateVerdict) -> str:
    """One line per rule and target: rule, target, value, threshold, verdict, power, reason; then each
    ``judge: test`` rule's Holm family and the verdict."""
    rows = [("rule", "target", "value", "threshold", "verdict", "power", "reason")]
    rows += [(r.name, r.target, _value(r.value), r.threshold, r.verdict.upper(), power_cell(r), r.reason)
             for r in gate.rules]
    rows = [tuple(" ".join(str(cell).split()) for cell in row) for row in rows]     # one line per row
    widths = [max(len(row[i]) for row in rows) for i in range(6)]
    lines = ["  ".join([*(cell.ljust(w) for cell, w in zip(row[:6], widths)), row[6]]).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths) + "  ------")
    return "\n".join(lines + family_lines(gate) + [headline(gate)])


def _xml(text) -> str:
    return _XML_BAD.sub("\ufffd", str(text))


def junit(gate: GateVerdict, suite: str = "harness gate") -> bytes:
    """JUnit XML: one <testcase> per rule and target; a failed rule is a <failure>, a skipped one
    <skipped>, a warning a passing case with the warning in <system-out>."""
    c = _counts(gate)
    root = ET.Element("testsuites", name=suite, tests=str(len(gate.rules)), failures=str(c["fail"]),
                      errors="0", skipped=str(c["skip"]))
    testsuite = ET.SubElement(root, "testsuite", name=suite, tests=str(len(gate.rules)), failures=str(c["fail"]),
                              errors="0", skipped=str(c["skip"]), timestamp=_xml(gate.evaluated))
    props = ET.SubElement(testsuite, "properties")
    for key in ("verdict", "policy", "policy_sha256", "baseline"):
        ET.SubElement(props, "property", name=key, value=_xml(getattr(gate, key) or ""))
    for line, name in zip(family_lines(gate), gate.families):
        ET.SubElement(props, "property", name=_xml(f"holm_family:{name}"), value=_xml(line))
    for r in gate.rules:
        model = r.target.split("/", 1)[0]
        case = ET.SubElement(testsuite, "testcase", classname=_xml(f"gate.{model}"),
                             name=_xml(f"{r.name} [{r.target}]"), time="0")
        power = power_text(r)
        detail = _xml(f"value {_value(r.value)}; threshold {r.threshold}; {r.reason}" + (f"; {power}" if power else ""))
        if r.verdict == "fail":
            ET.SubElement(case, "failure", message=_xml(r.reason), type="gate").text = detail
        elif r.verdict == "skip":
            ET.SubElement(case, "skipped", message=_xml(r.reason))
        else:
            ET.SubElement(case, "system-out").text = ("WARN: " if r.verdict == "warn" else "") + detail
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _md(text) -> str:
    """A table cell: pipes, newlines and HTML-significant characters escaped."""
    text = " ".join(str(text).split())
    return (text.replace("\\", "\\\\").replace("|", "\\|").replace("&", "&amp;").replace("<", "&lt;")
            .replace(">", "&gt;").replace("`", "\\`").replace("*", "\\*").replace("_", "\\_").replace("[", "\\[").replace("]", "\\]"))


def markdown(gate: GateVerdict) -> str:
    c = _counts(gate)
    verdict = gate.verdict
    lines = [f"## harness gate: {_ICON[verdict]} {verdict.upper()}", "",
             f"{c['fail']} failed, {c['warn']} warned, {c['pass']} passed, {c['skip']} skipped · policy "
             f"{_md(gate.policy)} · baseline {_md(gate.baseline or 'none')}", "",
             "| | rule | target | value | threshold | smallest drop detected (80% power) | reason |",
             "|---|---|---|---|---|---|---|"]
    order = {"fail": 0, "warn": 1, "skip": 2, "pass": 3}
    for r in sorted(gate.rules, key=lambda r: order[r.verdict]):
        lines.append(f"| {_ICON[r.verdict]} | {_md(r.name)} | {_md(r.target)} | {_value(r.value)} | "
                     f"{_md(r.threshold)} | {_md(power_cell(r))} | {_md(r.reason)} |")
    families = family_lines(gate)
    if families:
        lines += [""] + [f"* {_md(line)}" for line in families]
    return "\n".join(lines) + "\n"
