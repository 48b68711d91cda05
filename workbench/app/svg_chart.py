"""Charts as inline SVG drawn on the server: Compare's score distributions (a step line per variant over shared
bins) and the Leaderboard's intervals (a rule per row from low to high, a point at the estimate).

These were Vega-Lite charts, and Chromium parsing and running Vega on first use held up the pages' first
paint (issue 20); these are the same pictures as plain markup. Every text in it is escaped (run names are user
input), nothing is fetched (the fonts are the browser's own) and no script runs: tooltips are <title>s.
"""

from __future__ import annotations

import html
import math

import pandas as pd

WIDTH, HEIGHT = 360, 260  # the viewBox: about the width of its column beside the summary, drawn HEIGHT px high
LEFT, RIGHT, TOP, BOTTOM = 52, 10, 26, 40  # margins around the plot: tick labels, legend, axis titles
FONT = 'font-family="sans-serif" font-size="11" fill="currentColor"'  # the theme's text colour, light or dark


def text(value) -> str:
    """Escaped for an attribute or a text node, with no line breaks left: Markdown ends an HTML block at a
    blank line, which would turn the rest of the chart into Markdown."""
    return html.escape(str(value)).replace("\r", "&#13;").replace("\n", "&#10;")


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round values (1, 2 or 5 times a power of ten apart) from lo to hi, about `count` of them."""
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    return [round(first + k * step, 12) for k in range(int((hi - first) / step + 1e-9) + 1)]


def number(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}"


def histogram_svg(hist: pd.DataFrame, keys: dict[str, str], colours: dict[str, str], x_title: str,
                  y_title: str) -> str:
    """`hist` as compare_grid.histogram makes it (run_id, variant, start, end, count; the same bins for every
    run) as SVG text: a step line per run in `colours[run_id]` with a point per bin whose <title> says its
    variant, range and count (`y_title` names what is counted), and a legend of `keys[run_id]`. An empty frame
    gives ''."""
    if hist.empty:
        return ""
    lo, hi = float(hist["start"].min()), float(hist["end"].max())
    span = hi - lo or 1.0  # store.score_histogram widens a single value to a range; this only avoids / 0
    top = max(int(hist["count"].max()), 1)
    y_ticks = [t for t in nice_ticks(0, top, 4) if t == int(t)]
    top = max(top, y_ticks[-1])

    def x(v: float) -> float:
        return round(LEFT + (v - lo) / span * (WIDTH - LEFT - RIGHT), 1)

    def y(v: float) -> float:
        return round(HEIGHT - BOTTOM - v / top * (HEIGHT - TOP - BOTTOM), 1)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="wb-chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'width="100%" height="{HEIGHT}" role="img" aria-label="{text(x_title)}">']
    parts += axes(x, y, lo, hi, y_ticks, x_title, y_title)
    for n, (run_id, bins) in enumerate(hist.groupby("run_id", sort=False)):
        parts += series(bins, keys.get(run_id, run_id), colours.get(run_id, "currentColor"), y_title, x, y)
        parts.append(legend_entry(n, keys.get(run_id, run_id), colours.get(run_id, "currentColor")))
    parts.append("</svg>")
    return "".join(parts)


def axes(x, y, lo: float, hi: float, y_ticks: list[float], x_title: str, y_title: str) -> list[str]:
    """Grid lines, tick labels and the two axis titles."""
    bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
    out = ['<g stroke="currentColor" stroke-opacity="0.15">']
    out += [f'<line x1="{LEFT}" x2="{right}" y1="{y(t)}" y2="{y(t)}"/>' for t in y_ticks]
    out.append(f'</g><g {FONT} fill-opacity="0.75">')
    out += [f'<text x="{LEFT - 6}" y="{y(t) + 4}" text-anchor="end">{text(number(t))}</text>' for t in y_ticks]
    out += [f'<text x="{x(t)}" y="{bottom + 15}" text-anchor="middle">{text(number(t))}</text>'
            for t in nice_ticks(lo, hi)]
    out.append("</g>")
    out.append(f'<line x1="{LEFT}" x2="{right}" y1="{bottom}" y2="{bottom}" stroke="currentColor" '
               f'stroke-opacity="0.5"/>')
    out.append(f'<text {FONT} x="{(LEFT + right) / 2}" y="{HEIGHT - 4}" text-anchor="middle">{text(x_title)}</text>')
    out.append(f'<text {FONT} transform="translate(12 {(TOP + bottom) / 2}) rotate(-90)" '
               f'text-anchor="middle">{text(y_title)}</text>')
    return out


def series(bins: pd.DataFrame, key: str, colour: str, count_name: str, x, y) -> list[str]:
    """One run's step line (flat across each bin, a vertical step between bins) and a point at each bin's start
    with its tooltip: the variant, the bin's range and its count."""
    first = bins.iloc[0]  # a row as a Series: ["count"], since .count is its method
    steps = [f"M{x(first['start'])} {y(first['count'])}"] + [f"V{y(b.count)}H{x(b.end)}" for b in bins.itertuples()]
    out = [f'<path d="{"".join(steps)}" fill="none" stroke="{text(colour)}" stroke-width="2"/>',
           f'<g fill="{text(colour)}">']
    for b in bins.itertuples():
        tip = f"{key} · {b.variant}\n{number(b.start)} – {number(b.end)}: {int(b.count):,} {count_name}"
        out.append(f'<circle cx="{x(b.start)}" cy="{y(b.count)}" r="3.5"><title>{text(tip)}</title></circle>')
    out.append("</g>")
    return out


