"""Run and Datasets pages take conversation files (Streamlit AppTest, the loopback OpenAI server)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from workbench import store

APP = ROOT / "workbench" / "app"


@pytest.fixture(autouse=True)
def app_dirs(tmp_path, monkeypatch):
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    (prompts / "support_conversation.yaml").write_text(
        (ROOT / "prompts" / "support_conversation.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setenv("WORKBENCH_PROMPTS", str(prompts))
    monkeypatch.setenv("WORKBENCH_DATASETS", str(ROOT / "datasets"))
    monkeypatch.setenv("WORKBENCH_MODELS_DIR", str(tmp_path / "models"))


def page(name: str) -> AppTest:
    return AppTest.from_file(str(APP / "views" / f"{name}.py"), default_timeout=60)


def test_run_page_starts_an_own_history_conversation_run(db, openai_server):
    at = page("run").run()
    at.multiselect(key="run_prompts").set_value(["support_conversation.yaml (file)"])
    at.text_input(key="run_extra_model").set_value(f"openai:test@{openai_server.base_url}")
    at.multiselect(key="run_models").set_value([])
    options = at.selectbox(key="run_dataset").options
    at.selectbox(key="run_dataset").select_index(options.index("support_conversations_en.jsonl"))
    at.number_input(key="run_limit").set_value(3)
    at.radio(key="run_history").set_value("own")
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Started 1 run" in s.value for s in at.success), [e.value for e in at.error]
    from workbench.app.context import job_registry

    job = next(j for j in job_registry().list() if j.db == db)
    assert job.wait(30) and job.error is None
    with store.connect(db) as con:
        (run_id,) = store.list_runs(con)["id"]
        run = store.get_run(con, run_id)
        turns = store.done_turns(con, run_id)
    assert run["history"] == "own" and run["n_rows"] == 3
    assert {r for r, _, _ in turns} == {0, 1, 2} and len(turns) == 3 + 2 + 3  # 6, 4 and 6 turns


def test_datasets_page_summarizes_a_conversation_file():
    at = page("datasets").run()
    at.radio(key="ds_source").set_value("Open a dataset").run()
    choice = next(s for s in at.selectbox if "support_conversations_zh.jsonl" in s.options)
    choice.set_value("support_conversations_zh.jsonl").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("48 conversations\\, 120 assistant turns" in c.value for c in at.caption)  # Markdown-escaped
    assert any("48 conversations, 120 assistant turns have every column" in s.value for s in at.success)


def test_a_session_by_turn_from_the_leaderboard_page_is_rated_turn_by_turn(db, tmp_path):
    """The Leaderboard page offers "Rate: single turns" for conversation runs; the Annotate page then shows one
    turn per item after the conversation so far, and a rating click moves on."""
    import json

    import workbench
    from tests.openai_server import OpenAIServer

    rows = [{"turns": [f"c{i} question 0", f"c{i} gold 0", f"c{i} question 1", f"c{i} gold 1"]} for i in range(2)]
    data = tmp_path / "talks.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with OpenAIServer(reply=lambda m: "says " + m[-1]["content"]) as server:
        workbench.evaluate(ROOT / "prompts" / "support_conversation.yaml", data, f"openai:m@{server.base_url}",
                           "exact", db=db)
    lb = page("leaderboard").run()
    lb.radio(key="lb_unit").set_value("turn")
    lb.button[0].click().run()
    assert not lb.exception, [e.value for e in lb.exception]
    with store.connect(db) as con:
        (sid,) = store.list_sessions(con)["id"]
        assert store.get_session(con, sid)["unit"] == "turn"
    at = page("annotate")
    at.query_params["session"] = sid
    at.query_params["annotator"] = "ann"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    heading = at.subheader[0].value
    assert heading.startswith("Item 1 of 4 · turn "), heading
    turn = int(heading.rsplit(" ", 1)[1]) - 1
    shown = [t.value for t in at.text]
    answers = [t for t in shown if t.startswith("says ")]
    assert len(answers) == 1 and answers[0].endswith(f"question {turn}")
    assert "Conversation so far" in [c.value for c in at.caption]
    assert f"Customer: {answers[0][5:]}" in shown  # the question answered here ends the conversation so far
    assert sum(t.startswith("Assistant: ") for t in shown) == turn  # earlier answers (the reference's, gold)
    at.button(key="ann_rate_5").click().run()
    assert not at.exception and at.subheader[0].value.startswith("Item 2 of 4 · turn ")
