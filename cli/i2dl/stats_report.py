"""The shareable statistics report: one self-contained HTML page with SVG charts drawn here.

Everything is made from the plain data of `i2dl.stats.cohort_stats`: no scripts, fonts or images
are fetched, every text is escaped, and numbers are printed with fixed decimals, so the same
results give the same bytes.
"""

from __future__ import annotations

from html import escape
from typing import Any

SVG_NS = "http://www.w3.org/2000/svg"
FONT = "font-family='Helvetica, Arial, sans-serif'"
BAR, UPPER, LOWER, FLAG, KEY = "#4c72b0", "#55a868", "#c44e52", "#fbe3d6", "#2f6b2f"


def _e(text: Any) -> str:
    return escape(str(text), quote=True)


def _f(x: float | None, digits: int = 2) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.0f}%"


def _svg(width: int, height: int, body: list[str], title: str) -> str:
    return (f"<svg xmlns='{SVG_NS}' width='{width}' height='{height}' viewBox='0 0 {width} {height}' "
            f"role='img' {FONT} font-size='12'><title>{_e(title)}</title>"
            + "".join(body) + "</svg>")


def histogram_svg(histogram: list[dict[str, Any]], title: str = "Score histogram") -> str:
    """Bars of the number of students per band of the percentage, each count written above its bar."""
    width, height, left, bottom, top = 560, 260, 40, 40, 30
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = max((b["count"] for b in histogram), default=0) or 1
    bw = plot_w / max(len(histogram), 1)
    body = [f"<text x='{left}' y='18' font-size='14'>{_e(title)}</text>",
            f"<line x1='{left}' y1='{top + plot_h}' x2='{left + plot_w}' y2='{top + plot_h}' stroke='#333'/>"]
    for i, b in enumerate(histogram):
        h = plot_h * b["count"] / peak
        x, y = left + i * bw, top + plot_h - h
        body.append(f"<rect class='bar' x='{x + 2:.1f}' y='{y:.1f}' width='{bw - 4:.1f}' height='{h:.1f}' "
                    f"fill='{BAR}' data-count='{b['count']}'><title>{b['from']:g}–{b['to']:g}%: "
                    f"{b['count']} students</title></rect>")
        body.append(f"<text x='{x + bw / 2:.1f}' y='{y - 4:.1f}' text-anchor='middle'>{b['count']}</text>")
        body.append(f"<text x='{x + bw / 2:.1f}' y='{top + plot_h + 16:.1f}' text-anchor='middle' "
                    f"font-size='10'>{b['from']:g}–{b['to']:g}</text>")
    body.append(f"<text x='{left + plot_w / 2:.1f}' y='{height - 6}' text-anchor='middle'>percent of the points</text>")
    return _svg(width, height, body, title)


