"""Annotate: rate outputs blind, one item at a time, with a keyboard shortcut for every rating.

Nothing on this page names a variant (run, prompt or model): sessions are created, and results read,
on the Leaderboard page. Model outputs and dataset fields are shown with st.text, never as Markdown or
HTML. The session and the annotator's name are kept in the URL, so a reload (or the same link later)
resumes at the next unrated item; the ratings themselves live in the database.

A rating click reruns only the rating panel (a fragment), and its callback does the click's database work in
one transaction: the rating, the next item (a claim when needed) and the progress (store.rate_and_next);
the panel then draws what the callback found. The session's items come from a per-process cache (they never
change), and the database file stays open between clicks (store.connect's linger). The panel is kept to few
elements, each a message per click (tests/app/test_app_claims.py counts them): the input fields in one text, a
pairwise item's answers a text per side in one row, the comment, tags and rating buttons in one row, what was
saved in the progress text (no toast); the rubric, Previous and Stop rating outside it.
"Stop rating", switching session or name, and the claim timeout send an unrated item back to the pool.
"""

from __future__ import annotations

import os
import time

import streamlit as st

from workbench import store
from workbench.app import context
from workbench.app.i18n import N_, catalogue, current
from workbench.rating import annotation
from workbench.rating.conversations import SPEAKERS

ss = st.session_state
LANG = current()
# The page's language, looked up once per run of the page: the panel's reruns (a click) reuse these, where the
# module's _() looks up the session's language again for every text.
_, ngettext = catalogue(LANG).gettext, catalogue(LANG).ngettext
BUTTONS = {  # (value stored, label, shortcut): the shortcuts stay the same in every language
    "likert": [(v, v, v) for v in annotation.SCALES["likert"]],
    "thumbs": [("up", _("Thumbs up"), "U"), ("down", _("Thumbs down"), "D")],
    "pairwise": [("A", _("A is better"), "A"), ("B", _("B is better"), "B"), ("tie", _("Tie"), "T"),
                 ("both_bad", _("Both bad"), "X")],
}
SPEAKER_NAMES = [N_("System"), N_("Customer"), N_("Assistant")]  # rating.conversations.SPEAKERS, shown translated
VALUES = {"up": _("thumbs up"), "down": _("thumbs down"), "tie": _("tie"), "both_bad": _("both bad")}
ICONS = {"up": ":material/thumb_up:", "down": ":material/thumb_down:"}


def session_label(r: dict) -> str:
    what = _("pairwise") if r["kind"] == "pairwise" else _("single, {scale}").format(scale=r["scale"])
    if r.get("unit") == "turn":
        what += ", " + _("by turn")
    items = ngettext("{n} item", "{n} items", r["n_items"]).format(n=r["n_items"])
    return " · ".join(x for x in (r["id"], r["name"], what, items) if isinstance(x, str) and x)


st.title(_("Annotate"))
db = context.db()
# Seconds the database stays open after a click (store.connect): longer than a rater takes over an item, so that a
# click does not reopen the file (~50 ms of CPU); another process that needs the file knocks and gets in at once.
LINGER = 30.0
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
    st.info(_("No rating sessions yet. Create one on the Leaderboard page, or with "
              "`workbench annotate create --runs RUN [RUN ...] [--pairwise]`."))
    st.stop()

ids = sessions["id"].tolist()
info = {r["id"]: r for r in sessions.to_dict(orient="records")}
labels = {s: session_label(info[s]) for s in ids}  # worded now: a format_func runs in no page's language
wanted = st.query_params.get("session")
if "ann_session" not in ss and wanted in ids:
    ss["ann_session"] = wanted
if "ann_name" not in ss:
    ss["ann_name"] = st.query_params.get("annotator", "")
left, right = st.columns([3, 2])
sid = left.selectbox(_("Session"), ids, key="ann_session", format_func=labels.get)
name = right.text_input(_("Your name"), key="ann_name", placeholder=_("who is rating?")).strip()
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
    st.info(_("Say who you are to start rating. Each item goes to its own set of annotators; your ratings are "
              "saved as you go, so you can stop and come back at any time."))
    st.stop()
st.query_params["annotator"] = name
data = session_data(db, sid)  # looked up once per run of the page; the panel's reruns and callbacks use it