def legend_entry(n: int, key: str, colour: str) -> str:
    """A coloured square and the variant's key, in a row above the plot."""
    left = LEFT + 44 * n
    return (f'<rect x="{left}" y="6" width="10" height="10" fill="{text(colour)}"/>'
            f'<text {FONT} x="{left + 14}" y="15">{text(key)}</text>')


def in_markdown(svg: str) -> str:
    """`svg` as st.markdown(..., unsafe_allow_html=True) shows it whole: in a <div>, since Markdown reads all up to
    a blank line after an opening <div as raw HTML, while a line that starts with <svg and goes on is a paragraph
    whose texts (tick labels, titles) would be read as Markdown."""
    return f"<div>{svg}</div>"


ROW = 36  # pixels per row of an interval chart: its label's line, then its interval's


def intervals_svg(rows: list[tuple[str, float, float, float, str]], x_title: str,
                  domain: tuple[float, float] | None = None, width: int = 720) -> str:
    """Rows of (label, low, value, high, tooltip) as SVG text, one under the other in the given order: the label
    on a line of its own (no text is measured here: a long name keeps its whole line), under it the interval as a
    rule from low to high with a point at value, whose <title> is the tooltip. The x scale covers `domain`, else
    the rows' range; a line marks 0 where it lies inside. Rows without a value are left out; none gives ''."""
    rows = [r for r in rows if _finite(r[2])]
    if not rows:
        return ""
    values = [v for r in rows for v in r[1:4] if _finite(v)]
    lo, hi = domain or (min(values), max(values))
    pad = 0 if domain else (hi - lo) * 0.05 or 0.5
    lo, hi = lo - pad, hi + pad
    right, height = width - RIGHT, ROW * len(rows) + 36

    def x(v: float) -> float:
        return round(10 + (min(max(v, lo), hi) - lo) / (hi - lo) * (right - 10), 1)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="wb-chart" viewBox="0 0 {width} {height}" '
             f'width="100%" style="max-width:{width}px" role="img" aria-label="{text(x_title)}">']
    ticks = nice_ticks(lo, hi)
    parts.append('<g stroke="currentColor" stroke-opacity="0.15">')
    parts += [f'<line x1="{x(t)}" x2="{x(t)}" y1="4" y2="{height - 30}"/>' for t in ticks]
    parts.append("</g>")
    if lo < 0 < hi:
        parts.append(f'<line x1="{x(0)}" x2="{x(0)}" y1="4" y2="{height - 30}" stroke="currentColor" '
                     f'stroke-opacity="0.5" stroke-dasharray="3 3"/>')
    for n, (label, low, value, high, tip) in enumerate(rows):
        top = ROW * n
        parts.append(f'<g><title>{text(tip)}</title><text {FONT} x="10" y="{top + 14}">{text(label)}</text>')
        if _finite(low) and _finite(high):
            parts.append(f'<line x1="{x(low)}" x2="{x(high)}" y1="{top + 26}" y2="{top + 26}" stroke="#1c83e1" '
                         f'stroke-width="2"/>')
        parts.append(f'<circle cx="{x(value)}" cy="{top + 26}" r="5" fill="#1c83e1"/></g>')
    parts.append(f'<g {FONT} fill-opacity="0.75">')
    parts += [f'<text x="{x(t)}" y="{height - 18}" text-anchor="middle">{text(number(t))}</text>' for t in ticks]
    parts.append(f'</g><text {FONT} x="{(10 + right) / 2}" y="{height - 3}" text-anchor="middle">'
                 f'{text(x_title)}</text></svg>')
    return "".join(parts)


def _finite(v) -> bool:
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):  # None, or not a number
        return False
