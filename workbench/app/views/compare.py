"""Compare: the chosen runs (variants) side by side — summary with 95% CIs, score distributions,
and the grid of outputs per dataset item, sorted, filtered, searched and paged."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from workbench import store
from workbench.app import context
from workbench.app.grid_view import DIFF_MODES, page_html
from workbench.app.i18n import _
from workbench.app.svg_chart import HEIGHT, histogram_svg, in_markdown
from workbench.app.textdiff import markdown_literal
from workbench.evaluation import analysis
from workbench.evaluation import compare_grid as grid
from workbench.metrics import LOWER_IS_BETTER

try:  # the statistics section (paired bootstrap, tests) comes with the rating feature
    from workbench.app.significance import render_significance
except ImportError:
    render_significance = None

CHART_HEIGHT = HEIGHT  # pixels; the chart's place is kept at that height until it is drawn
AUTO_SIGNIFICANCE_ROWS = 2000  # above this the bootstrap waits for a click: it would hold up the page

st.title(_("Compare"))
ss = st.session_state
# grid.SORTS in the interface's words (the keys are the same)
SORT_NAMES = {"row": _("dataset order"), "worst": _("worst score first"),
              "disagreement": _("biggest disagreement first")}


def ci(m) -> str:
    if m is None or math.isnan(m.mean):
        return ""
    digits = 0 if abs(m.mean) >= 100 else 3  # milliseconds and characters need no decimals
    return f"{m.mean:.{digits}f} ± {(m.ci_high - m.ci_low) / 2:.{digits}f}"


@st.cache_data(max_entries=16, show_spinner=False)
def load_grid(db: str, run_ids: tuple[str, ...], metric: str | None, stamp: tuple) -> grid.Grid:
    """The grid's runs, dataset and item count (no outputs: each page is read on its own, see show_grid);
    `stamp` (outputs stored, statuses) refreshes it as runs progress."""
    with store.connect(db) as con:
        return grid.load_grid(con, list(run_ids), metric)


@st.cache_data(max_entries=16, show_spinner=False)
def run_frame(db: str, run_ids: tuple[str, ...], stamp: tuple) -> tuple[list[dict], list[str]]:
    """The runs' records and the metrics they scored: what the page lays out before the grid."""
    with store.connect(db) as con:
        return [store.get_run(con, r) for r in run_ids], store.run_metrics(con, list(run_ids))


@st.cache_data(max_entries=16, show_spinner=False)
def summarize(db: str, run_ids: tuple[str, ...], stamp: tuple):
    """Summaries and token totals of the runs; recomputed when `stamp` says they changed."""
    with store.connect(db) as con:
        return [analysis.summarize(con, r) for r in run_ids], store.token_stats(con, list(run_ids)).set_index("run_id")


@st.cache_data(max_entries=16, show_spinner=False)
def histogram(db: str, run_ids: tuple[str, ...], metric: str, stamp: tuple, _runs: list[dict]):
    """Keyed on the run ids (`_runs`, their records, is not hashed: Streamlit skips arguments named with a
    leading underscore, and hashing four run records cost more than the lookup)."""
    with store.connect(db) as con:
        return grid.histogram(con, _runs, metric)


def judged_on_page(con, run_ids: list[str], view) -> dict:
    """The judges' scores and reasoning for the page's items (the first repeat, as the grid shows)."""
    j = store.load_judgements(con, run_ids, rows=[int(r) for r in view.rows["row_idx"]])
    column = {r: i for i, r in enumerate(run_ids)}
    out: dict = {}
    for x in j[(j["repeat_idx"] == 0) & (j["turn_idx"] == 0)].itertuples():
        out.setdefault((column[x.run_id], int(x.row_idx)), []).append((x.metric, x.score, x.reasoning, x.error_kind))
    return out


def step_page(delta: int) -> None:
    ss["cmp_page"] = max(1, ss.get("cmp_page", 1) + delta)


