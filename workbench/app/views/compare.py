"""Compare: the chosen runs (variants) side by side — summary with 95% CIs, score distributions,
and the grid of outputs per dataset item, sorted, filtered, searched and paged."""

from __future__ import annotations

import math

import altair as alt
import pandas as pd
import streamlit as st

from workbench import store
from workbench.app import context
from workbench.app.grid_view import DIFF_MODES, page_html
from workbench.app.textdiff import markdown_literal
from workbench.evaluation import analysis
from workbench.evaluation import compare_grid as grid
from workbench.metrics import LOWER_IS_BETTER

try:  # the statistics section (paired bootstrap, tests) comes with the rating feature
    from workbench.app.significance import render_significance
except ImportError:
    render_significance = None

AUTO_SIGNIFICANCE_ROWS = 2000  # above this the bootstrap waits for a click: it would hold up the page

st.title("Compare")
ss = st.session_state


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
def summarize(db: str, run_ids: tuple[str, ...], stamp: tuple):
    """Summaries, token totals and metric names of the runs; recomputed when `stamp` says they changed."""
    with store.connect(db) as con:
        return ([analysis.summarize(con, r) for r in run_ids], store.token_stats(con, list(run_ids)).set_index("run_id"),
                store.run_metrics(con, list(run_ids)))


@st.cache_data(max_entries=16, show_spinner=False)
def histogram(db: str, runs: list[dict], metric: str, stamp: tuple):
    with store.connect(db) as con:
        return grid.histogram(con, runs, metric)


def judged_on_page(db: str, run_ids: list[str], view) -> dict:
    """The judges' scores and reasoning for the page's items (the first repeat, as the grid shows)."""
    with store.connect(db) as con:
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

    out = [] if all(s.run["status"] == "done" for s in summaries) else [{"": "status", **cells(
        lambda s: s.run["status"])}]
    out += [{"": "outputs", **cells(lambda s: f"{s.n_outputs:,}")},
            {"": "error rate", **cells(lambda s: f"{s.n_errors / s.n_outputs:.1%}" if s.n_outputs else "")},
            {"": "latency p50 / p95 (ms)", **cells(lambda s: f"{_int(s.latency_p50)} / {_int(s.latency_p95)}"
                                                     if _int(s.latency_p50) else "")},
            {"": "tokens in / out", **cells(lambda s: f"{count('tokens_in')(s)} / {count('tokens_out')(s)}")},
            {"": "cost USD", **cells(lambda s: "unknown" if s.cost_usd is None else f"{s.cost_usd:.4f}")}]  # never 0
    for name in metrics:
        if name in ("latency_ms", "tokens_out"):  # the rows above say it (percentiles, totals)
            continue
        out.append({"": name, **cells(lambda s, name=name: ci(next((m for m in s.metrics if m.metric == name), None)))})
    return out


def _int(x) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{round(x):,}"


run_ids = context.pick_runs("cmp")
if not run_ids:
    st.stop()

db = context.db()
with store.connect(db) as con:
    stamp = store.run_stamp(con, run_ids)
summaries, tokens, metrics = summarize(db, tuple(run_ids), stamp)
runs = [s.run for s in summaries]
keys = {r["id"]: grid.variant_key(n) for n, r in enumerate(runs)}
labels = {r["id"]: f"{keys[r['id']]} · {grid.variant_label(r)}" for r in runs}

st.subheader("Summary")
# Clearly different hues in a fixed order (Streamlit's theme gives the first two variants two blues), matched
# to the colour names Markdown knows, so the legend's squares are the lines' colours.
PALETTE = [("blue", "#1c83e1"), ("orange", "#ff8700"), ("green", "#21c354"), ("red", "#ff2b2b"),
           ("violet", "#803df5"), ("gray", "#808495")]
colour = {keys[r["id"]]: PALETTE[n % len(PALETTE)] for n, r in enumerate(runs)}
st.markdown("  \n".join(f":{colour[keys[r['id']]][0]}[■] **{keys[r['id']]}** · "
                        f"{markdown_literal(grid.variant_label(r))}" for r in runs))
left, right = st.columns([3, 2], gap="large")
# One row per measurement, one column per variant: as narrow as the number of variants, however many metrics.
table = pd.DataFrame(summary_rows(summaries, tokens, metrics, keys))
left.dataframe(table, width="stretch", height=30 + 28 * len(table), row_height=28, hide_index=True,
               column_config={"": st.column_config.TextColumn(width="medium")})
left.caption("Metrics: mean ± half-width of the 95% confidence interval (t-interval over rows); quality scores on "
             "a 0–1 scale; errored outputs carry no score and count in the error rate.")

