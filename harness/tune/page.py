"""tune.html: the quality vs J/example front of a tune, one self-contained page (an inline SVG and a
table; no script, no network). Every string from the user or the model (specs, task and metric
names, reasons) is escaped."""
from __future__ import annotations

from html import escape

W, H, PAD = 640, 380, 56


def _num(x, spec: str = ".4g") -> str:
    return "—" if x is None else format(x, spec)


def _interval(ci) -> str:
    lo, hi = (ci or [None, None])[:2]
    return "" if lo is None or hi is None else f" [{_num(lo)}, {_num(hi)}]"


def _scale(values: list[float]):
    lo, hi = min(values), max(values)
    if hi == lo:
        lo, hi = lo - (abs(lo) or 1) * 0.1, hi + (abs(hi) or 1) * 0.1
    return lo, hi


def _svg(points: list[dict], front_ids: set[int], best_id: int | None) -> str:
    shown = [p for p in points if p["j_per_example"].get("value") is not None and p["quality_mean"] is not None]
    if not shown:
        return "<p>No configuration was measured.</p>"
    xs = [v for p in shown for v in [p["j_per_example"]["value"], *(p["j_per_example"].get("ci95") or [])] if v is not None]
    ys = [v for p in shown for v in [p["quality_mean"], *(p.get("quality_ci95") or [])] if v is not None]
    (x0, x1), (y0, y1) = _scale(xs), _scale(ys)

    def px(x): return PAD + (x - x0) / (x1 - x0) * (W - 2 * PAD)
    def py(y): return H - PAD - (y - y0) / (y1 - y0) * (H - 2 * PAD)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" role="img" '
             'aria-label="quality against J per example">',
             f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - PAD}" y2="{H - PAD}" stroke="#333"/>',
             f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{H - PAD}" stroke="#333"/>',
             f'<text x="{W / 2}" y="{H - 12}" text-anchor="middle">J/example (95% interval across repeats)</text>',
             f'<text x="14" y="{H / 2}" transform="rotate(-90 14 {H / 2})" text-anchor="middle">quality (mean headline '
             'metric)</text>',
             f'<text x="{PAD}" y="{H - PAD + 16}" text-anchor="middle">{_num(x0, ".3g")}</text>',
             f'<text x="{W - PAD}" y="{H - PAD + 16}" text-anchor="middle">{_num(x1, ".3g")}</text>',
             f'<text x="{PAD - 6}" y="{H - PAD}" text-anchor="end">{_num(y0, ".3g")}</text>',
             f'<text x="{PAD - 6}" y="{PAD + 4}" text-anchor="end">{_num(y1, ".3g")}</text>']
    ordered = sorted((p for p in shown if id(p) in front_ids), key=lambda p: p["j_per_example"]["value"])
    if len(ordered) > 1:
        line = " ".join(f"{px(p['j_per_example']['value']):.1f},{py(p['quality_mean']):.1f}" for p in ordered)
        parts.append(f'<polyline points="{line}" fill="none" stroke="#1f77b4" stroke-dasharray="4 3"/>')
    for p in shown:
        x, y = px(p["j_per_example"]["value"]), py(p["quality_mean"])
        lo, hi = (p["j_per_example"].get("ci95") or [None, None])
        if lo is not None and hi is not None:
            parts.append(f'<line x1="{px(lo):.1f}" y1="{y:.1f}" x2="{px(hi):.1f}" y2="{y:.1f}" stroke="#999"/>')
        qlo, qhi = p.get("quality_ci95") or [None, None]
        if qlo is not None and qhi is not None:
            parts.append(f'<line x1="{x:.1f}" y1="{py(qlo):.1f}" x2="{x:.1f}" y2="{py(qhi):.1f}" stroke="#ccc"/>')
        colour = "#000" if p["trial"] is None else "#1f77b4" if id(p) in front_ids else \
            "#2ca02c" if p["feasible"] else "#d62728"
        radius = 8 if id(p) == best_id else 5
        label = escape(("full model: " if p["trial"] is None else f"trial {p['trial']}: ") + p["spec"])
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius}" fill="{colour}" fill-opacity="0.8">'
                     f'<title>{label}</title></circle>')
    parts.append("</svg>")
    return "".join(parts)


def _row(t: dict) -> str:
    point = t.get("point") or {}
    energy = point.get("j_per_example") or {}
    floor = point.get("floor") or {}
    verdict = "passed" if floor.get("passed") else "failed" if floor else ""
    cells = [t.get("number", "full"), t.get("state", ""), t.get("spec", ""), t.get("batch_size") or "default",
             _num(point.get("quality_mean")) + _interval(point.get("quality_ci95")),
             _num(energy.get("value")) + _interval(energy.get("ci95")), verdict, t.get("note", "")]
    return "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in cells) + "</tr>"


def render(tune: dict) -> str:
    points = [tune["full"], *[t["point"] for t in tune["trials"] if t.get("point")]]
    front_ids = {id(p) for p in points for f in tune["pareto"] if f.get("trial") == p.get("trial")}
    chosen = tune.get("best") or {}
    best_id = next((id(p) for p in points if chosen and p.get("trial") == chosen.get("trial")), None)
    rows = [_row({"number": "full", "state": "reference", "spec": tune["full"]["spec"], "point": tune["full"]}),
            *(_row(t) for t in tune["trials"])]
    best_line = (f"<p><b>No configuration passed the floor with less {escape(tune['settings']['objective'])} than "
                 f"the full model:</b> keep <code>{escape(chosen['spec'])}</code>.</p>") if chosen.get("is_full_model") \
        else (f"<p><b>Best:</b> <code>{escape(chosen['spec'])}</code> — <code>{escape(chosen['command'])}</code>"
                 f" (saving {_num(chosen.get('saving_pct'), '.1f')}% of the full model's "
                 f"{escape(tune['settings']['objective'])})</p>") if chosen else "<p>No configuration passed the floor.</p>"
    settings = escape(", ".join(f"{k}={v}" for k, v in tune["settings"].items() if k != "space"))
    return ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>harness tune</title>"
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:3px 6px;font-size:90%}</style></head><body>"
            f"<h1>harness tune</h1><p>{settings}</p>{best_line}"
            "<p>Black: the full model; blue: the Pareto front of the configurations that pass the floor; green: "
            "passes, dominated; red: fails the floor. Bars: 95% intervals.</p>"
            f"{_svg(points, front_ids, best_id)}"
            "<h2>Trials</h2><table><tr><th>trial</th><th>state</th><th>spec</th><th>batch size</th><th>quality</th>"
            "<th>J/example</th><th>floor</th><th>note</th></tr>" + "".join(rows) + "</table></body></html>\n")
