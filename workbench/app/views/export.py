"""Export: the best-prompt bundle (download, and written to the prompts directory), and results
as CSV / JSONL / Parquet."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from workbench import store
from workbench.app import context
from workbench.app.i18n import _, ngettext
from workbench.app.textdiff import inline_code, markdown_literal
from workbench.authoring import library
from workbench.errors import UserError
from workbench.evaluation import bundle, export
from workbench.metrics import LOWER_IS_BETTER

st.title(_("Export"))
ss = st.session_state



def runner_up_note(versus: dict, metric: str) -> str:
    """The bundle's note on the runner-up (bundle.runner_up_test, English in the file), in the interface's words."""
    if versus["significant"]:
        return _("Significantly better than the runner-up on {metric}: the paired bootstrap's 95% CI of the "
                 "difference lies above 0").format(metric=metric)
    return (_("Not significantly better than the runner-up {prompt} on {metric}: the paired bootstrap's 95% CI of "
              "the difference includes 0").format(prompt=versus["prompt"], metric=metric)
            + (_("; the two means' intervals overlap") if versus["intervals_overlap"] else "")
            + _(". Either would do; choose on cost, latency or a human rating."))


run_ids = context.pick_runs("exp")
if not run_ids:
    st.stop()
db = context.db()

st.subheader(_("Best prompt"))
with store.connect(db) as con:
    metrics = store.run_metrics(con, run_ids)
if not metrics:
    st.caption(_("The chosen runs have no scores yet."))
else:
    quality = [m for m in metrics if m not in ("length", "tokens_out")]
    options = quality or metrics
    metric = st.selectbox(_("Choose the best by"), options, index=options.index(context.main_metric(options)),
                          key="exp_metric",
                          help=_("Quality metrics count errored rows as 0; lower is better for latency."))
    try:
        with store.connect(db) as con:
            ranked = bundle.rank_runs(con, run_ids, metric)
            chosen = bundle.build_bundle(con, run_ids, metric)
        st.dataframe(pd.DataFrame([{
            _("rank"): n + 1, _("prompt"): f"{c.prompt_name}@{c.prompt_version[:8]}", _("model"): c.model_spec,
            _("run"): c.run_id, _("{metric} (ranking)").format(metric=metric): round(c.effective, 4),
            _("mean"): round(c.mean, 4), "95% CI": f"[{c.ci95[0]:.3f}, {c.ci95[1]:.3f}]", "n": c.n,
            _("error rate"): f"{c.error_rate:.1%}"}
            for n, c in enumerate(ranked)]), hide_index=True, width="stretch")
        best = ranked[0]
        said = (_("**Best:** {prompt} with {model} (lowest {metric}: {value})") if metric in LOWER_IS_BETTER
                else _("**Best:** {prompt} with {model} (highest {metric}: {value})"))
        st.markdown(said.format(prompt=inline_code(f"{best.prompt_name}@{best.prompt_version[:8]}"),
                                model=inline_code(best.model_spec), metric=metric, value=f"{best.effective:.4f}"))
        versus = chosen.metadata["versus_runner_up"]
        if versus is not None:
            said = _("{note} (difference {delta}, 95% CI [{low}, {high}], n={n}).").format(
                note=runner_up_note(versus, metric), delta=f"{versus['delta']:+.4f}", low=f"{versus['ci95'][0]:+.4f}",
                high=f"{versus['ci95'][1]:+.4f}", n=versus["n"])
            (st.success if versus["significant"] else st.warning)(markdown_literal(said), icon=(
                ":material/verified:" if versus["significant"] else ":material/balance:"))
        with st.expander(markdown_literal(chosen.filename), expanded=False):
            st.code(chosen.text, language="yaml")
        c1, c2 = st.columns(2)
        c1.download_button(_("Download the bundle"), chosen.text, file_name=chosen.filename, mime="application/yaml",
                           icon=":material/download:", on_click="ignore")
        if c2.button(_("Write it to the prompts folder"), type="primary", icon=":material/save:",
                     help=f"{library.prompts_dir() / chosen.filename}"):
            path = bundle.write_bundle(chosen, library.prompts_dir())
            st.success(markdown_literal(_("Wrote {path}: run it with: {command}").format(
                path=path, command=f"workbench eval {path} --data DATASET --model {best.model_spec}")))
    except Exception as e:  # noqa: BLE001 - shown inline
        context.show_error(e)

st.subheader(_("Results"))
fmt = st.radio(_("Format"), list(export.FORMATS), horizontal=True, key="exp_format")
encoding = "utf-8"
if fmt == "csv":
    encodings = {"utf-8-sig": _("UTF-8 with BOM (Excel)"), "utf-8": _("UTF-8"),
                 "gbk": _("GBK (older Chinese Windows tools)")}
    encoding = st.radio(_("Encoding"), list(export.CSV_ENCODINGS), horizontal=True, key="exp_encoding",
                        format_func=encodings.get)
if st.button(_("Prepare the file"), icon=":material/description:"):
    try:
        with store.connect(db) as con:
            frame = pd.concat([export.run_records(con, r) for r in run_ids], ignore_index=True)
        ss["exp_file"] = (f"results-{'-'.join(r[:6] for r in run_ids)}.{fmt}",
                          export.frame_bytes(frame, fmt, encoding), len(frame), (fmt, encoding, tuple(run_ids)))
    except UserError as e:
        ss.pop("exp_file", None)
        context.show_error(e)
if ss.get("exp_file") and ss["exp_file"][3] != (fmt, encoding, tuple(run_ids)):
    ss.pop("exp_file")  # prepared for another format or other runs: offering it would download the wrong file
if ss.get("exp_file"):
    name, data, n, _ = ss["exp_file"]
    st.download_button(ngettext("Download {name} ({n} output)", "Download {name} ({n} outputs)", n).format(
        name=name, n=f"{n:,}"), data, file_name=name, icon=":material/download:",
                       on_click="ignore")
