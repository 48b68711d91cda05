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
