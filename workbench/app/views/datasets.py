"""Datasets: upload CSV / JSONL / Parquet or open one, preview it, choose the reference column and
language, and see every row that fails validation before any model is called."""

from __future__ import annotations

import streamlit as st

from workbench.app import catalog, context
from workbench.app.i18n import N_, _, ngettext, shown_as
from workbench.app.textdiff import inline_code, markdown_literal
from workbench.authoring import library
from workbench.authoring.datasets import guess_reference
from workbench.errors import UserError

st.title(_("Datasets"))
ss = st.session_state

# The options' values stay English (tests and session state hold them); they are shown translated.
UPLOAD = N_("Upload a file")
source = st.radio(_("Source"), [N_("Open a dataset"), UPLOAD], horizontal=True, key="ds_source",
                  format_func=shown_as(N_("Open a dataset"), UPLOAD))
dataset = None
if source == UPLOAD:
    up = st.file_uploader(_("CSV, TSV, JSONL or Parquet"), type=["csv", "tsv", "jsonl", "ndjson", "parquet"],
                          key="ds_upload")
    if up is not None:
        try:
            dataset = catalog.load_upload(up.name, up.getvalue())
        except UserError as e:
            context.show_error(e)
else:
    try:
        dataset = context.pick_dataset(_("Dataset"), "ds_pick")[1]
    except UserError as e:
        context.show_error(e)
    if dataset is None and not catalog.dataset_choices(context.db()):
        st.info(_("No datasets in {folder} or in the database yet: upload one.").format(
            folder=inline_code(catalog.datasets_dir())))

if dataset is not None:
    c1, c2 = st.columns(2)
    columns = dataset.columns
    guess = dataset.reference_field if dataset.reference_field in columns else guess_reference(dataset)
    default_ref = columns.index(guess) if guess in columns else 0
    if dataset.is_conversations:  # every assistant turn is a reference
        c1.caption(_("Conversations: each assistant turn is the reference for that turn."))
    else:
        dataset.reference_field = c1.selectbox(_("Reference column (the expected answer)"), columns, index=default_ref,
                                               key=f"ds_ref_{dataset.hash}")
    detected = dataset.lang
    langs = ["auto", "en", "zh"]  # auto: BLEU's tokenizer per row, from that row's references
    lang = c2.selectbox(_("Language (BLEU tokenizer)"), langs, index=langs.index(detected)
                        if detected in langs else 1, key=f"ds_lang_{dataset.hash}",
                        help=_("detected: {lang}; auto picks zh or 13a per row").format(lang=detected))
    dataset.lang = lang
    st.caption(markdown_literal(_("{path} · {summary} · columns: {columns} · encoding: {encoding} · hash {hash}").format(
        path=dataset.path, summary=dataset.summary(), columns=", ".join(columns),
        encoding=dataset.encoding or "n/a", hash=dataset.hash)))
    st.dataframe(dataset.rows[:200], width="stretch", height=280)

    st.subheader(_("Validation"))
    prompts = {p.name: p for p in library.list_prompt_files()}
    only_reference = N_("(reference column only)")
    against = st.selectbox(_("Check against the variables of"), [only_reference, *prompts], key="ds_against",
                           format_func=shown_as(only_reference))
    required: set[str] = set()
    if against in prompts:
        prompt, err = library.read_prompt_file(prompts[against])
        if err is not None:
            context.show_error(err)
        else:
            required = prompt.variables()[0]
            st.caption(_("{prompt} needs: {variables}").format(
                prompt=inline_code(against), variables=", ".join(sorted(required)) or _("no variables")))
    if dataset.is_conversations:
        required = required - {"history"}  # given by the conversation itself
    report = catalog.validation_report(dataset, required, need_reference=not dataset.is_conversations)
    if report.empty:
        st.success(_("All {summary} have every column needed.").format(summary=dataset.summary()),
                   icon=":material/check:")
    else:
        st.error(ngettext("{n} problem: these rows would fail a run.", "{n} problems: these rows would fail a run.",
                          len(report)).format(n=len(report)), icon=":material/error:")
        problems = {p: _(p) for p in (N_("column missing"), N_("missing"), N_("empty"))}  # catalog's words
        st.dataframe(report.assign(problem=report["problem"].map(lambda p: problems.get(p, p))).rename(
            columns={"row": _("row"), "column": _("column"), "problem": _("problem")}), hide_index=True, width="stretch")

    if source == UPLOAD:
        if st.button(_("Keep this dataset in the workbench"), type="primary", icon=":material/save:"):
            try:
                h = catalog.save_dataset(dataset, context.db())
                st.success(markdown_literal(_("Stored as {name} ({hash}): it is now offered on the Prompts and Run "
                                              "pages.").format(name=dataset.name, hash=h[:8])))
            except Exception as e:  # noqa: BLE001 - shown inline
                context.show_error(e)
