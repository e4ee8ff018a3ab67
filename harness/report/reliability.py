"""A small inline-SVG reliability diagram from a task's ``calibration`` object (harness.calibration).

``reliability_svg(results["models"][m]["tasks"][t]["calibration"])`` returns one ``<svg>`` element
(no scripts, no external references): per non-empty bin a bar up to the bin's accuracy, a dot at
its mean confidence (x) and accuracy (y), the diagonal of perfect calibration, and the ECE in the
caption. Every text inside is escaped here (html.escape) and the rest are numbers this module
formats, so the string may be put into a page as markup as it is. A calibration object that was
not measured gives a short <svg> saying why.
"""
from __future__ import annotations

from html import escape


def reliability_svg(calibration: dict, size: int = 200, title: str = "") -> str:
    pad = 28
    inner = size - 2 * pad
    top = 8 + (14 if title else 0)
    height = top + inner + pad + 6

    def x(v: float) -> float:
        return pad + v * inner

    def y(v: float) -> float:
        return top + (1 - v) * inner

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="reliability" width="{size}" height="{height}" '
             f'viewBox="0 0 {size} {height}" role="img">']
    if title:
        parts.append(f'<text x="{pad}" y="14" font-size="11">{escape(title)}</text>')
    if "not_measured" in calibration:
        parts.append(f'<text x="{pad}" y="{top + 20}" font-size="10">not measured: '
                     f'{escape(str(calibration["not_measured"]))}</text></svg>')
        return "".join(parts)
    parts.append(f'<rect x="{pad}" y="{top}" width="{inner}" height="{inner}" fill="none" stroke="#999"/>')
    parts.append(f'<line x1="{x(0):.1f}" y1="{y(0):.1f}" x2="{x(1):.1f}" y2="{y(1):.1f}" stroke="#bbb" '
                 'stroke-dasharray="3,3"/>')
    n = max(1, int(calibration.get("n") or 0))
    for row in calibration["reliability"]:
        if not row["count"]:
            continue
        opacity = 0.25 + 0.75 * row["count"] / n
        x0, x1 = x(row["lower"]), x(row["upper"])
        parts.append(f'<rect x="{x0 + 1:.1f}" y="{y(row["accuracy"]):.1f}" width="{x1 - x0 - 2:.1f}" '
                     f'height="{y(0) - y(row["accuracy"]):.1f}" fill="#4a7ab0" fill-opacity="{opacity:.2f}">'
                     f'<title>confidence {row["lower"]:.1f}-{row["upper"]:.1f}: {row["count"]} examples, mean '
                     f'confidence {row["confidence"]:.3f}, accuracy {row["accuracy"]:.3f}</title></rect>')
        parts.append(f'<circle cx="{x(row["confidence"]):.1f}" cy="{y(row["accuracy"]):.1f}" r="2.5" fill="#c0392b"/>')
    for v in (0, 0.5, 1):
        parts.append(f'<text x="{x(v):.1f}" y="{top + inner + 11}" font-size="9" text-anchor="middle">{v:g}</text>')
        parts.append(f'<text x="{pad - 4}" y="{y(v) + 3:.1f}" font-size="9" text-anchor="end">{v:g}</text>')
    ece = calibration["metrics"]["ece"]
    parts.append(f'<text x="{pad}" y="{top + inner + 24}" font-size="10">confidence → · ECE {ece["value"]:.3f} '
                 f'({calibration["bins"]} bins, n={calibration["n"]})</text></svg>')
    return "".join(parts)
