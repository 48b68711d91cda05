"""Datasets: upload CSV / JSONL / Parquet or open one, preview it, choose the reference column and
language, and see every row that fails validation before any model is called."""

from __future__ import annotations

import streamlit as st

from workbench.app import catalog, context
from workbench.app.textdiff import inline_code, markdown_literal
from workbench.authoring import library
from workbench.authoring.datasets import guess_reference
from workbench.errors import UserError

st.title("Datasets")
ss = st.session_state

source = st.radio("Source", ["Open a dataset", "Upload a file"], horizontal=True, key="ds_source")
dataset = None
if source == "Upload a file":
    up = st.file_uploader("CSV, TSV, JSONL or Parquet", type=["csv", "tsv", "jsonl", "ndjson", "parquet"],
                          key="ds_upload")
    if up is not None:
        try:
            dataset = catalog.load_upload(up.name, up.getvalue())
        except UserError as e:
            context.show_error(e)
else:
    try:
        _, dataset = context.pick_dataset("Dataset", "ds_pick")
    except UserError as e:
        context.show_error(e)
    if dataset is None and not catalog.dataset_choices(context.db()):
        st.info(f"No datasets in {inline_code(catalog.datasets_dir())} or in the database yet: upload one.")

if dataset is not None:
    c1, c2 = st.columns(2)
    columns = dataset.columns
    guess = dataset.reference_field if dataset.reference_field in columns else guess_reference(dataset)
    default_ref = columns.index(guess) if guess in columns else 0
    if dataset.is_conversations:  # every assistant turn is a reference
        c1.caption("Conversations: each assistant turn is the reference for that turn.")
    else:
        dataset.reference_field = c1.selectbox("Reference column (the expected answer)", columns, index=default_ref,
                                               key=f"ds_ref_{dataset.hash}")
    detected = dataset.lang
    langs = ["auto", "en", "zh"]  # auto: BLEU's tokenizer per row, from that row's references
    lang = c2.selectbox("Language (BLEU tokenizer)", langs, index=langs.index(detected)
                        if detected in langs else 1, key=f"ds_lang_{dataset.hash}",
                        help=f"detected: {detected}; auto picks zh or 13a per row")
    dataset.lang = lang
    st.caption(markdown_literal(f"{dataset.path} · {dataset.summary()} · columns: {', '.join(columns)} · "
                                f"encoding: {dataset.encoding or 'n/a'} · hash {dataset.hash}"))
    st.dataframe(dataset.rows[:200], width="stretch", height=280)

    st.subheader("Validation")
    prompts = {p.name: p for p in library.list_prompt_files()}
    against = st.selectbox("Check against the variables of", ["(reference column only)", *prompts],
                           key="ds_against")
    required: set[str] = set()
    if against in prompts:
        prompt, err = library.read_prompt_file(prompts[against])
        if err is not None:
            context.show_error(err)
        else:
            required = prompt.variables()[0]
            st.caption(f"{inline_code(against)} needs: {', '.join(sorted(required)) or 'no variables'}")
    if dataset.is_conversations:
        required = required - {"history"}  # given by the conversation itself
    report = catalog.validation_report(dataset, required, need_reference=not dataset.is_conversations)
    if report.empty:
        st.success(f"All {dataset.summary()} have every column needed.", icon=":material/check:")
    else:
        st.error(f"{len(report)} problem{'s' if len(report) > 1 else ''}: these rows would fail a run.",
                 icon=":material/error:")
        st.dataframe(report, hide_index=True, width="stretch")

    if source == "Upload a file":
        if st.button("Keep this dataset in the workbench", type="primary", icon=":material/save:"):
            try:
                h = catalog.save_dataset(dataset, context.db())
                st.success(markdown_literal(f"Stored as {dataset.name} ({h[:8]}): it is now offered on the Prompts "
                                            "and Run pages."))
            except Exception as e:  # noqa: BLE001 - shown inline
                context.show_error(e)
