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
