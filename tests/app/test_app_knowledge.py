"""The Knowledge page (AppTest and Chromium): the bases, their chunks, a query with its scores, the prompts
that use a base, files added by upload; and the passages under each answer of a knowledge run in Compare."""

from __future__ import annotations

import shutil

import pytest
from streamlit.testing.v1 import AppTest

from tests.browser import app_server, chromium, screenshot, settle
from tests.conftest import DATA_EN, ROOT
from workbench import knowledge, store
from workbench.authoring import library
from workbench.errors import UserError

APP = ROOT / "workbench" / "app"
FAQ_EN = ROOT / "datasets" / "faq_en.jsonl"


@pytest.fixture
def prompts(tmp_path, monkeypatch):
    folder = tmp_path / "prompts"
    folder.mkdir()
    for name in ("support_knowledge.yaml", "support_zero_shot.yaml"):
        shutil.copy(ROOT / "prompts" / name, folder / name)
    monkeypatch.setenv("WORKBENCH_PROMPTS", str(folder))
    monkeypatch.setenv("WORKBENCH_DATASETS", str(ROOT / "datasets"))
    return folder


def page() -> AppTest:
    return AppTest.from_file(str(APP / "views" / "knowledge.py"), default_timeout=60)


def test_add_uploads_keeps_file_names_and_refuses_tricks(db):
    content = FAQ_EN.read_bytes()
    added = knowledge.add_uploads("faq", [("../../faq_en.jsonl", content)], db=db)
    assert added.new_version and added.n_chunks == len(content.decode().strip().splitlines())
    assert knowledge.list_bases(db)[0]["sources"][0]["file"] == "faq_en.jsonl"  # no path, the name alone
    assert knowledge.show_base("faq", db=db)["chunks"][1]["source"] == "faq_en.jsonl:2"  # not the temporary file
    same = knowledge.add_uploads("faq", [("faq_en.jsonl", content)], db=db)
    assert not same.new_version and same.version == added.version  # by name and content, like `kb add`
    with pytest.raises(UserError, match="two files named 'a.md'"):
        knowledge.add_uploads("faq", [("a.md", b"# A\ntext"), ("x/a.md", b"# B\ntext")], db=db)


def test_prompts_using_a_base(prompts):
    assert library.prompts_using_base("faq_en") == [
        {"file": "support_knowledge.yaml", "prompt": "support_knowledge", "method": "bm25", "k": 3}]
    assert library.prompts_using_base("other") == []


def test_page_shows_bases_chunks_queries_and_prompts(db, prompts):
    at = page().run()
    assert not at.exception
    assert any("No knowledge bases yet" in i.value for i in at.info)
    knowledge.add_base("faq_en", [str(FAQ_EN)], db=db)
    at = page().run()
    assert not at.exception, [e.value for e in at.exception]
    bases, used_by = at.dataframe[0].value, at.dataframe[1].value
    assert list(bases["base"]) == ["faq_en"] and bases["chunks"][0] > 10
    assert list(used_by["file"]) == ["support_knowledge.yaml"]
    chunks = at.dataframe[-1].value
    assert chunks["id"][0] == "faq-01" and len(chunks) == bases["chunks"][0] == 18
    at.text_input(key="kb_query").set_value("How long do refunds take?").run()
    found = at.dataframe[2].value
    assert found["id"][0] == "faq-05" and list(found["rank"]) == [1, 2, 3, 4, 5]
    assert (found["score"].diff().dropna() <= 0).all()  # best first, BM25 scores shown
    at.text_input(key="kb_query").set_value("zzzz qqqq").run()
    assert any("No chunk shares a term" in c.value for c in at.caption)


@pytest.mark.browser
def test_knowledge_page_and_compare_passages_in_chromium(tmp_path, prompts):
    from tests.openai_server import OpenAIServer
    from workbench.cli.main import main

    db = str(tmp_path / "wb.duckdb")
    faq = tmp_path / "faq_en.jsonl"
    shutil.copy(FAQ_EN, faq)
    data = tmp_path / "small.jsonl"
    data.write_text("".join(line + "\n" for line in DATA_EN.read_text(encoding="utf-8").splitlines()[:3]))
    env = {"WORKBENCH_PROMPTS": str(prompts), "WORKBENCH_DATASETS": str(tmp_path / "none"),
           "WORKBENCH_MODELS_DIR": str(tmp_path / "models")}
    with app_server(db, env) as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        page.set_default_timeout(30_000)
        page.goto(url)
        page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Knowledge").click()
        page.get_by_role("heading", name="Knowledge").first.wait_for()
        page.get_by_text("No knowledge bases yet").wait_for()
        settle(page)
        page.get_by_label("Base name").fill("faq_en")
        page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(faq))
        settle(page)
        page.get_by_role("button", name="Add", exact=True).click()
        page.get_by_text("faq_en: 18 chunks").wait_for()
        assert knowledge.list_bases(db)[0]["name"] == "faq_en"
        settle(page)
        tables = page.locator('[data-testid="stDataFrame"]')
        tables.nth(1).get_by_text("support_knowledge.yaml").wait_for(state="attached")  # the prompt that uses it
        query = page.get_by_role("textbox", name="Query")
        query.fill("How long do refunds take?")
        query.press("Enter")
        settle(page)
        tables.nth(3).wait_for()  # bases, prompts, the query's results, chunks
        results = tables.nth(2)
        results.get_by_text("faq-05").first.wait_for(state="attached")  # the refunds entry, ranked
        assert results.locator('[data-testid="glide-cell-1-0"]').text_content() == "faq-05"
        screenshot(page, "knowledge-1-page")

        with OpenAIServer(reply=lambda messages: "Refunds take 5 days.") as server:  # a knowledge run
            assert main(["eval", str(prompts / "support_knowledge.yaml"), "--data", str(data), "--model",
                         f"openai:test@{server.base_url}", "--db", db, "--json"]) == 0
        with store.connect(db) as con:
            assert store.list_runs(con)["status"].tolist() == ["done"]
        page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Compare").click()
        grid = page.locator("table.wb-grid")
        grid.wait_for()
        summary = grid.locator("details.psg summary").first
        assert summary.inner_text().startswith("passages: faq-01")  # row 1 asks about a password
        summary.click()
        grid.get_by_text("If you can't remember your password", exact=False).first.wait_for()
        screenshot(page, "knowledge-2-compare-passages")