def scatter_svg(parts: list[dict[str, Any]], title: str = "Difficulty and discrimination") -> str:
    """Each part at (difficulty, corrected item-total r); the review zones (too easy, too hard, r < 0) shaded."""
    width, height, left, bottom, top, right = 560, 400, 50, 45, 30, 20
    plot_w, plot_h = width - left - right, height - bottom - top

    def px(p: float) -> float:
        return left + plot_w * p

    def py(r: float) -> float:
        return top + plot_h * (1 - r) / 2  # r from -1 (bottom) to 1 (top)

    body = [f"<text x='{left}' y='18' font-size='14'>{_e(title)}</text>",
            f"<rect x='{left}' y='{py(0):.1f}' width='{plot_w}' height='{py(-1) - py(0):.1f}' fill='{FLAG}'/>",
            f"<rect x='{left}' y='{top}' width='{plot_w * 0.1:.1f}' height='{plot_h}' fill='{FLAG}'/>",
            f"<rect x='{px(0.9):.1f}' y='{top}' width='{plot_w * 0.1:.1f}' height='{plot_h}' fill='{FLAG}'/>",
            f"<rect x='{left}' y='{top}' width='{plot_w}' height='{plot_h}' fill='none' stroke='#333'/>",
            f"<line x1='{left}' y1='{py(0):.1f}' x2='{left + plot_w}' y2='{py(0):.1f}' stroke='#999' "
            "stroke-dasharray='4 3'/>"]
    for v in (0, 0.25, 0.5, 0.75, 1):
        body.append(f"<text x='{px(v):.1f}' y='{top + plot_h + 15}' text-anchor='middle' font-size='10'>{v:g}</text>")
    for v in (-1, -0.5, 0, 0.5, 1):
        body.append(f"<text x='{left - 6}' y='{py(v) + 4:.1f}' text-anchor='end' font-size='10'>{v:g}</text>")
    body.append(f"<text x='{left + plot_w / 2:.1f}' y='{height - 8}' text-anchor='middle'>difficulty "
                "(mean / max points: 1 = everyone full marks)</text>")
    body.append(f"<text transform='translate(14 {top + plot_h / 2:.1f}) rotate(-90)' text-anchor='middle'>"
                "corrected item-total r</text>")
    for p in parts:
        if p["difficulty"] is None or p["item_total_r"] is None:
            continue
        x, y = px(p["difficulty"]), py(p["item_total_r"])
        colour = LOWER if p["flags"] else BAR
        body.append(f"<circle class='item' cx='{x:.1f}' cy='{y:.1f}' r='4' fill='{colour}' "
                    f"data-part='{_e(p['number'])}' data-difficulty='{p['difficulty']:.4f}' "
                    f"data-r='{p['item_total_r']:.4f}'><title>{_e(p['number'])} ({_e(p['id'])}): difficulty "
                    f"{p['difficulty']:.2f}, r {p['item_total_r']:.2f}</title></circle>")
        body.append(f"<text x='{x + 6:.1f}' y='{y - 4:.1f}' font-size='9'>{_e(p['number'])}</text>")
    return _svg(width, height, body, title)


def options_svg(part: str, blank: str, data: dict[str, Any]) -> str:
    """Horizontal bars per option: the share of everyone, of the upper and of the lower group choosing it."""
    rows = data["options"]
    sizes = {"all": data["students"], "upper": data["group"], "lower": data["group"]}
    width, row_h, left = 560, 42, 90
    height = 40 + row_h * len(rows) + 20
    plot_w = width - left - 80
    title = f"Part {part}: options chosen"
    body = [f"<text x='10' y='18' font-size='14'>{_e(title)}</text>",
            f"<text x='{left}' y='32' font-size='10'><tspan fill='{BAR}'>■ everyone</tspan> "
            f"<tspan fill='{UPPER}'>■ upper 27%</tspan> <tspan fill='{LOWER}'>■ lower 27%</tspan></text>"]
    for i, r in enumerate(rows):
        y = 42 + i * row_h
        label = r["letter"] + (" (key)" if r["correct"] else "")
        colour = KEY if r["correct"] else "#333"
        body.append(f"<text x='10' y='{y + 20}' fill='{colour}'>{_e(label)}</text>")
        for k, (key, fill) in enumerate((("all", BAR), ("upper", UPPER), ("lower", LOWER))):
            share = r[key] / sizes[key] if sizes[key] else 0.0
            w = plot_w * share
            body.append(f"<rect class='option' x='{left}' y='{y + 2 + k * 12}' width='{w:.1f}' height='10' "
                        f"fill='{fill}' data-option='{_e(r['letter'])}' data-group='{key}' data-count='{r[key]}'/>")
            body.append(f"<text x='{left + w + 4:.1f}' y='{y + 11 + k * 12}' font-size='9'>{r[key]} "
                        f"({100 * share:.0f}%)</text>")
    return _svg(width, height, body, title)


_CSS = """body{font-family:Helvetica,Arial,sans-serif;margin:2em auto;max-width:60em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:right}
th{background:#f2f2f2}td.l,th.l{text-align:left}tr.flag td{background:#fbe3d6}figure{margin:1em 0}"""


