"""Knowledge: the bases in the database file — add files, see the chunks, try a query with its scores, and
see which prompts retrieve from a base. Thin over workbench.knowledge (what `workbench kb` does)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from workbench import knowledge
from workbench.app import context
from workbench.app.textdiff import inline_code, markdown_literal
from workbench.authoring import library
from workbench.errors import UserError

st.title("Knowledge")
db = context.db()

try:
    bases = knowledge.list_bases(db)
except UserError as e:
    context.show_error(e)
    bases = []

with st.expander("Add files to a base", expanded=not bases, icon=":material/upload_file:"):
    st.caption("A base's version is its files (by name and content), the chunking and the tokenizer: adding "
               "the same files again changes nothing, changed files make a new version, and runs keep the "
               "version they used. FAQ files (JSONL/CSV) give one chunk per entry; Markdown and text are cut at "
               "headings and paragraphs.")
    c1, c2 = st.columns(2)
    name = c1.text_input("Base name", value=bases[0]["name"] if bases else "faq", key="kb_name")
    tokenizer = c2.selectbox("Tokenizer", ["auto", *knowledge.TOKENIZERS], key="kb_tokenizer",
                             help="auto: cjk-bigram when a fifth of the letters are Chinese, else english")
    files = st.file_uploader("Files (Markdown, text, JSONL, CSV)", type=["md", "markdown", "txt", "jsonl", "csv"],
                             accept_multiple_files=True, key="kb_files")
    c3, c4, c5 = st.columns(3)
    size = c3.number_input("Chunk size (characters)", min_value=50, value=800, step=50, key="kb_size")
    overlap = c4.number_input("Overlap (characters)", min_value=0, value=100, step=10, key="kb_overlap")
    text_field = c5.text_input("Text field (JSONL/CSV)", value="text", key="kb_text_field")
    if st.button("Add", type="primary", icon=":material/add:", disabled=not files, key="kb_add"):
        try:
            chunking = knowledge.Chunking(max_chars=int(size), overlap=int(overlap), text_field=text_field)
            added = knowledge.add_uploads(name, [(f.name, f.getvalue()) for f in files], chunking, tokenizer, db)
            what = "new version" if added.new_version else "unchanged: the same version as before"
            st.success(markdown_literal(f"{added.name}: {added.n_chunks:,} chunks, version {added.version} ({what})"),
                       icon=":material/check:")
            bases = knowledge.list_bases(db)
        except UserError as e:
            context.show_error(e)

if not bases:
    st.info("No knowledge bases yet: add files above, or `workbench kb add NAME FILE...` on the command line.")
    st.stop()

st.dataframe(pd.DataFrame([{"base": b["name"], "version": b["version"], "chunks": b["n_chunks"],
                            "tokenizer": b["tokenizer"], "files": ", ".join(s["file"] for s in b["sources"])}
                           for b in bases]), hide_index=True, width="stretch")
names = [b["name"] for b in bases]
chosen = st.selectbox("Base", names, key="kb_base")

used_by = library.prompts_using_base(chosen)
st.subheader("Prompts that use it")
if used_by:
    st.dataframe(pd.DataFrame(used_by), hide_index=True, width="stretch")
else:
    st.caption(markdown_literal(f"No prompt file names {chosen} in its knowledge section (in "
                                f"{library.prompts_dir()})."))

st.subheader("Try a query")
q1, q2, q3 = st.columns([4, 1, 1])
query = q1.text_input("Query", key="kb_query", placeholder="How long do refunds take?")
k = q2.number_input("k", min_value=1, max_value=50, value=5, key="kb_k")
method = q3.selectbox("Method", ["bm25", "dense", "hybrid"], key="kb_method",
                      help="dense and hybrid use all-MiniLM-L6-v2, an English model")
if query.strip():
    try:
        _, (found,) = knowledge.search(chosen, [query], int(k), db=db, method=method)
    except UserError as e:
        context.show_error(e)
        found = []
    if found:
        st.dataframe(pd.DataFrame([{"rank": p.rank, "id": p.id, "score": round(p.score, 4), "title": p.title,
                                    "text": p.text, "source": p.source} for p in found]),
                     hide_index=True, width="stretch")
    else:
        st.caption("No chunk shares a term with the query.")

st.subheader("Chunks")
limit = st.selectbox("Show the first", [20, 100, 500], key="kb_limit")
meta = knowledge.show_base(chosen, db=db, limit=int(limit))
st.caption(markdown_literal(f"version {meta['version']} · {meta['n_chunks']:,} chunks") + " · chunking "
           + inline_code(str(meta["signature"]["chunking"])))
st.dataframe(pd.DataFrame(meta["chunks"]), hide_index=True, width="stretch")
