"""Claims on the app's pages (AppTest): Stop rating and switching rater release the unrated item; the
Leaderboard lists claimed-but-unrated items and releases them; a rating click reruns only the panel."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.annotation_runs import ROOT, make_runs
from workbench import store
from workbench.rating import annotation as an

PAGES = ROOT / "workbench" / "app" / "views"
VARIANTS = [("support_few_shot", "openai:m1")]


def no_exceptions(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def open_annotate(sid: str, name: str) -> AppTest:
    at = AppTest.from_file(str(PAGES / "annotate.py"), default_timeout=60)
    at.query_params["session"] = sid
    at.query_params["annotator"] = name
    at.run()
    no_exceptions(at)
    return at


def holders(db: str, sid: str) -> list[tuple[int, str]]:
    with store.connect(db) as con:
        claims = an.open_claims(con, sid)
    return sorted(zip(claims["item_idx"].tolist(), claims["annotator"].tolist()))


def test_stop_rating_and_switching_rater_send_the_item_back(db):
    runs = make_runs(db, VARIANTS, n_rows=4)
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec(runs, seed=3))
    at = open_annotate(sid, "ann")
    assert at.subheader[0].value == "Item 1 of 4" and holders(db, sid) == [(0, "ann")]
    at.button(key="ann_rate_5").click().run()
    no_exceptions(at)
    assert at.subheader[0].value == "Item 2 of 4" and holders(db, sid) == [(1, "ann")]

    at.button(key="ann_stop").click().run()
    no_exceptions(at)
    assert "You stopped rating" in at.info[0].value and holders(db, sid) == []
    at.button[0].click().run()  # Continue rating: her item again, since nobody took it
    assert at.subheader[0].value == "Item 2 of 4" and holders(db, sid) == [(1, "ann")]

    at.text_input(key="ann_name").input("bob").run()  # another rater at this screen: ann's claim goes back
    no_exceptions(at)
    assert at.subheader[0].value == "Item 2 of 4" and holders(db, sid) == [(1, "bob")]


def test_leaderboard_lists_claims_and_the_owner_releases_one(db):
    runs = make_runs(db, VARIANTS, n_rows=3)
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec(runs, seed=1, claim_timeout=600))
        an.next_item(con, sid, "ann")
        an.next_item(con, sid, "bob")
        an.record_rating(con, sid, an.next_item(con, sid, "cy").item_idx, "cy", 3)  # (Agreement needs a rating)
    at = AppTest.from_file(str(PAGES / "leaderboard.py"), default_timeout=120).run()
    no_exceptions(at)
    assert "Claimed, not yet rated" in [s.value for s in at.subheader]
    assert any(f"{sid}: 2 items held" in c.value and "10 min" in c.value for c in at.caption)
    assert {"ann", "bob"} <= {t.value for t in at.text}
    at.button(key=f"lb_release_{sid}_1_bob").click().run()
    no_exceptions(at)
    assert holders(db, sid) == [(0, "ann")]
    with store.connect(db) as con:
        assert an.next_item(con, sid, "dee").item_idx == 1


def test_new_session_form_sets_the_claim_timeout(db):
    make_runs(db, VARIANTS, n_rows=2)
    at = AppTest.from_file(str(PAGES / "leaderboard.py"), default_timeout=120).run()
    no_exceptions(at)
    [timeout] = [n for n in at.number_input if n.label == "Claim timeout (minutes)"]
    timeout.set_value(2.5).run()
    at.button[0].click().run()
    no_exceptions(at)
    with store.connect(db) as con:
        sessions = store.list_sessions(con)
    assert sessions["claim_timeout"].tolist() == [150.0]


def test_a_rating_click_is_one_unit_of_work(db, monkeypatch):
    """The click's database work is one transaction (store.rate_and_next): the panel draws the next item and
    the progress the callback found, with none of the separate reads and claims it made before."""
    runs = make_runs(db, VARIANTS, n_rows=4)
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec(runs, seed=3))
    at = open_annotate(sid, "ann")
    calls: list[str] = []

    def counted(name: str):
        real = getattr(store, name)

        def call(*args, **kwargs):
            calls.append(name)
            return real(*args, **kwargs)
        return call

    for name in ("rate_held_item", "next_assigned_unrated", "claim_item", "progress_counts"):
        monkeypatch.setattr(store, name, counted(name))
    at.button(key="ann_rate_5").click().run()
    assert calls == []  # each was a unit of work of its own: the rating, the next item, the claim, the progress
    no_exceptions(at)
    assert at.subheader[0].value == "Item 2 of 4" and holders(db, sid) == [(1, "ann")]
    assert "You: 1 rated, 3 to go" in at.get("progress")[0].proto.text


def panel_nodes(node) -> list[str]:
    """The types of every element and block under `node` (AppTest's tree), depth first."""
    found = []
    for child in (node.children.values() if isinstance(getattr(node, "children", None), dict) else []):
        found.append(getattr(child, "type", type(child).__name__))
        found += panel_nodes(child)
    return found


def test_a_rating_click_sends_few_elements(db):
    """Each element and block the rating panel draws is a message that every click sends, and ~1 ms of the
    server's CPU: a pairwise item is the progress, the heading, the input, the reference, the answers (one row
    of two texts), then the comment, the tags and the four buttons in one row, and no toast (23 before)."""
    runs = make_runs(db, [("support_few_shot", "openai:m1"), ("support_persona", "openai:m2")], n_rows=4)
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec(runs, pairwise=True, seed=1))
    at = open_annotate(sid, "ann")
    at.button(key="ann_rate_A").click().run()
    no_exceptions(at)
    panel = next(block for block in at.main.children.values()
                 if any(getattr(c, "type", "") == "progress" for c in getattr(block, "children", {}).values()))
    drawn = panel_nodes(panel)
    assert drawn.count("button") == 4 and len(drawn) <= 15, drawn
    assert "Saved A for item 1." in at.get("progress")[0].proto.text and not at.toast  # what was saved: no toast