def summary_rows(summaries, tokens: pd.DataFrame, metrics: list[str], keys: dict[str, str]) -> list[dict]:
    """The summary as rows of text: what, then one cell per variant ('' where there is nothing to show)."""
    def cells(value) -> dict:
        return {keys[s.run["id"]]: value(s) for s in summaries}

    def count(column: str):
        return lambda s: _int(tokens[column].get(s.run["id"]) if column in tokens else None)

    out = [] if all(s.run["status"] == "done" for s in summaries) else [{"": _("status"), **cells(
        lambda s: _(s.run["status"]))}]
    out += [{"": _("outputs"), **cells(lambda s: f"{s.n_outputs:,}")},
            {"": _("error rate"), **cells(lambda s: f"{s.n_errors / s.n_outputs:.1%}" if s.n_outputs else "")},
            {"": _("latency p50 / p95 (ms)"), **cells(lambda s: f"{_int(s.latency_p50)} / {_int(s.latency_p95)}"
                                                        if _int(s.latency_p50) else "")},
            {"": _("tokens in / out"), **cells(lambda s: f"{count('tokens_in')(s)} / {count('tokens_out')(s)}")},
            {"": _("cost USD"), **cells(lambda s: _("unknown") if s.cost_usd is None else f"{s.cost_usd:.4f}")}]
    for name in metrics:
        if name in ("latency_ms", "tokens_out"):  # the rows above say it (percentiles, totals)
            continue
        out.append({"": name, **cells(lambda s, name=name: ci(next((m for m in s.metrics if m.metric == name), None)))})
    return out


def _int(x) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{round(x):,}"


def draw_chart(where, db: str, runs: list[dict], metric: str, stamp: tuple, keys: dict[str, str],
               colour: dict) -> None:
    """The metric's distribution per variant, one step line each over shared bins (four distributions stay
    readable where bars would hide each other), as an SVG drawn here: a Vega chart cost Chromium the parsing
    and start of Vega on the page's first paint (issue 20). Markdown keeps inline SVG; st.html's sanitiser
    (DOMPurify's HTML profile) removes it."""
    hist = histogram(db, tuple(r["id"] for r in runs), metric, stamp, runs)
    if hist.empty:
        return
    svg = histogram_svg(hist, keys, {r["id"]: colour[keys[r["id"]]][1] for r in runs},
                        _("{metric} (bin start)").format(metric=metric), _("outputs"))
    where.markdown(in_markdown(svg), unsafe_allow_html=True)


# Clearly different hues in a fixed order (Streamlit's theme gives the first two variants two blues), matched
# to the colour names Markdown knows, so the legend's squares are the lines' colours.
PALETTE = [("blue", "#1c83e1"), ("orange", "#ff8700"), ("green", "#21c354"), ("red", "#ff2b2b"),
           ("violet", "#803df5"), ("gray", "#808495")]


def summary_height(runs: list[dict], metrics: list[str]) -> int:
    """Pixels of the summary table (summary_rows: a status row while a run is not done, five, one per metric
    not already said), so that its place is kept while the grid is drawn first."""
    rows = 5 + (not all(r["status"] == "done" for r in runs))
    return 34 * (1 + rows + len([m for m in metrics if m not in ("latency_ms", "tokens_out")]))  # ~a row wraps


def lay_out_summary(runs: list[dict], metrics: list[str], keys: dict[str, str], colour: dict):
    """The legend, the metric to show and the places of the summary table and of the chart: (metric, table's
    place, chart's place). Both are filled after the grid (fill_summary, draw_chart), so the grid, what the page
    is for, waits neither for the runs' summaries and bins (scans of every output and score) nor for the
    browser to set up the table and draw the chart."""
    # the heading and the legend in one element: each element is a message the browser renders on its own
    st.markdown("### " + _("Summary") + "\n\n" + "  \n".join(
        f":{colour[keys[r['id']]][0]}[■] **{keys[r['id']]}** · {markdown_literal(grid.variant_label(r))}"
        for r in runs))
    left, right = st.columns([3, 2], gap="large")
    table_place = left.empty()
    table_place.space(summary_height(runs, metrics))  # the table's height, kept until it comes
    left.caption(_("Metrics: mean ± half-width of the 95% CI, a t-interval over rows; quality scores "
                   "on a 0–1 scale; errored outputs carry no score and count in the error rate."))
    if not metrics:
        right.caption(_("No scores yet."))
        return None, table_place, None
    quality = [m for m in metrics if m not in ("length", "latency_ms", "tokens_out")] or metrics
    metric = right.selectbox(_("Metric"), metrics, index=metrics.index(context.main_metric(quality)), key="cmp_metric")
    chart_place = right.empty()
    chart_place.space(CHART_HEIGHT)
    return metric, table_place, chart_place


