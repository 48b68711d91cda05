"""The Compare page's answer to "is B better than A, and how sure are we?" (see workbench.evaluation.stats)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from workbench import store
from workbench.app import context
from workbench.app.i18n import N_, _
from workbench.evaluation import stats

MEASUREMENTS = ("length", "latency_ms", "tokens_in", "tokens_out")
VERDICTS = [N_("better"), N_("worse"), N_("higher"), N_("lower"), N_("unclear")]  # shown translated


@st.cache_data(ttl=30, max_entries=16, show_spinner=False)
def _compare(db: str, run_a: str, run_b: str, stamp: tuple) -> list[stats.PairedResult]:
    with store.connect(db) as con:
        return stats.compare(con, run_a, run_b)


def verdict_lines(results: list[stats.PairedResult], a: str = "A", b: str = "B") -> list[str]:
    """The findings grouped by verdict, one line each: 'B is better than A on bleu (+0.171, 95% CI [...]), ...'.
    `a` and `b` name the two variants (Markdown-safe text)."""
    icons = {"better": ":material/trending_up:", "worse": ":material/trending_down:",
             "higher": ":material/arrow_upward:", "lower": ":material/arrow_downward:"}
    words = {"better": _("**{b} is significantly better than {a}** on {metrics}"),
             "worse": _("**{b} is significantly worse than {a}** on {metrics}"),
             "higher": _("**{b} is significantly higher than {a}** on {metrics}"),
             "lower": _("**{b} is significantly lower than {a}** on {metrics}")}
    lines = []
    quality = [r for r in results if r.metric not in MEASUREMENTS]
    for verdict in ("better", "worse", "higher", "lower"):
        found = [r for r in quality if r.verdict == verdict]
        if found:
            lines.append(f"{icons[verdict]} " + words[verdict].format(a=a, b=b, metrics=_each(found)))
    measured = [r for r in results if r.metric in MEASUREMENTS and r.verdict != "unclear"]
    if measured:  # cost and speed, not quality: latency in particular moves with whatever else the machine ran
        lines.append(":material/straighten: " + _("Measurements, {b} against {a}: {metrics}").format(
            a=a, b=b, metrics=_each(measured, verb=True)))
    unclear = [r.metric for r in results if r.verdict == "unclear"]
    if unclear:
        said = (_("No significant difference on {metrics} (the 95% CI of the difference includes 0)")
                if (a, b) == ("A", "B") else
                _("No significant difference between {b} and {a} on {metrics} (the 95% CI of the difference "
                  "includes 0)"))
        lines.append(":material/drag_handle: " + said.format(a=a, b=b, metrics=", ".join(unclear)))
    return lines


def _each(found: list[stats.PairedResult], verb: bool = False) -> str:
    return ", ".join((_(r.verdict) + " " if verb else "") + _("{metric} ({delta}, 95% CI [{low}, {high}])").format(
        metric=r.metric, delta=f"{r.delta:+.3g}", low=f"{r.ci_low:+.3g}", high=f"{r.ci_high:+.3g}") for r in found)


def render_significance(db: str, run_a: str, run_b: str, a: str = "A", b: str = "B") -> None:
    """Paired bootstrap CI of B - A per metric and the Wilcoxon / sign tests, in a table and in words;
    `a` and `b` name the variants in the words (Markdown-safe text)."""
    try:
        with store.connect(db) as con:
            stamp = tuple((r["status"], str(r["finished_at"])) for r in (store.get_run(con, run_a),
                                                                          store.get_run(con, run_b)))
        with st.spinner(_("Bootstrapping…")):
            results = _compare(db, run_a, run_b, stamp)
    except Exception as e:  # noqa: BLE001 - shown inline; the rest of the page still works
        context.show_error(e)
        return
    if not results:
        st.info(_("The two runs share no scored rows."))
        return
    for line in verdict_lines(results, a, b):
        # Built from metric names and numbers only, never from model output.
        st.markdown(line)
    table = pd.DataFrame([{
        "metric": r.metric, "A": r.mean_a, "B": r.mean_b, "B − A": r.delta,
        "95% CI": f"[{r.ci_low:+.4f}, {r.ci_high:+.4f}]", "Wilcoxon p": r.wilcoxon_p, "sign test p": r.sign_p,
        "B better / tie / worse (rows)": f"{r.wins} / {r.ties} / {r.losses}", "n": r.n, "verdict": _(r.verdict),
    } for r in results])
    details = st.expander(_("Per metric: means, 95% CI of B − A, Wilcoxon and sign tests"), icon=":material/table:")
    details.dataframe(table, hide_index=True, width="stretch",
                      column_config={"metric": st.column_config.TextColumn(_("metric")),
                                     "A": st.column_config.NumberColumn(format="%.4f"),
                                     "B": st.column_config.NumberColumn(format="%.4f"),
                                     "B − A": st.column_config.NumberColumn(format="%+.4f"),
                                     "Wilcoxon p": st.column_config.NumberColumn(format="%.4f"),
                                     "sign test p": st.column_config.NumberColumn(_("sign test p"), format="%.4f"),
                                     "B better / tie / worse (rows)": st.column_config.TextColumn(
                                         _("B better / tie / worse (rows)")),
                                     "verdict": st.column_config.TextColumn(_("verdict"))})
    details.caption(_("Paired over the dataset rows both runs scored (repeats averaged). 95% CI: bootstrap of the "
                      "mean per-row difference (BCa, 2000 resamples). Wilcoxon signed-rank and sign tests are "
                      "two-sided. A verdict needs the whole interval on one side of 0; each metric is its own "
                      "test, so expect the odd chance finding when you look at many."))
