"""Annotate: rate outputs blind, one item at a time, with a keyboard shortcut for every rating.

Nothing on this page names a variant (run, prompt or model): sessions are created, and results read,
on the Leaderboard page. Model outputs and dataset fields are shown with st.text, never as Markdown or
HTML. The session and the annotator's name are kept in the URL, so a reload (or the same link later)
resumes at the next unrated item; the ratings themselves live in the database.

A rating click reruns only the rating panel (a fragment): one small write (the rating), one small read or
claim (the next item) and one read for the progress; the session's items come from a per-process cache
(they never change), and the database file stays open between clicks (store.connect's linger).
"Stop rating", switching session or name, and the claim timeout send an unrated item back to the pool.
"""

from __future__ import annotations

import os
import time

import streamlit as st

from workbench import store
from workbench.app import context
from workbench.rating import annotation
from workbench.rating.conversations import SPEAKERS

ss = st.session_state
BUTTONS = {
    "likert": [(v, v, v) for v in annotation.SCALES["likert"]],
    "thumbs": [("up", "Thumbs up", "U"), ("down", "Thumbs down", "D")],
    "pairwise": [("A", "A is better", "A"), ("B", "B is better", "B"), ("tie", "Tie", "T"),
                 ("both_bad", "Both bad", "X")],
}
ICONS = {"up": ":material/thumb_up:", "down": ":material/thumb_down:"}


def session_label(r: dict) -> str:
    what = "pairwise" if r["kind"] == "pairwise" else f"single, {r['scale']}"
    if r.get("unit") == "turn":
        what += ", by turn"
    return " · ".join(x for x in (r["id"], r["name"], what, f"{r['n_items']} items") if isinstance(x, str) and x)


st.title("Annotate")
db = context.db()
LINGER = 1.0  # seconds the database stays open after a click (store.connect)
# bench/bench_annotation_load.py: a file to append, per rating click, the seconds from the click's callback to
# the next item drawn (the server's share of click-to-next-item, without any browser's time).
TIMING_LOG = os.environ.get("WORKBENCH_ANNOTATE_TIMING")


@st.cache_resource(max_entries=32, show_spinner=False)
def session_data(db: str, sid: str) -> annotation.SessionData:
    """A session's settings and items, read once per server process (they never change). Read-only."""
    with store.connect(db) as con:
        return annotation.load_session(con, sid)


with store.connect(db) as con:
    sessions = store.list_sessions(con)
if sessions.empty:
    st.info("No rating sessions yet. Create one on the Leaderboard page, or with "
            "`workbench annotate create --runs RUN [RUN ...] [--pairwise]`.")
    st.stop()

ids = sessions["id"].tolist()
info = {r["id"]: r for r in sessions.to_dict(orient="records")}
wanted = st.query_params.get("session")
if "ann_session" not in ss and wanted in ids:
    ss["ann_session"] = wanted
if "ann_name" not in ss:
    ss["ann_name"] = st.query_params.get("annotator", "")
left, right = st.columns([3, 2])
sid = left.selectbox("Session", ids, key="ann_session", format_func=lambda s: session_label(info[s]))
name = right.text_input("Your name", key="ann_name", placeholder="who is rating?").strip()
st.query_params["session"] = sid
if ss.get("ann_for") != (sid, name):  # another session or annotator: the old one's unrated claim goes back
    old = ss.get("ann_for")
    if old and old[1]:
        try:
            with store.connect(db) as con:
                annotation.leave(con, *old)
        except Exception as e:  # noqa: BLE001 - the claim still expires on its own
            context.show_error(e)
    ss["ann_for"], ss["ann_review"], ss["ann_stopped"] = (sid, name), None, False
if not name:
    st.query_params.pop("annotator", None)
    st.info("Say who you are to start rating. Each item goes to its own set of annotators; your ratings are saved "
            "as you go, so you can stop and come back at any time.")
    st.stop()
st.query_params["annotator"] = name


def rate(value: str, item_idx: int) -> None:
    """Button callback: store the rating with the comment and tags typed for this item, then move on."""
    ss["ann_clicked"] = time.perf_counter()
    try:
        with store.connect(db, linger=LINGER) as con:
            annotation.record_rating(con, sid, item_idx, name, value, ss.get(f"ann_comment_{sid}_{item_idx}"),
                                     ss.get(f"ann_tags_{sid}_{item_idx}"), session=session_data(db, sid).info)
        ss["ann_review"] = None
        ss["ann_flash"] = f"Saved {value} for item {item_idx + 1}."
    except Exception as e:  # noqa: BLE001 - shown on the next run of the panel
        ss["ann_error"] = e
        ss["ann_review"] = None


def review(item_idx: int | None) -> None:
    ss["ann_review"] = item_idx


def stop() -> None:
    """The rater is done for now: their unrated item goes back to the pool at once."""
    try:
        with store.connect(db) as con:
            annotation.leave(con, sid, name)
    except Exception as e:  # noqa: BLE001
        ss["ann_error"] = e
    ss["ann_stopped"], ss["ann_review"] = True, None


def carry_on() -> None:
    ss["ann_stopped"] = False