def fill_summary(where, summaries, tokens: pd.DataFrame, metrics: list[str], keys: dict[str, str]) -> None:
    # One row per measurement, one column per variant: as narrow as the number of variants, however many metrics.
    # A static table: st.dataframe's grid (a large script and a canvas) cost Chromium ~0.5 s of CPU by URL,
    # while the grid's first paint waited for it; a dozen rows need no scrolling nor sorting.
    table = pd.DataFrame(summary_rows(summaries, tokens, metrics, keys))
    where.table(table, hide_index=True)


@st.fragment
def show_grid(db: str, run_ids: list[str], metric: str | None, labels: dict[str, str]) -> None:
    st.subheader(_("Outputs side by side"))
    # rows of controls in horizontal containers: one block a row, where columns add a block per control
    controls = st.container(horizontal=True, vertical_alignment="bottom")
    sort = controls.selectbox(_("Sort"), list(grid.SORTS), format_func=lambda s: SORT_NAMES.get(s, grid.SORTS[s]),
                        key="cmp_sort", width=230)
    diff = controls.selectbox(_("Highlight differences"), list(DIFF_MODES), format_func={m: _(t) for m, t in DIFF_MODES.items()}.get,
                        key="cmp_diff", width=230)
    errors_only = controls.checkbox(_("Errors only"), key="cmp_errors")
    search = controls.text_input(_("Search input, reference and outputs"), key="cmp_search")
    base, other = 0, 1
    if diff == "pair" and len(run_ids) >= 2:
        pair = st.container(horizontal=True)
        base = pair.selectbox(_("Base variant"), range(len(run_ids)), format_func=lambda i: labels[run_ids[i]],
                            key="cmp_base")
        other = pair.selectbox(_("Marked variant"), range(len(run_ids)), index=1,
                             format_func=lambda i: labels[run_ids[i]], key="cmp_other")
    page_size = st.session_state.get("cmp_page_size", 25)
    filters = (tuple(run_ids), metric, sort, errors_only, search, page_size)
    if ss.get("cmp_filters") != filters:
        ss["cmp_filters"], ss["cmp_page"] = filters, 1  # a new view starts on its first page
    # One page of items per rerun, read as it is shown (store.grid_page), with its judges' notes and passages:
    # one connection (a page switch reruns this alone, outside the page's kept_open; ~30 ms of CPU an opening).
    with store.connect(db) as con:
        g = load_grid(db, tuple(run_ids), metric, store.run_stamp(con, run_ids))
        view = grid.query(con, g, sort, errors_only, search, ss.get("cmp_page", 1) - 1, page_size)
        rows = [int(r) for r in view.rows["row_idx"]]
        judged = judged_on_page(con, run_ids, view) if view.total else {}
        # knowledge runs: the passages under each answer
        found = grid.page_passages(con, g.runs, rows) if view.total and any(r.get("knowledge") for r in g.runs) else None
    ss["cmp_page"] = view.page + 1  # clamped: the filters may have left fewer pages
    pager = st.container(horizontal=True, vertical_alignment="bottom")
    pager.button(_("Prev"), icon=":material/chevron_left:", on_click=step_page, args=(-1,),
              disabled=ss.get("cmp_page", 1) <= 1, key="cmp_prev")
    page = pager.number_input(_("Page (of {n})").format(n=view.n_pages), min_value=1, max_value=view.n_pages, step=1,
                           key="cmp_page", width=150) - 1
    pager.button(_("Next"), icon=":material/chevron_right:", on_click=step_page, args=(1,),
              disabled=page + 1 >= view.n_pages, key="cmp_next")
    pager.selectbox(_("Rows per page"), [10, 25, 50, 100], index=1, key="cmp_page_size", width=130)
    shown = (_("{shown} of {n} items · lower is better for {metric}") if metric in LOWER_IS_BETTER
             else _("{shown} of {n} items"))
    pager.caption(shown.format(shown=f"{view.total:,}", n=f"{g.n_items:,}", metric=metric))
    if view.total:
        st.html(page_html(g, view, diff, base, other, judged, passages=found))
    else:
        st.caption(_("No item matches."))


