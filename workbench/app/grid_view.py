"""One page of the Compare grid as an HTML table.

Every text in it (inputs, references, model outputs, errors) is untrusted: it goes through
textdiff.escape / diff_html, which turn HTML and Markdown syntax into entities. The page shows the
table with st.html, which sanitises again (DOMPurify) and runs no scripts.
"""

from __future__ import annotations

import math

from workbench.app.i18n import N_, _
from workbench.app.textdiff import diff_html, escape
from workbench.evaluation.compare_grid import Grid, Page, variant_key, variant_label

STYLE = """<style>
.wb-grid{border-collapse:collapse;width:100%;font-size:0.85rem;table-layout:fixed}
.wb-grid th,.wb-grid td{border:1px solid #ddd;padding:4px 6px;vertical-align:top;overflow-wrap:anywhere}
.wb-grid th{background:#f4f4f6;text-align:left;font-weight:600}
.wb-grid .idx{width:3.5em;color:#666}
.wb-grid ins{background:#d5f5d5;text-decoration:none}
.wb-grid del{background:#fbd5d5;color:#944}
.wb-grid .score{display:block;color:#555;font-size:0.75rem;margin-top:2px}
.wb-grid .err{color:#b00;font-style:italic}
.wb-grid .empty{color:#999}
.wb-grid details.psg{margin-top:4px;font-size:0.75rem;color:#444}
.wb-grid details.psg li{margin:2px 0}
.wb-grid .judge{display:block;color:#335;font-size:0.75rem;margin-top:3px;border-left:2px solid #99c;padding-left:4px}
</style>"""
# Against the reference, green is what the answer adds and struck-through red is reference text it left out.
LEFT_OUT = N_("in the reference, left out of the answer")  # shown translated
DIFF_MODES = {"reference": N_("against the reference"), "pair": N_("between two variants"),
              "none": N_("no highlighting")}  # shown translated


MAX_CHARS = 3000  # per cell: a runaway output must not make the page heavy


def _clip(text: str) -> tuple[str, str]:
    """(shown part, note on what was left out)."""
    if len(text) <= MAX_CHARS:
        return text, ""
    more = _("{n} more characters").format(n=f"{len(text) - MAX_CHARS:,}")
    return text[:MAX_CHARS], f"<span class='empty'> … {more}</span>"


def _score(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.3f}" if abs(value) < 1000 else f"{value:,.0f}"


def passages_html(found: list[dict]) -> str:
    """The passages an answer was given, folded under it: ids in the summary, each passage's text inside."""
    ids = ", ".join(p["id"] for p in found)
    items = "".join(f"<li><b>{escape(p['id'])}</b> {escape(p['title'])} <span class='empty'>{p['score']:.3g}</span>"
                    f"<br>{escape(_clip(p['text'])[0])}</li>" for p in found)
    return f"<details class='psg'><summary>passages: {escape(ids)}</summary><ol>{items}</ol></details>"


def judge_html(judgements: list[tuple[str, float | None, str | None, str | None]]) -> str:
    """A judge's score and reasoning (or its error kind) under an answer: (metric, score, reasoning, error kind)."""
    out = []
    for metric, score, reasoning, error_kind in judgements:
        shown = f"{score:g}" if isinstance(score, float) and not math.isnan(score) else f"error: {error_kind}"
        why = f" — {escape(_clip(reasoning)[0])}" if isinstance(reasoning, str) and reasoning else ""
        out.append(f"<span class='judge'><b>{escape(metric)} {escape(shown)}</b>{why}</span>")
    return "".join(out)


def page_html(grid: Grid, page: Page, diff: str = "reference", base: int = 0, other: int = 1,
              judged: dict[tuple[int, int], list] | None = None,
              passages: dict[tuple[int, int], list[dict]] | None = None) -> str:
    """The page's rows as a table. diff='pair' marks variant `other` against variant `base`. `judged`:
    (variant index, row_idx) -> the judges' (metric, score, reasoning, error kind), shown under the answer;
    `passages` ((variant, row_idx) -> passages, compare_grid.page_passages) under the answers of knowledge runs."""
    n = len(grid.runs)
    # texts worded outside the f-strings: Babel's extractor does not look inside them
    inp_head, ref_head, not_run = escape(_("input")), escape(_("reference")), escape(_("(not run yet)"))
    head = ["<th class='idx'>#</th>", f"<th>{inp_head}</th>", f"<th>{ref_head}</th>"]
    head += [f"<th>{escape(f'{variant_key(n)} · {variant_label(r)}')}</th>" for n, r in enumerate(grid.runs)]
    body = []
    for row in page.rows.to_dict(orient="records"):
        (inp, inp_more), (ref, ref_more) = _clip(row["input"]), _clip(row["reference"])
        cells = [f"<td class='idx'>{int(row['row_idx']) + 1}</td>", f"<td>{escape(inp)}{inp_more}</td>",
                 f"<td>{escape(ref)}{ref_more}</td>"]
        for i in range(n):
            text, error = row.get(f"text_{i}"), row.get(f"error_{i}")
            if isinstance(error, str):
                said = escape(_("error: {error}").format(error=_clip(error)[0]))
                cell = f"<span class='err'>{said}</span>"
            elif not isinstance(text, str):
                cell = f"<span class='empty'>{not_run}</span>"
            else:
                text, more = _clip(text)
                base_text = row.get(f"text_{base}")
                if diff == "reference" and ref:
                    cell = diff_html(ref, text, deleted_title=_(LEFT_OUT))
                elif diff == "pair" and i == other and isinstance(base_text, str):
                    cell = diff_html(_clip(base_text)[0], text)
                else:
                    cell = escape(text)
                cell += more
            score = _score(row.get(f"score_{i}"))
            if score and grid.metric:
                cell += f"<span class='score'>{escape(grid.metric)} {score}</span>"
            if passages and (i, int(row["row_idx"])) in passages:
                cell += passages_html(passages[(i, int(row["row_idx"]))])
            if judged and (i, int(row["row_idx"])) in judged:
                cell += judge_html(judged[(i, int(row["row_idx"]))])
            cells.append(f"<td>{cell}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (STYLE + "<table class='wb-grid'><thead><tr>" + "".join(head) + "</tr></thead><tbody>"
            + "".join(body) + "</tbody></table>")