def rate(value: str, item_idx: int) -> None:
    """Button callback: store the rating with the comment and tags typed for this item, then move on. The
    next item and the progress come from the rating's own transaction, for the panel's rerun to draw."""
    ss["ann_clicked"] = time.perf_counter()
    try:
        with store.connect(db, linger=LINGER) as con:
            ss["ann_step"] = (sid, name, *annotation.rate_and_next(
                con, data, name, item_idx, value, ss.get(f"ann_comment_{sid}_{item_idx}"),
                ss.get(f"ann_tags_{sid}_{item_idx}")))
        ss["ann_review"] = None
        ss["ann_flash"] = _("Saved {value} for item {n}.").format(value=VALUES.get(value, value), n=item_idx + 1)
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
    step = ss.pop("ann_step", None)  # the click's next item: drawn now or never (stale after any other action)
    if "ann_error" in ss:
        context.show_error(ss.pop("ann_error"))
    if ss.get("ann_stopped"):
        st.info(_("You stopped rating: your ratings are saved and your unrated item went back to the pool."),
                icon=":material/pause_circle:")
        st.button(_("Continue rating"), on_click=carry_on, type="primary", icon=":material/play_arrow:")
        return
    reviewing = ss.get("ann_review")
    try:
        if step is not None and step[:2] == (sid, name) and reviewing is None:  # drawn by the click's callback
            item, progress = step[2:]
        else:
            with store.connect(db, linger=LINGER) as con:
                item, progress = show(con, data, reviewing)
    except Exception as e:  # noqa: BLE001
        context.show_error(e)
        return
    draw(data, item, progress, reviewing, ss.pop("ann_flash", None))
    clicked = ss.pop("ann_clicked", None)
    if TIMING_LOG and clicked is not None:
        with open(TIMING_LOG, "a") as f:
            f.write(f"{time.perf_counter() - clicked:.6f}\n")


def show(con, data: annotation.SessionData, reviewing: int | None):
    """The item to draw (the one reviewed, or the rater's next) and their progress."""
    if reviewing is None:
        return annotation.rate_and_next(con, data, name)
    item = annotation.get_item(con, sid, reviewing, name, data)
    return item, annotation.progress(con, sid, name, before=item.item_idx, session=data.info)


def draw(data: annotation.SessionData, item: annotation.Item | None, progress: annotation.Progress,
         reviewing: int | None, saved: str | None = None) -> None:
    """The progress (after what the click saved: in its text, not a toast of its own), the item, the buttons."""
    mine = progress.rated + progress.remaining
    ss["ann_previous"] = progress.previous  # for Previous, outside the panel
    words = _("You: {rated} rated, {remaining} to go · session: {ratings} of {target} ratings ({n} items × "
              "k={k})").format(rated=progress.rated, remaining=progress.remaining, ratings=progress.session_ratings,
                               target=progress.session_target, n=progress.n_items, k=data.info["k"])
    st.progress(progress.rated / mine if mine else 1.0, text=f"{saved} {words}" if saved else words)
    if item is None:
        st.success(_("All your items are rated. Thank you!"), icon=":material/celebration:")
        if progress.session_ratings < progress.session_target and data.info["annotators"] is None:
            st.caption(_("Items other raters hold come back to the pool if they leave them unrated for {minutes} "
                         "minutes; look in again later.").format(minutes=f"{data.info['claim_timeout'] / 60:g}"))
        if progress.previous is not None:
            st.button(_("Review your last rating"), on_click=review, args=(progress.previous,), icon=":material/undo:")
        return
    turn = "" if item.turn_idx is None else " · " + _("turn {n}").format(n=item.turn_idx + 1)
    st.subheader(_("Item {n} of {total}").format(n=item.item_idx + 1, total=progress.n_items) + turn)
    if reviewing is not None and item.rating:
        value = item.rating["value"]
        st.info(_("You rated this item {value}. Choose again to change it.").format(value=VALUES.get(value, value)),
                icon=":material/history:")
    draw_item(item)
    # The comment, the tags and the rating buttons in one horizontal container: one block, where columns were a
    # block per button (every block and element is a message the rerun of a click sends).
    row = st.container(horizontal=True, vertical_alignment="bottom")
    draw_notes(row, item)
    for value, label, key in BUTTONS[item.scale]:
        row.button(label, key=f"ann_rate_{value}", shortcut=key, on_click=rate, args=(value, item.item_idx),
                   icon=ICONS.get(value), width="stretch",
                   type="primary" if item.rating and item.rating["value"] == value else "secondary")
    if reviewing is not None:
        st.button(_("Next unrated"), key="ann_next", shortcut="N", on_click=review, args=(None,),
                  icon=":material/arrow_forward:")