quality = [m for m in metrics if m not in ("length", "latency_ms", "tokens_out")] or metrics
if metrics:
    metric = right.selectbox("Metric", metrics, index=metrics.index(context.main_metric(quality)), key="cmp_metric")
    hist = histogram(db, runs, metric, stamp)
    if not hist.empty:
        # One step line per variant over shared bins: four distributions stay readable where bars would hide
        # each other.
        hist["key"] = hist["run_id"].map(keys)
        chart = alt.Chart(hist).mark_line(interpolate="step-after", strokeWidth=2, point=True).encode(
            x=alt.X("start:Q", title=f"{metric} (bin start)"),
            y=alt.Y("count:Q", title="outputs"),
            color=alt.Color("key:N", title="variant", legend=alt.Legend(orient="top"),
                            scale=alt.Scale(domain=list(colour), range=[c[1] for c in colour.values()])),
            tooltip=["key", "variant", alt.Tooltip("start:Q", format=".3g"), alt.Tooltip("end:Q", format=".3g"),
                     "count"]).properties(height=260)
        right.altair_chart(chart, width="stretch")
else:
    metric = None
    right.caption("No scores yet.")

# --- Significance (paired statistics for two variants) goes here, drawn after the grid: the ---
# --- bootstrap takes a second or two on 10,000 rows and the grid should not wait for it.     ---
significance = st.container() if render_significance is not None and len(run_ids) >= 2 else None


@st.fragment
def show_grid() -> None:
    st.subheader("Outputs side by side")
    c1, c2, c3, c4 = st.columns([2, 2, 1.3, 3], vertical_alignment="bottom")
    sort = c1.selectbox("Sort", list(grid.SORTS), format_func=grid.SORTS.get, key="cmp_sort")
    diff = c2.selectbox("Highlight differences", list(DIFF_MODES), format_func=DIFF_MODES.get, key="cmp_diff")
    errors_only = c3.checkbox("Errors only", key="cmp_errors")
    search = c4.text_input("Search input, reference and outputs", key="cmp_search")
    base, other = 0, 1
    if diff == "pair" and len(run_ids) >= 2:
        p1, p2 = st.columns(2)
        base = p1.selectbox("Base variant", range(len(run_ids)), format_func=lambda i: labels[run_ids[i]],
                            key="cmp_base")
        other = p2.selectbox("Marked variant", range(len(run_ids)), index=1,
                             format_func=lambda i: labels[run_ids[i]], key="cmp_other")
    page_size = st.session_state.get("cmp_page_size", 25)
    filters = (tuple(run_ids), metric, sort, errors_only, search, page_size)
    if ss.get("cmp_filters") != filters:
        ss["cmp_filters"], ss["cmp_page"] = filters, 1  # a new view starts on its first page
    with store.connect(db) as con:  # one page of items per rerun, read as it is shown (store.grid_page)
        g = load_grid(db, tuple(run_ids), metric, store.run_stamp(con, run_ids))
        view = grid.query(con, g, sort, errors_only, search, ss.get("cmp_page", 1) - 1, page_size)
    ss["cmp_page"] = view.page + 1  # clamped: the filters may have left fewer pages
    n0, n1, n2, n3, n4 = st.columns([1, 1, 1, 1, 2.5], vertical_alignment="bottom")
    n0.button("Prev", icon=":material/chevron_left:", on_click=step_page, args=(-1,),
              disabled=ss.get("cmp_page", 1) <= 1, key="cmp_prev")
    page = n1.number_input(f"Page (of {view.n_pages})", min_value=1, max_value=view.n_pages, step=1,
                           key="cmp_page") - 1
    n2.button("Next", icon=":material/chevron_right:", on_click=step_page, args=(1,),
              disabled=page + 1 >= view.n_pages, key="cmp_next")
    n3.selectbox("Rows per page", [10, 25, 50, 100], index=1, key="cmp_page_size")
    n4.caption(f"{view.total:,} of {g.n_items:,} items · lower is better for {metric}" if metric in LOWER_IS_BETTER
               else f"{view.total:,} of {g.n_items:,} items")
    if view.total:
        found = None
        if any(r.get("knowledge") for r in g.runs):  # knowledge runs: the passages under each answer
            with store.connect(db) as con:
                found = grid.page_passages(con, g.runs, [int(r) for r in view.rows["row_idx"]])
        st.html(page_html(g, view, diff, base, other, judged_on_page(db, run_ids, view), passages=found))
    else:
        st.caption("No item matches.")


if all(r.get("history") for r in runs):  # conversation runs: threads, a turn at a time
    from workbench.app.thread_view import show_threads

    show_threads(db, run_ids, labels, metric, stamp)
else:
    show_grid()

if significance is not None:
    with significance:
        st.subheader("Is one variant better?")
        a_col, b_col = st.columns(2)
        run_a = a_col.selectbox("Baseline", run_ids, index=0, format_func=labels.get, key="sig_a")
        run_b = b_col.selectbox("Challenger", run_ids, index=1, format_func=labels.get, key="sig_b")
        short = {r["id"]: markdown_literal(f"{keys[r['id']]} · {r['prompt_name']}") for r in runs}
        names = (short[run_a], short[run_b])
        rows = max(s.n_outputs for s in summaries)
        if run_a == run_b:
            st.caption("Choose two different variants.")
        elif rows <= AUTO_SIGNIFICANCE_ROWS or ss.get("sig_asked") == (run_a, run_b):
            render_significance(db, run_a, run_b, *names)
        elif st.button(f"Test it (paired bootstrap over {rows:,} rows: a few seconds)", key="sig_go"):
            ss["sig_asked"] = (run_a, run_b)
            render_significance(db, run_a, run_b, *names)
