"""The Compare page's answer to "is B better than A, and how sure are we?" (see workbench.evaluation.stats)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from workbench import store
from workbench.app import context
from workbench.evaluation import stats

MEASUREMENTS = ("length", "latency_ms", "tokens_in", "tokens_out")


@st.cache_data(ttl=30, max_entries=16, show_spinner="Bootstrapping…")
def _compare(db: str, run_a: str, run_b: str, stamp: tuple) -> list[stats.PairedResult]:
    with store.connect(db) as con:
        return stats.compare(con, run_a, run_b)


def verdict_lines(results: list[stats.PairedResult], a: str = "A", b: str = "B") -> list[str]:
    """The findings grouped by verdict, one line each: 'B is better than A on bleu (+0.171, 95% CI [...]), ...'.
    `a` and `b` name the two variants (Markdown-safe text)."""
    icons = {"better": ":material/trending_up:", "worse": ":material/trending_down:",
             "higher": ":material/arrow_upward:", "lower": ":material/arrow_downward:"}
    words = {"better": "better than", "worse": "worse than", "higher": "higher than", "lower": "lower than"}
    lines = []
    quality = [r for r in results if r.metric not in MEASUREMENTS]
    for verdict in ("better", "worse", "higher", "lower"):
        found = [r for r in quality if r.verdict == verdict]
        if found:
            lines.append(f"{icons[verdict]} **{b} is significantly {words[verdict]} {a}** on {_each(found)}")
    measured = [r for r in results if r.metric in MEASUREMENTS and r.verdict != "unclear"]
    if measured:  # cost and speed, not quality: latency in particular moves with whatever else the machine ran
        lines.append(f":material/straighten: Measurements, {b} against {a}: {_each(measured, verb=True)}")
    unclear = [r.metric for r in results if r.verdict == "unclear"]
    if unclear:
        between = "" if (a, b) == ("A", "B") else f" between {b} and {a}"
        lines.append(f":material/drag_handle: No significant difference{between} on {', '.join(unclear)} (the 95% "
                     "CI of the difference includes 0)")
    return lines


def _each(found: list[stats.PairedResult], verb: bool = False) -> str:
    return ", ".join(f"{r.verdict + ' ' if verb else ''}{r.metric} ({r.delta:+.3g}, 95% CI [{r.ci_low:+.3g}, "
                     f"{r.ci_high:+.3g}])" for r in found)


def render_significance(db: str, run_a: str, run_b: str, a: str = "A", b: str = "B") -> None:
    """Paired bootstrap CI of B - A per metric and the Wilcoxon / sign tests, in a table and in words;
    `a` and `b` name the variants in the words (Markdown-safe text)."""
    try:
        with store.connect(db) as con:
            stamp = tuple((r["status"], str(r["finished_at"])) for r in (store.get_run(con, run_a),
                                                                          store.get_run(con, run_b)))
        results = _compare(db, run_a, run_b, stamp)
    except Exception as e:  # noqa: BLE001 - shown inline; the rest of the page still works
        context.show_error(e)
        return
    if not results:
        st.info("The two runs share no scored rows.")
        return
    for line in verdict_lines(results, a, b):
        # Built from metric names and numbers only, never from model output.
        st.markdown(line)
    table = pd.DataFrame([{
        "metric": r.metric, "A": r.mean_a, "B": r.mean_b, "B − A": r.delta,
        "95% CI": f"[{r.ci_low:+.4f}, {r.ci_high:+.4f}]", "Wilcoxon p": r.wilcoxon_p, "sign test p": r.sign_p,
        "B better / tie / worse (rows)": f"{r.wins} / {r.ties} / {r.losses}", "n": r.n, "verdict": r.verdict,
    } for r in results])
    details = st.expander("Per metric: means, 95% CI of B − A, Wilcoxon and sign tests", icon=":material/table:")
    details.dataframe(table, hide_index=True, width="stretch",
                      column_config={"A": st.column_config.NumberColumn(format="%.4f"),
                                     "B": st.column_config.NumberColumn(format="%.4f"),
                                     "B − A": st.column_config.NumberColumn(format="%+.4f"),
                                     "Wilcoxon p": st.column_config.NumberColumn(format="%.4f"),
                                     "sign test p": st.column_config.NumberColumn(format="%.4f")})
    details.caption("Paired over the dataset rows both runs scored (repeats averaged). 95% CI: bootstrap of the "
                    "mean per-row difference (BCa, 2000 resamples). Wilcoxon signed-rank and sign tests are "
                    "two-sided. A verdict needs the whole interval on one side of 0; each metric is its own test, "
                    "so expect the odd chance finding when you look at many.")
