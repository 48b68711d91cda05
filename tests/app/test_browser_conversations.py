"""Conversation runs in the app, in a real Chromium: Compare shows them as threads side by side (variant A | B,
each turn with its reference and score), opens on the worst conversation and filters to its worst turn; a
hostile output stays plain text."""

from __future__ import annotations

import json

import pytest

import workbench
from tests.browser import app_server, chromium, screenshot, settle
from tests.conftest import ROOT
from tests.openai_server import OpenAIServer

pytestmark = pytest.mark.browser
PROMPT = ROOT / "prompts" / "support_conversation.yaml"
HOSTILE = "<b id='pwn'>bold</b> <script>window.__pwned = 1</script>"


def test_conversation_compare_shows_threads_and_the_worst_turn(tmp_path):
    rows = []
    for i in range(3):
        msgs = []
        for t in range(3):
            msgs += [{"role": "user", "content": f"c{i} question {t}"}, {"role": "assistant", "content": f"c{i} gold {t}"}]
        rows.append({"messages": msgs, "customer": f"customer {i}"})
    data = tmp_path / "talks.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")

    def perfect(messages):  # the reference, except a hostile answer on conversation 2, turn 2
        last = messages[-1]["content"]
        return HOSTILE if last == "c1 question 1" else last.replace("question", "gold")

    db = str(tmp_path / "wb.duckdb")
    with OpenAIServer(reply=perfect) as good, OpenAIServer(reply=lambda m: "I don't know") as bad:
        workbench.evaluate(PROMPT, data, f"openai:good@{good.base_url}", "exact", db=db)
        workbench.evaluate(PROMPT, data, f"openai:bad@{bad.base_url}", "exact", db=db, history="own")
    with app_server(db) as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 2200})
        page.set_default_timeout(30_000)
        page.goto(f"{url}/compare")
        page.get_by_role("heading", name="Conversations side by side").wait_for()
        main = page.locator('[data-testid="stMain"]')
        # worst first: every conversation has a 0 on turn 1 (the bad model); conversation 1 is the first
        main.get_by_text("c0 question 2").wait_for()
        assert main.get_by_text("c0 gold 2", exact=True).count() == 2  # the reference and variant A's output
        assert main.get_by_text("I don't know").count() == 3
        assert main.get_by_text("Turn 3 · outputs differ").count() == 1
        screenshot(page, "conversations-1-compare")
        page.get_by_label("Conversation (worst first)").click()
        page.get_by_role("option", name="conversation 2", exact=False).click()
        main.get_by_text(HOSTILE).wait_for()  # shown as text
        assert page.evaluate("window.__pwned") is None and page.locator("#pwn").count() == 0
        page.get_by_text("Worst turn only").click()
        page.wait_for_function("!document.body.innerText.includes('c1 question 2')")
        assert main.get_by_text("c1 question 0").count() == 1 and main.get_by_text("Turn 1 · outputs differ").count() == 1
        screenshot(page, "conversations-2-worst-turn")


def test_conversation_rating_pairwise_in_the_annotate_page(tmp_path):
    import time

    from workbench import store
    from workbench.rating import annotation as an

    rows = [{"turns": [f"c{i} question 0", f"c{i} gold 0", f"c{i} question 1", f"c{i} gold 1"]} for i in range(2)]
    data = tmp_path / "talks.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    db = str(tmp_path / "wb.duckdb")
    with OpenAIServer(reply=lambda m: "good " + m[-1]["content"]) as a, \
            OpenAIServer(reply=lambda m: "<b>bad</b> " + m[-1]["content"]) as b:
        runs = [workbench.evaluate(PROMPT, data, f"openai:secret-{name}@{s.base_url}", "exact", db=db,
                                   history="own").runs[0] for name, s in (("one", a), ("two", b))]
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec(runs, pairwise=True, seed=1))
    with app_server(db) as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.set_default_timeout(30_000)
        page.goto(f"{url}/annotate?session={sid}&annotator=ann")
        page.get_by_role("heading", name="Item 1 of 2").wait_for()
        settle(page)  # the heading comes first; the answers below it may still be drawing
        text = page.inner_text("body")
        # a whole conversation on each side: both turns, the model's answers, the reference conversation
        assert "Assistant: good c" in text and "Assistant: <b>bad</b> c" in text and "question 1" in text
        assert "secret-" not in page.content() and page.locator("b", has_text="bad").count() == 0
        screenshot(page, "conversations-3-rate")
        page.get_by_role("heading", name="Item 1 of 2").click()
        settle(page)
        page.keyboard.press("a")
        page.get_by_role("heading", name="Item 2 of 2").wait_for()
        deadline = time.monotonic() + 20
        while True:
            with store.connect(db) as con:
                got = con.execute("SELECT item_idx, value FROM ratings WHERE session_id = ?", [sid]).fetchall()
            if got or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert got == [(0, "A")]


