"""Export: the best-prompt bundle (download, and written to the prompts directory), and results
as CSV / JSONL / Parquet."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from workbench import store
from workbench.app import context
from workbench.app.textdiff import inline_code, markdown_literal
from workbench.authoring import library
from workbench.errors import UserError
from workbench.evaluation import bundle, export
from workbench.metrics import LOWER_IS_BETTER

st.title("Export")
ss = st.session_state

run_ids = context.pick_runs("exp")
if not run_ids:
    st.stop()
db = context.db()

st.subheader("Best prompt")
with store.connect(db) as con:
    metrics = store.run_metrics(con, run_ids)
if not metrics:
    st.caption("The chosen runs have no scores yet.")
else:
    quality = [m for m in metrics if m not in ("length", "tokens_out")]
    options = quality or metrics
    metric = st.selectbox("Choose the best by", options, index=options.index(context.main_metric(options)),
                          key="exp_metric",
                          help="Quality metrics count errored rows as 0; lower is better for latency.")
    try:
        with store.connect(db) as con:
            ranked = bundle.rank_runs(con, run_ids, metric)
            chosen = bundle.build_bundle(con, run_ids, metric)
        st.dataframe(pd.DataFrame([{
            "rank": n + 1, "prompt": f"{c.prompt_name}@{c.prompt_version[:8]}", "model": c.model_spec, "run": c.run_id,
            f"{metric} (ranking)": round(c.effective, 4), "mean": round(c.mean, 4),
            "95% CI": f"[{c.ci95[0]:.3f}, {c.ci95[1]:.3f}]", "n": c.n, "error rate": f"{c.error_rate:.1%}"}
            for n, c in enumerate(ranked)]), hide_index=True, width="stretch")
        best = ranked[0]
        arrow = "lowest" if metric in LOWER_IS_BETTER else "highest"
        st.markdown(f"**Best:** {inline_code(f'{best.prompt_name}@{best.prompt_version[:8]}')} with "
                    f"{inline_code(best.model_spec)} "
                    f"({arrow} {metric}: {best.effective:.4f})")
        versus = chosen.metadata["versus_runner_up"]
        if versus is not None:
            said = (f"{versus['note'][0].upper()}{versus['note'][1:]} (difference {versus['delta']:+.4f}, 95% CI "
                    f"[{versus['ci95'][0]:+.4f}, {versus['ci95'][1]:+.4f}], n={versus['n']}).")
            (st.success if versus["significant"] else st.warning)(markdown_literal(said), icon=(
                ":material/verified:" if versus["significant"] else ":material/balance:"))
        with st.expander(markdown_literal(chosen.filename), expanded=False):
            st.code(chosen.text, language="yaml")
        c1, c2 = st.columns(2)
        c1.download_button("Download the bundle", chosen.text, file_name=chosen.filename, mime="application/yaml",
                           icon=":material/download:", on_click="ignore")
        if c2.button("Write it to the prompts folder", type="primary", icon=":material/save:",
                     help=f"{library.prompts_dir() / chosen.filename}"):
            path = bundle.write_bundle(chosen, library.prompts_dir())
            st.success(markdown_literal(f"Wrote {path}: run it with: workbench eval {path} --data DATASET "
                                        f"--model {best.model_spec}"))
    except Exception as e:  # noqa: BLE001 - shown inline
        context.show_error(e)

st.subheader("Results")
fmt = st.radio("Format", list(export.FORMATS), horizontal=True, key="exp_format")
encoding = "utf-8"
if fmt == "csv":
    encoding = st.radio("Encoding", list(export.CSV_ENCODINGS), horizontal=True, key="exp_encoding",
                        format_func={"utf-8-sig": "UTF-8 with BOM (Excel)", "utf-8": "UTF-8",
                                     "gbk": "GBK (older Chinese Windows tools)"}.get)
if st.button("Prepare the file", icon=":material/description:"):
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
    st.download_button(f"Download {name} ({n:,} outputs)", data, file_name=name, icon=":material/download:",
                       on_click="ignore")
