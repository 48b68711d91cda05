"""The Compare page's score distribution as server-drawn SVG (workbench/app/svg_chart.py)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd

from workbench.app.svg_chart import HEIGHT, TOP, histogram_svg, in_markdown, intervals_svg, nice_ticks

NS = {"svg": "http://www.w3.org/2000/svg"}
HOSTILE = 'p</title><script>alert(1)</script>\n\n**b** & "q" <img src=x onerror=alert(2)>'


def hist(variants: dict[str, str], counts: list[list[int]]) -> pd.DataFrame:
    """compare_grid.histogram's shape: the same bins over [0, 1] for every run."""
    edges = np.linspace(0, 1, len(counts[0]) + 1)
    return pd.concat([pd.DataFrame({"run_id": run_id, "variant": label, "start": edges[:-1], "end": edges[1:],
                                    "count": c}) for (run_id, label), c in zip(variants.items(), counts)],
                     ignore_index=True)


def chart(h: pd.DataFrame) -> ET.Element:
    runs = list(dict.fromkeys(h["run_id"]))
    keys = {r: "ABCD"[n] for n, r in enumerate(runs)}
    colours = {r: ["#1c83e1", "#ff8700", "#21c354", "#ff2b2b"][n] for n, r in enumerate(runs)}
    return ET.fromstring(histogram_svg(h, keys, colours, "bleu (bin start)", "outputs"))


def test_one_step_line_per_variant_in_its_colour_with_a_tooltip_per_bin():
    h = hist({"r1": "few@abc", "r2": "zero@def", "r3": "brief@123"}, [[1, 5, 0, 2], [0, 0, 8, 0], [3, 3, 3, 3]])
    root = chart(h)
    paths = root.findall(".//svg:path", NS)
    assert [p.get("stroke") for p in paths] == ["#1c83e1", "#ff8700", "#21c354"]
    assert root.get("height") == str(HEIGHT)
    titles = [t.text for t in root.findall(".//svg:circle/svg:title", NS)]
    assert len(titles) == 12
    assert titles[1] == "A · few@abc\n0.25 – 0.5: 5 outputs" and titles[6] == "B · zero@def\n0.5 – 0.75: 8 outputs"
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "bleu (bin start)" in texts and "outputs" in texts and {"A", "B", "C"} <= set(texts)


def test_the_step_line_is_flat_over_each_bin_and_the_tallest_bin_reaches_the_top():
    root = chart(hist({"r1": "v"}, [[2, 4]]))
    d = root.find(".//svg:path", NS).get("d")
    ys = [float(part.split("H")[0]) for part in d.split("V")[1:]]
    xs = [float(part.split("V")[0]) for part in d.split("H")[1:]]
    assert ys[0] > ys[1] == TOP and xs[0] < xs[1]  # the second bin is higher (smaller y), at the top, further right
    circles = root.findall(".//svg:circle", NS)
    assert float(circles[1].get("cy")) == ys[1] and float(circles[0].get("cx")) < xs[0]


def test_a_hostile_variant_name_stays_text():
    svg = histogram_svg(hist({"r1": HOSTILE}, [[1, 2]]), {"r1": "A"}, {"r1": "#1c83e1"}, "x <b>", "y")
    root = ET.fromstring(svg)
    assert not [e for e in root.iter() if e.tag.split("}")[-1] in ("script", "img", "b")]
    assert root.find(".//svg:title", NS).text.startswith("A · " + HOSTILE)  # the name itself, as text
    assert "\n" not in svg  # a blank line would end Markdown's HTML block, the rest read as Markdown
    assert in_markdown(svg).startswith("<div><svg ") and in_markdown(svg).endswith("</svg></div>")


def test_no_scores_no_chart():
    assert histogram_svg(pd.DataFrame(columns=["run_id", "variant", "start", "end", "count"]), {}, {}, "x", "y") == ""


def test_ticks_are_round_numbers_within_the_range():
    assert nice_ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(0, 1234, 4) == [0, 500, 1000]
    assert nice_ticks(3, 3) == [3]


def test_intervals_one_row_each_in_order_with_its_label_rule_point_and_tooltip():
    rows = [("few@abc", 0.1, 0.4, 0.7, "few: +0.4"), (HOSTILE, -0.6, -0.4, -0.1, HOSTILE),
            ("no value", 0.0, float("nan"), 1.0, "dropped")]
    root = ET.fromstring(intervals_svg(rows, "strength (95% CI)"))
    groups = [g for g in root.findall("svg:g", NS) if g.find("svg:title", NS) is not None]
    assert [g.find("svg:title", NS).text for g in groups] == ["few: +0.4", HOSTILE]
    assert [g.find("svg:text", NS).text for g in groups] == ["few@abc", HOSTILE]
    first, second = (g.find("svg:line", NS) for g in groups)
    assert float(first.get("x1")) < float(first.get("x2")) and float(second.get("x2")) < float(first.get("x1"))
    assert float(groups[1].find("svg:circle", NS).get("cx")) < float(groups[0].find("svg:circle", NS).get("cx"))
    assert not [e for e in root.iter() if e.tag.split("}")[-1] in ("script", "img")]
    dashed = [x for x in root.findall("svg:line", NS) if x.get("stroke-dasharray")]  # 0 lies inside: marked
    assert len(dashed) == 1


def test_intervals_on_a_fixed_domain_and_none_to_draw():
    root = ET.fromstring(intervals_svg([("bleu", 0.2, 0.5, 0.8, "t")], "ρ", domain=(-1, 1)))
    ticks = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "-1" in ticks and "1" in ticks and "ρ" in ticks
    assert intervals_svg([("x", 0.0, float("nan"), 1.0, "t")], "ρ") == "" and intervals_svg([], "ρ") == ""