def show_significance(db: str, run_ids: list[str], runs: list[dict], keys: dict[str, str], labels: dict[str, str],
                      rows: int) -> None:
    """Is B better than A: two variants chosen, tested at once up to AUTO_SIGNIFICANCE_ROWS outputs, else on a
    click (a paired bootstrap over `rows` takes a few seconds)."""
    st.subheader(_("Is one variant better?"))
    choices = st.container(horizontal=True)
    run_a = choices.selectbox(_("Baseline"), run_ids, index=0, format_func=labels.get, key="sig_a")
    run_b = choices.selectbox(_("Challenger"), run_ids, index=1, format_func=labels.get, key="sig_b")
    short = {r["id"]: markdown_literal(f"{keys[r['id']]} · {r['prompt_name']}") for r in runs}
    names = (short[run_a], short[run_b])
    if run_a == run_b:
        st.caption(_("Choose two different variants."))
    elif rows <= AUTO_SIGNIFICANCE_ROWS or ss.get("sig_asked") == (run_a, run_b):
        render_significance(db, run_a, run_b, *names)
    elif st.button(_("Test it (paired bootstrap over {n} rows: a few seconds)").format(n=f"{rows:,}"),
                   key="sig_go"):
        ss["sig_asked"] = (run_a, run_b)
        render_significance(db, run_a, run_b, *names)


def show_page(db: str, run_ids: list[str]):
    """Summary, grid (or threads) and chart, the grid drawn first; what the significance section needs after them."""
    with store.connect(db) as con:
        stamp = store.run_stamp(con, run_ids)
    runs, metrics = run_frame(db, tuple(run_ids), stamp)
    keys = {r["id"]: grid.variant_key(n) for n, r in enumerate(runs)}
    labels = {r["id"]: f"{keys[r['id']]} · {grid.variant_label(r)}" for r in runs}
    colour = {keys[r["id"]]: PALETTE[n % len(PALETTE)] for n, r in enumerate(runs)}
    metric, table_place, chart_place = lay_out_summary(runs, metrics, keys, colour)
    # Significance (paired statistics for two variants) goes here, drawn after the grid: the bootstrap takes a
    # second or two on 10,000 rows and the grid should not wait for it. Where it waits for a click (many rows,
    # not asked yet) it is only choices and a button: drawn now, so nothing above the grid moves once it is shown.
    rows = max((n for *_, n in stamp), default=0)  # outputs stored per run, as the summaries count them
    significance = st.container() if render_significance is not None and len(run_ids) >= 2 else None
    if significance is not None and rows > AUTO_SIGNIFICANCE_ROWS and not ss.get("sig_asked"):
        with significance:
            show_significance(db, run_ids, runs, keys, labels, rows)
        significance = None
    if all(r.get("history") for r in runs):  # conversation runs: threads, a turn at a time
        from workbench.app.thread_view import show_threads

        show_threads(db, run_ids, labels, metric, stamp)
    else:
        show_grid(db, run_ids, metric, labels)
    summaries, tokens = summarize(db, tuple(run_ids), stamp)
    fill_summary(table_place, summaries, tokens, metrics, keys)
    if chart_place is not None:
        draw_chart(chart_place, db, runs, metric, stamp, keys, colour)
    return rows, runs, keys, labels, significance


run_ids = context.pick_runs("cmp")
if not run_ids:
    st.stop()
db = context.db()
with store.kept_open(db):  # the page's dozen reads open the file once (~30 ms of CPU and a checkpoint each)
    rows, runs, keys, labels, significance = show_page(db, run_ids)

if significance is not None:
    with significance:
        show_significance(db, run_ids, runs, keys, labels, rows)