@st.fragment
def rating_panel() -> None:
    if "ann_error" in ss:
        context.show_error(ss.pop("ann_error"))
    if ss.get("ann_stopped"):
        st.info("You stopped rating: your ratings are saved and your unrated item went back to the pool.",
                icon=":material/pause_circle:")
        st.button("Continue rating", on_click=carry_on, type="primary", icon=":material/play_arrow:")
        return
    data = session_data(db, sid)
    try:
        with store.connect(db, linger=LINGER) as con:
            reviewing = ss.get("ann_review")
            item = (annotation.get_item(con, sid, reviewing, name, data) if reviewing is not None
                    else annotation.next_item(con, sid, name, data))
            progress = annotation.progress(con, sid, name, before=item.item_idx if item else None,
                                           session=data.info)
    except Exception as e:  # noqa: BLE001
        context.show_error(e)
        return
    if "ann_flash" in ss:
        st.toast(ss.pop("ann_flash"), icon=":material/check:")
    draw(data, item, progress, reviewing)
    clicked = ss.pop("ann_clicked", None)
    if TIMING_LOG and clicked is not None:
        with open(TIMING_LOG, "a") as f:
            f.write(f"{time.perf_counter() - clicked:.6f}\n")


def draw(data: annotation.SessionData, item: annotation.Item | None, progress: annotation.Progress,
         reviewing: int | None) -> None:
    mine = progress.rated + progress.remaining
    st.progress(progress.rated / mine if mine else 1.0,
                text=f"You: {progress.rated} rated, {progress.remaining} to go · session: {progress.session_ratings} "
                     f"of {progress.session_target} ratings ({progress.n_items} items × k={data.info['k']})")
    if item is None:
        st.success("All your items are rated. Thank you!", icon=":material/celebration:")
        if progress.session_ratings < progress.session_target and data.info["annotators"] is None:
            st.caption("Items other raters hold come back to the pool if they leave them unrated "
                       f"for {data.info['claim_timeout'] / 60:g} minutes; look in again later.")
        if progress.previous is not None:
            st.button("Review your last rating", on_click=review, args=(progress.previous,), icon=":material/undo:")
        return
    turn = "" if item.turn_idx is None else f" · turn {item.turn_idx + 1}"
    st.subheader(f"Item {item.item_idx + 1} of {progress.n_items}{turn}")
    if reviewing is not None and item.rating:
        st.info(f"You rated this item {item.rating['value']}. Choose again to change it.", icon=":material/history:")
    draw_item(item)
    cols = st.columns(len(BUTTONS[item.scale]))
    for col, (value, label, key) in zip(cols, BUTTONS[item.scale]):
        col.button(label, key=f"ann_rate_{value}", shortcut=key, on_click=rate, args=(value, item.item_idx),
                   icon=ICONS.get(value), width="stretch",
                   type="primary" if item.rating and item.rating["value"] == value else "secondary")
    nav_prev, nav_next, _, nav_stop = st.columns([1, 1, 1, 1])
    nav_prev.button("Previous", key="ann_prev", shortcut="P", on_click=review, args=(progress.previous,),
                    disabled=progress.previous is None, icon=":material/arrow_back:", width="stretch")
    if reviewing is not None:
        nav_next.button("Next unrated", key="ann_next", shortcut="N", on_click=review, args=(None,),
                        icon=":material/arrow_forward:", width="stretch")
    nav_stop.button("Stop rating", key="ann_stop", on_click=stop, icon=":material/logout:", width="stretch",
                    help="Done for now: your unrated item goes back to the pool for the others at once.")


def draw_passages(found: list[dict] | None) -> None:
    """The passages the answer was given (sessions that show them): untrusted text, shown as text."""
    if found:
        with st.expander(f"Passages the answer was given ({len(found)})"):
            for p in found:
                st.text(f"[{p['id']}] {p['title']}: {p['text']}")


def draw_history(history: list[dict[str, str]], title: str = "Conversation so far") -> None:
    st.caption(title)
    for m in history:
        st.text(f"{SPEAKERS.get(m['role'], m['role'])}: {m['content']}")


def draw_item(item: annotation.Item) -> None:
    with st.container(border=True):
        st.caption("Input")
        for field, value in item.inputs.items():
            st.text(f"{field}: {value}")
        if item.history_a is not None and item.history_b is None:  # one conversation so far for both sides
            draw_history(item.history_a)
        if item.reference is not None:
            with st.expander("Reference answer"):
                st.text(item.reference)
    if item.kind == "pairwise":
        col_a, col_b = st.columns(2)
        sides = (("A", item.text_a, item.history_a, item.passages_a), ("B", item.text_b, item.history_b, item.passages_b))
        for col, (side, text, history, found) in zip((col_a, col_b), sides):
            with col.container(border=True):
                if item.history_b is not None:  # own history: each side's model saw its own earlier answers
                    draw_history(history, f"Conversation so far, as {side}'s model saw it")
                st.markdown(f"**Answer {side}**")
                st.text(text)
                draw_passages(found)
    else:
        with st.container(border=True):
            st.markdown("**Answer**")
            st.text(item.text_a)
            draw_passages(item.passages_a)
    st.text(item.rubric)  # written by whoever created the session: shown as plain text too
    c1, c2 = st.columns([3, 2])
    previous_comment = (item.rating or {}).get("comment") or ""
    previous_tags = list((item.rating or {}).get("tags") or [])
    c1.text_input("Comment (optional)", value=previous_comment, key=f"ann_comment_{item.session_id}_{item.item_idx}")
    c2.multiselect("Tags (optional)", list(dict.fromkeys(item.tags + previous_tags)), default=previous_tags,
                   accept_new_options=True, key=f"ann_tags_{item.session_id}_{item.item_idx}")


rating_panel()