def test_turn_rating_pairwise_and_likert_in_the_annotate_page(tmp_path):
    """A session by turn: each item is one turn after the conversation so far (a gold-history side and an
    own-history side each show what their model saw); keys rate it; a Likert session by turn too."""
    import time

    from workbench import store
    from workbench.rating import annotation as an

    rows = [{"turns": ["q0 first", "gold answer 0", "q1 second", "gold answer 1"]}]
    data = tmp_path / "talks.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    db = str(tmp_path / "wb.duckdb")
    with OpenAIServer(reply=lambda m: "alpha " + m[-1]["content"]) as a, \
            OpenAIServer(reply=lambda m: "<i>beta</i> " + m[-1]["content"]) as b:
        gold = workbench.evaluate(PROMPT, data, f"openai:secret-one@{a.base_url}", "exact", db=db).runs[0]
        own = workbench.evaluate(PROMPT, data, f"openai:secret-two@{b.base_url}", "exact", db=db,
                                 history="own").runs[0]
    with store.connect(db) as con:
        pair = an.create_session(con, an.SessionSpec([gold, own], pairwise=True, seed=1, unit="turn"))
        likert = an.create_session(con, an.SessionSpec([own], seed=1, unit="turn"))
        turns = {int(i): int(t) for i, t in store.item_outputs(con, pair)[["item_idx", "turn_idx"]].to_numpy()}

    def ratings(sid, n):
        deadline = time.monotonic() + 20
        while True:
            with store.connect(db) as con:
                got = con.execute("SELECT item_idx, value FROM ratings WHERE session_id = ? ORDER BY 1", [sid]).fetchall()
            if len(got) >= n or time.monotonic() > deadline:
                return got
            time.sleep(0.2)

    with app_server(db) as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.set_default_timeout(30_000)
        page.goto(f"{url}/?session={pair}&annotator=ann")
        second = next(i for i, t in turns.items() if t == 1)
        for item_idx in sorted(turns):
            heading = page.get_by_role("heading", name=f"Item {item_idx + 1} of 2 · turn {turns[item_idx] + 1}")
            heading.wait_for()
            settle(page)
            text = page.inner_text('[data-testid="stMain"]')
            if item_idx == second:  # each side's own conversation so far, then its answer to q1
                assert "Conversation so far, as A's model saw it" in text and "Conversation so far, as B's model saw it" in text
                assert "Assistant: gold answer 0" in text and "Assistant: <i>beta</i> q0 first" in text
                assert "alpha q1 second" in text and "<i>beta</i> q1 second" in text and "alpha q0 first" not in text
                screenshot(page, "conversations-4-rate-a-turn")
            else:  # the first turn: one shared history (the question), the two answers to it
                assert text.count("Customer: q0 first") == 1 and "q1 second" not in text
            assert "secret-" not in page.content() and page.locator("i", has_text="beta").count() == 0
            heading.click()
            settle(page)
            page.keyboard.press("b")
        page.get_by_text("All your items are rated").wait_for()
        assert ratings(pair, 2) == [(0, "B"), (1, "B")]
        page.goto(f"{url}/?session={likert}&annotator=bob")
        for n in (1, 2):
            heading = page.get_by_role("heading", name="of 2 · turn")
            heading.wait_for()
            name = heading.inner_text()
            heading.click()
            settle(page)
            page.keyboard.press("4")
            assert len(ratings(likert, n)) == n  # stored on the key press
            page.wait_for_function(f"!document.body.innerText.includes({json.dumps(name)})", timeout=60_000)
        assert [v for _, v in ratings(likert, 2)] == ["4", "4"]