def draw_passages(found: list[dict] | None) -> None:
    """The passages the answer was given (sessions that show them): untrusted text, shown as text."""
    if found:
        with st.expander(_("Passages the answer was given ({n})").format(n=len(found))):
            for p in found:
                st.text(f"[{p['id']}] {p['title']}: {p['text']}")


def draw_history(history: list[dict[str, str]], title: str | None = None) -> None:
    st.caption(title or _("Conversation so far"))
    speakers = {role: _(name) for role, name in SPEAKERS.items()}  # rating.conversations' words, translated
    for m in history:
        st.text(f"{speakers.get(m['role'], m['role'])}: {m['content']}")


def draw_sides(item: annotation.Item, sides: tuple) -> None:
    """A pairwise item's answers in a column each, with what each side's model saw."""
    for col, (side, text, history, found) in zip(st.columns(2, border=True), sides):
        with col:
            if item.history_b is not None:  # own history: each side's model saw its own earlier answers
                draw_history(history, _("Conversation so far, as {side}'s model saw it").format(side=side))
            st.markdown("**" + _("Answer {side}").format(side=side) + "**")
            st.text(text)
            draw_passages(found)


def draw_item(item: annotation.Item) -> None:
    # Each element or block is a message that every click sends (~1 ms of server CPU with its work): the inputs are
    # one text headed "Input", and a pairwise item's answers one text per side (headed "Answer A") in one row,
    # unless the sides need more (their own conversations, passages).
    inputs = "\n".join(f"{field}: {value}" for field, value in item.inputs.items())
    st.text(_("Input") + "\n" + inputs)
    if item.history_a is not None and item.history_b is None:  # one conversation so far for both sides
        draw_history(item.history_a)
    if item.reference is not None:
        with st.expander(_("Reference answer")):
            st.text(item.reference)
    if item.kind == "pairwise":
        sides = (("A", item.text_a, item.history_a, item.passages_a), ("B", item.text_b, item.history_b, item.passages_b))
        if item.history_b is None and not item.passages_a and not item.passages_b:
            row = st.container(horizontal=True, border=True, wrap=False)
            for side, text, _history, _found in sides:
                row.text(_("Answer {side}").format(side=side) + "\n\n" + text, width="stretch")
        else:
            draw_sides(item, sides)
    else:
        with st.container(border=True):
            st.markdown("**" + _("Answer") + "**")
            st.text(item.text_a)
            draw_passages(item.passages_a)


def draw_notes(notes, item: annotation.Item) -> None:
    """The comment and tags for this item (the rating's, when it has one) in the container `notes`."""
    previous_comment = (item.rating or {}).get("comment") or ""
    previous_tags = list((item.rating or {}).get("tags") or [])
    notes.text_input(_("Comment (optional)"), value=previous_comment,
                     key=f"ann_comment_{item.session_id}_{item.item_idx}")
    notes.multiselect(_("Tags (optional)"), list(dict.fromkeys(item.tags + previous_tags)), default=previous_tags,
                      accept_new_options=True, format_func=lambda t: annotation.tag_in(t, LANG),
                      placeholder=_("Choose or add options"), key=f"ann_tags_{item.session_id}_{item.item_idx}")


# Outside the panel, so a click does not send them again: the rubric is the session's (written by whoever
# created it: plain text too; a default rubric in the rater's language), and Stop rating reruns the page.
st.text(annotation.rubric_in(data.info["rubric"], LANG))
rating_panel()
# Outside the panel too (a click does not send them again): Previous reruns the page, rarely needed.
bottom = st.container(horizontal=True)
bottom.button(_("Previous"), key="ann_prev", shortcut="P", on_click=lambda: review(ss.get("ann_previous")),
              icon=":material/arrow_back:")
bottom.button(_("Stop rating"), key="ann_stop", on_click=stop, icon=":material/logout:",
              help=_("Done for now: your unrated item goes back to the pool for the others at once."))
