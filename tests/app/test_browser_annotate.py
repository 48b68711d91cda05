"""The Annotate page in a real Chromium: blind pairwise items, keyboard ratings, resume after closing."""

from __future__ import annotations

import time

import pytest

from tests.annotation_runs import make_runs
from tests.browser import app_server, chromium, screenshot, settle
from workbench import store
from workbench.rating import annotation as an

pytestmark = pytest.mark.browser

VARIANTS = [("support_few_shot", "openai:secret-model-one"), ("support_persona", "openai:secret-model-two")]


def answer(v: int, row: dict) -> str:
    return row["reference"] if v == 0 else f"<b>Hello</b> **there**: {row['question']}"


def wait_for_ratings(db: str, sid: str, n: int, timeout: float = 20) -> list[tuple]:
    deadline = time.monotonic() + timeout
    while True:
        with store.connect(db) as con:
            rows = con.execute("SELECT item_idx, value, comment FROM ratings WHERE session_id = ? ORDER BY item_idx",
                               [sid]).fetchall()
        if len(rows) >= n:
            return rows
        assert time.monotonic() < deadline, rows
        time.sleep(0.2)


def test_blind_pairwise_rating_with_keys_and_resume(tmp_path):
    db = str(tmp_path / "wb.duckdb")
    runs = make_runs(db, VARIANTS, n_rows=6, answer=answer)
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec(runs, pairwise=True, seed=1))
    secrets = [*runs, "support_few_shot", "support_persona", "secret-model", "openai:"]

    with app_server(db) as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.set_default_timeout(30_000)
        page.goto(f"{url}/annotate?session={sid}&annotator=ann")
        page.get_by_role("heading", name="Item 1 of 6").wait_for()
        page.get_by_text("Answer B").wait_for()
        page.locator('[data-testid="stSidebarNav"]').get_by_text("Leaderboard", exact=True).wait_for()  # the app settled
        screenshot(page, "annotate-1-pairwise")
        html, text = page.content(), page.inner_text("body")
        for secret in secrets:
            assert secret not in html and secret not in text, secret
        # Model output is shown as text: its markup stays literal.
        assert page.locator("b", has_text="Hello").count() == 0
        assert "<b>Hello</b> **there**" in text

        # Typing in the comment box is not a shortcut; pressing A afterwards is.
        comment = page.get_by_label("Comment (optional)")
        comment.fill("a is clearer")
        comment.press("Enter")
        time.sleep(1.0)
        assert wait_for_ratings(db, sid, 0) == []
        page.get_by_role("heading", name="Item 1 of 6").click()  # focus leaves the text box
        settle(page)
        page.keyboard.press("a")
        assert wait_for_ratings(db, sid, 1) == [(0, "A", "a is clearer")]
        page.get_by_role("heading", name="Item 2 of 6").wait_for()
        settle(page)
        page.keyboard.press("t")
        assert wait_for_ratings(db, sid, 2)[1] == (1, "tie", None)
        page.get_by_role("heading", name="Item 3 of 6").wait_for()
        page.get_by_text("You: 2 rated, 4 to go").wait_for()
        page.close()

        # Reopen the session: it resumes at the next unrated item, with the progress kept.
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.set_default_timeout(30_000)
        page.goto(f"{url}/annotate?session={sid}&annotator=ann")
        page.get_by_role("heading", name="Item 3 of 6").wait_for()
        page.get_by_text("You: 2 rated, 4 to go").wait_for()
        settle(page)
        # P goes back to the last rated item, where a new key press replaces the rating.
        page.keyboard.press("p")
        page.get_by_role("heading", name="Item 2 of 6").wait_for()
        page.get_by_text("You rated this item tie").wait_for()
        settle(page)
        page.keyboard.press("b")
        page.get_by_role("heading", name="Item 3 of 6").wait_for()
        assert [r[:2] for r in wait_for_ratings(db, sid, 2)] == [(0, "A"), (1, "B")]
        screenshot(page, "annotate-2-resumed")


def test_rater_link_loads_without_404s_and_stop_rating_frees_the_item(tmp_path):
    """The link a rater gets (app root, ?session=ID&annotator=NAME) opens the Annotate page with no failed
    request: a link to /annotate?... makes Streamlit's client probe /annotate/_stcore/health and host-config
    (404) before it finds its server at the root."""
    db = str(tmp_path / "wb.duckdb")
    runs = make_runs(db, VARIANTS, n_rows=3, answer=answer)
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec(runs, pairwise=True, seed=1))

    with app_server(db) as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.set_default_timeout(30_000)
        failed = []
        page.on("response", lambda r: failed.append((r.status, r.url)) if r.status >= 400 else None)
        page.goto(f"{url}/?session={sid}&annotator=ann")
        page.get_by_role("heading", name="Item 1 of 3").wait_for()
        page.locator('[data-testid="stSidebarNav"]').get_by_text("Leaderboard", exact=True).wait_for()  # settled
        page.get_by_role("button", name="A is better").click()
        assert len(wait_for_ratings(db, sid, 1)) == 1
        page.get_by_role("heading", name="Item 2 of 3").wait_for()
        page.get_by_role("button", name="Stop rating").click()
        page.get_by_text("You stopped rating").wait_for()
        assert failed == []
        with store.connect(db) as con:
            assert an.open_claims(con, sid).empty  # item 2 is back in the pool
            assert an.next_item(con, sid, "bob").item_idx == 1
        page.close()


def test_annotate_deep_link_loads_without_404s(tmp_path):
    """A link to /annotate?session=ID&annotator=NAME (what the page's own URL looks like, so what raters copy)
    is answered with a redirect to the root, which opens the Annotate page in place: the browser never asks
    for /annotate/_stcore/health or /host-config (404). A bare /annotate opens the Annotate page too."""
    db = str(tmp_path / "wb.duckdb")
    runs = make_runs(db, VARIANTS, n_rows=3, answer=answer)
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec(runs, pairwise=True, seed=1))

    with app_server(db) as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.set_default_timeout(30_000)
        failed, asked = [], []
        page.on("response", lambda r: failed.append((r.status, r.url)) if r.status >= 400 else None)
        page.on("request", lambda r: asked.append(r.url))
        page.goto(f"{url}/annotate?session={sid}&annotator=ann")
        page.get_by_role("heading", name="Item 1 of 3").wait_for()
        page.locator('[data-testid="stSidebarNav"]').get_by_text("Leaderboard", exact=True).wait_for()  # settled
        assert page.url.endswith(f"/annotate?session={sid}&annotator=ann")  # the address bar keeps the page's path
        page.get_by_role("button", name="A is better").click()
        assert len(wait_for_ratings(db, sid, 1)) == 1
        page.get_by_role("heading", name="Item 2 of 3").wait_for()
        page.goto(f"{url}/annotate")  # no session in the link: the Annotate page, asking who you are
        page.get_by_text("Say who you are").wait_for()
        assert failed == [] and not [u for u in asked if "/annotate/_stcore/" in u], failed
        page.close()
