"""Conversation runs side by side: one conversation at a time as chat threads, a column per variant, each
assistant turn with its reference and score (evaluation.conversations.threads). Model outputs and dataset
text are shown with st.text (never as Markdown or HTML)."""

from __future__ import annotations

import streamlit as st

from workbench import store
from workbench.app.i18n import _
from workbench.evaluation.conversations import threads


@st.cache_data(max_entries=8, show_spinner=False)
def load_threads(db: str, run_ids: tuple[str, ...], metric: str | None, stamp: tuple) -> dict:
    with store.connect(db) as con:
        return threads(con, list(run_ids), metric)


def _score(value) -> str:
    return _("no score") if value is None else f"{value:.3f}"


def show_threads(db: str, run_ids: list[str], labels: dict[str, str], metric: str | None, stamp: tuple) -> None:
    st.subheader(_("Conversations side by side"))
    with st.spinner(_("Loading conversations…")):
        data = load_threads(db, tuple(run_ids), metric, stamp)["conversations"]
    if not data:
        st.caption(_("No conversations."))
        return
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    names = {c["row_idx"]: (_("conversation {n} · worst turn {turn}: {metric} {score}").format(
        n=c["row_idx"] + 1, turn=c["worst_turn"] + 1, metric=metric, score=_score(c["worst_score"]))
        if c["worst_turn"] is not None else _("conversation {n}").format(n=c["row_idx"] + 1)) for c in data}
    chosen = c1.selectbox(_("Conversation (worst first)"), list(names), format_func=names.get, key="thr_conv")
    worst_only = c2.checkbox(_("Worst turn only"), key="thr_worst")
    conv = next(c for c in data if c["row_idx"] == chosen)
    turns = [t for t in conv["turns"] if not worst_only or t["turn_idx"] == conv["worst_turn"]]
    if conv["fields"]:
        st.caption(_("Fields: ") + ", ".join(f"{k}={v}" for k, v in conv["fields"].items() if k != "id")[:300])
    for turn in turns:
        with st.container(border=True):
            for m in turn["before"]:
                with st.chat_message(m["role"]):
                    st.text(m["content"])
            st.caption(_("Turn {n}").format(n=turn["turn_idx"] + 1) + (" · " + _("outputs differ")
                                                                        if turn["differs"] else ""))
            cols = st.columns(len(run_ids))
            for col, run_id in zip(cols, run_ids):
                out = turn["outputs"][run_id]
                with col:
                    shown = metric or _("score")
                    st.markdown(f"**{labels[run_id][:1]}** · {shown}: {_score(out['score'])}")
                    with st.chat_message("assistant"):
                        if out["error"]:
                            st.text(_("error: {error}").format(error=out["error"]))
                        else:
                            st.text(out["text"] if out["text"] is not None else _("(not run yet)"))
            st.caption(_("Reference"))
            st.text(turn["reference"])