def report_html(stats: dict[str, Any]) -> str:
    """The whole report: summary figures, items to review, the part and problem tables, every chart."""
    title = f"Item statistics: {stats['exam_id']}"
    out = ["<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
           f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>", f"<h1>{_e(title)}</h1>",
           f"<p>{stats['students']} students graded; mean {_f(stats['mean'])} of {stats['max_points']:g} points "
           f"({_f(stats['mean_percent'], 1)}%), standard deviation {_f(stats['sd'])}; "
           f"Cronbach's alpha {_f(stats['alpha'])}. Upper and lower groups: {stats['groups']['size']} students "
           f"each ({stats['groups']['share']:.0%}).</p>"]
    out.append("<h2>To review</h2>")
    if stats["flags"]:
        out.append("<ul>" + "".join(f"<li>{_e(f['item'])}: {_e(f['flag'])}</li>" for f in stats["flags"]) + "</ul>")
    else:
        out.append("<p>No item is flagged.</p>")
    out.append("<h2>Scores</h2><figure>" + histogram_svg(stats["histogram"]) + "</figure>")
    out.append("<table><tr><th class='l'>grade</th><th>from</th><th>students</th><th>share</th></tr>"
               + "".join(f"<tr><td class='l'>{_e(g['grade'])}</td><td>{g['min_percent']:g}%</td>"
                         f"<td>{g['count']}</td><td>{_pct(g['share'])}</td></tr>" for g in stats["grades"])
               + "</table>")
    out.append("<h2>Parts</h2><figure>" + scatter_svg(stats["parts"]) + "</figure>")
    head = ("<tr><th class='l'>part</th><th class='l'>item</th><th>points</th><th>mean</th><th>difficulty</th>"
            "<th>sd</th><th>item-total r</th><th>D (27%)</th><th>invalid</th><th>blank</th>"
            "<th class='l'>named mistakes</th><th class='l'>flags</th></tr>")
    rows = []
    for p in stats["parts"]:
        mistakes = "; ".join(f"{m['name']} {_pct(m['share'])}" for m in p["mistakes"])
        rows.append(f"<tr{' class=flag' if p['flags'] else ''}><td class='l'>{_e(p['number'])}</td>"
                    f"<td class='l'>{_e(p['id'])}</td><td>{p['points']:g}</td><td>{_f(p['mean'])}</td>"
                    f"<td>{_f(p['difficulty'])}</td><td>{_f(p['sd'])}</td><td>{_f(p['item_total_r'])}</td>"
                    f"<td>{_f(p['discrimination'])}</td><td>{_pct(p['invalid'])}</td><td>{_pct(p['blank'])}</td>"
                    f"<td class='l'>{_e(mistakes)}</td><td class='l'>{_e(', '.join(p['flags']))}</td></tr>")
    out.append("<table>" + head + "".join(rows) + "</table>")
    out.append("<h2>Problems</h2><table><tr><th class='l'>problem</th><th>points</th><th>mean</th>"
               "<th>difficulty</th><th>sd</th><th>item-total r</th><th>D (27%)</th><th class='l'>flags</th></tr>"
               + "".join(f"<tr{' class=flag' if p['flags'] else ''}><td class='l'>{p['number']}</td>"
                         f"<td>{p['points']:g}</td><td>{_f(p['mean'])}</td><td>{_f(p['difficulty'])}</td>"
                         f"<td>{_f(p['sd'])}</td><td>{_f(p['item_total_r'])}</td><td>{_f(p['discrimination'])}</td>"
                         f"<td class='l'>{_e(', '.join(p['flags']))}</td></tr>" for p in stats["problems"])
               + "</table>")
    charts = [(p["number"], blank, data) for p in stats["parts"] for blank, data in (p.get("options") or {}).items()]
    if charts:
        out.append("<h2>Multiple choice</h2>")
        for number, blank, data in charts:
            if data["by_letter_of_own_sheet"]:
                out.append(f"<p>{_e(number)}: options counted by the letter on each student's own sheet "
                           "(a cohort's variants shuffle them).</p>")
            out.append("<figure>" + options_svg(number, blank, data) + "</figure>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
