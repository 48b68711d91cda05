"""Knowledge: the bases in the database file — add files, see the chunks, try a query with its scores, and
see which prompts retrieve from a base. Thin over workbench.knowledge (what `workbench kb` does)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from workbench import knowledge
from workbench.app import context
from workbench.app.i18n import _
from workbench.app.textdiff import inline_code, markdown_literal
from workbench.authoring import library
from workbench.errors import UserError

st.title(_("Knowledge"))
db = context.db()

try:
    bases = knowledge.list_bases(db)
except UserError as e:
    context.show_error(e)
    bases = []

with st.expander(_("Add files to a base"), expanded=not bases, icon=":material/upload_file:"):
    st.caption(_("A base's version is its files (by name and content), the chunking and the tokenizer: adding "
                 "the same files again changes nothing, changed files make a new version, and runs keep the "
                 "version they used. FAQ files (JSONL/CSV) give one chunk per entry; Markdown and text are cut at "
                 "headings and paragraphs."))
    c1, c2 = st.columns(2)
    name = c1.text_input(_("Base name"), value=bases[0]["name"] if bases else "faq", key="kb_name")
    tokenizer = c2.selectbox(_("Tokenizer"), ["auto", *knowledge.TOKENIZERS], key="kb_tokenizer",
                             help=_("auto: cjk-bigram when a fifth of the letters are Chinese, else english"))
    files = st.file_uploader(_("Files (Markdown, text, JSONL, CSV)"), type=["md", "markdown", "txt", "jsonl", "csv"],
                             accept_multiple_files=True, key="kb_files")
    c3, c4, c5 = st.columns(3)
    size = c3.number_input(_("Chunk size (characters)"), min_value=50, value=800, step=50, key="kb_size")
    overlap = c4.number_input(_("Overlap (characters)"), min_value=0, value=100, step=10, key="kb_overlap")
    text_field = c5.text_input(_("Text field (JSONL/CSV)"), value="text", key="kb_text_field")
    if st.button(_("Add"), type="primary", icon=":material/add:", disabled=not files, key="kb_add"):
        try:
            chunking = knowledge.Chunking(max_chars=int(size), overlap=int(overlap), text_field=text_field)
            added = knowledge.add_uploads(name, [(f.name, f.getvalue()) for f in files], chunking, tokenizer, db)
            what = _("new version") if added.new_version else _("unchanged: the same version as before")
            st.success(markdown_literal(_("{name}: {n} chunks, version {version} ({what})").format(
                name=added.name, n=f"{added.n_chunks:,}", version=added.version, what=what)),
                       icon=":material/check:")
            bases = knowledge.list_bases(db)
        except UserError as e:
            context.show_error(e)

if not bases:
    st.info(_("No knowledge bases yet: add files above, or `workbench kb add NAME FILE...` on the command line."))
    st.stop()

st.dataframe(pd.DataFrame([{"base": b["name"], "version": b["version"], "chunks": b["n_chunks"],
                            "tokenizer": b["tokenizer"], "files": ", ".join(s["file"] for s in b["sources"])}
                           for b in bases]), hide_index=True, width="stretch")
names = [b["name"] for b in bases]
chosen = st.selectbox(_("Base"), names, key="kb_base")

used_by = library.prompts_using_base(chosen)
st.subheader(_("Prompts that use it"))
if used_by:
    st.dataframe(pd.DataFrame(used_by), hide_index=True, width="stretch")
else:
    st.caption(markdown_literal(_("No prompt file names {base} in its knowledge section (in {folder}).").format(
        base=chosen, folder=library.prompts_dir())))

st.subheader(_("Try a query"))
q1, q2, q3 = st.columns([4, 1, 1])
query = q1.text_input(_("Query"), key="kb_query", placeholder=_("How long do refunds take?"))
k = q2.number_input("k", min_value=1, max_value=50, value=5, key="kb_k")
method = q3.selectbox(_("Method"), ["bm25", "dense", "hybrid"], key="kb_method",
                      help=_("dense and hybrid use all-MiniLM-L6-v2, an English model"))
if query.strip():
    try:
        (found,) = knowledge.search(chosen, [query], int(k), db=db, method=method)[1]
    except UserError as e:
        context.show_error(e)
        found = []
    if found:
        st.dataframe(pd.DataFrame([{"rank": p.rank, "id": p.id, "score": round(p.score, 4), "title": p.title,
                                    "text": p.text, "source": p.source} for p in found]),
                     hide_index=True, width="stretch")
    else:
        st.caption(_("No chunk shares a term with the query."))

st.subheader(_("Chunks"))
limit = st.selectbox(_("Show the first"), [20, 100, 500], key="kb_limit")
meta = knowledge.show_base(chosen, db=db, limit=int(limit))
st.caption(markdown_literal(_("version {version} · {n} chunks").format(version=meta["version"], n=f"{meta['n_chunks']:,}"))
           + " · " + _("chunking {signature}").format(signature=inline_code(str(meta["signature"]["chunking"]))))
st.dataframe(pd.DataFrame(meta["chunks"]), hide_index=True, width="stretch")
