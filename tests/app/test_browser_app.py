"""The app end to end in a real Chromium: edit a template and watch the preview, save a version, run a
small eval against an OpenAI-protocol server on 127.0.0.1, read the results in Compare (where a hostile
output stays inert), and export the best prompt. Screenshots go to test-artifacts/."""

from __future__ import annotations

import json
import shutil
import time

import pytest

from tests.browser import app_server, chromium, screenshot
from tests.conftest import DATA_EN, ROOT
from tests.openai_server import OpenAIServer, answers_from_jsonl
from workbench import store

pytestmark = pytest.mark.browser

HOSTILE = ('<script>window.__pwned = 1</script> ![pwn](http://127.0.0.1:9/pwned.png) '
           '<img src="http://127.0.0.1:9/pwned2.png" onerror="window.__pwned = 2"> **bold** [link](javascript:alert(1))')


def wait_for_runs(db: str, n: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with store.connect(db) as con:
            runs = store.list_runs(con)
        if len(runs) >= n and (runs["status"] != "running").all():
            return
        assert time.monotonic() < deadline, runs.to_string()
        time.sleep(0.5)


def goto(page, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title).click()
    page.get_by_role("heading", name=title).first.wait_for()


def test_author_run_compare_export(tmp_path):
    prompts, datasets = tmp_path / "prompts", tmp_path / "datasets"
    prompts.mkdir(), datasets.mkdir()
    shutil.copy(ROOT / "prompts" / "support_zero_shot.yaml", prompts)
    rows = [json.loads(line) for line in DATA_EN.read_text(encoding="utf-8").splitlines()[:6]]
    (datasets / "support_small.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    known = answers_from_jsonl(str(DATA_EN))
    first_question = rows[0]["question"]

    def reply(messages):  # a perfect model, except one hostile answer
        last = messages[-1]["content"]
        return HOSTILE if first_question in last else known(messages)

    db = str(tmp_path / "wb.duckdb")
    env = {"WORKBENCH_PROMPTS": str(prompts), "WORKBENCH_DATASETS": str(datasets),
           "WORKBENCH_MODELS_DIR": str(tmp_path / "models")}
    with OpenAIServer(reply=reply) as server, app_server(db, env) as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1500, "height": 2000})
        page.set_default_timeout(30_000)
        page.goto(url)
        page.get_by_role("heading", name="Prompts").wait_for()
        bubbles = page.locator('[data-testid="stChatMessage"]')
        bubbles.last.get_by_text(first_question).wait_for()
        screenshot(page, "app-1-prompts")

        # Edit the user template: the preview follows.
        editor = page.get_by_label("Message 2")
        editor.fill("Customer: {{ question }}")
        editor.press("Control+Enter")
        bubbles.last.get_by_text(f"Customer: {first_question}").wait_for()
        screenshot(page, "app-2-edited")

        # Save: a new version in the database and in the file.
        page.get_by_role("button", name="Save as new version").click()
        page.get_by_text("Saved version").wait_for()
        assert "Customer: {{ question }}" in (prompts / "support_zero_shot.yaml").read_text(encoding="utf-8")
        with store.connect(db) as con:
            assert len(store.list_prompt_versions(con, "support_zero_shot")) == 2  # the file as it was, then the edit

        # Run it against the loopback server.
        goto(page, "Run")
        page.get_by_label("Other model spec (optional)").fill(f"openai:test@{server.base_url}")
        page.get_by_label("Row limit (0 = all rows)").fill("6")
        page.get_by_role("button", name="Start", exact=True).click()
        try:
            page.get_by_text("Started 1 run").wait_for()
        except Exception:
            screenshot(page, "app-failure")
            raise
        wait_for_runs(db, 1)
        screenshot(page, "app-3-run")

        # Compare: the grid shows the six items, the hostile output as plain text.
        goto(page, "Compare")
        grid = page.locator("table.wb-grid")
        grid.wait_for()
        assert grid.locator("tbody tr").count() == 6
        grid.get_by_text("<script>window.__pwned = 1</script>", exact=False).wait_for()
        assert "![pwn](http://127.0.0.1:9/pwned.png)" in grid.inner_text()
        assert "**bold**" in grid.inner_text()
        assert page.evaluate("window.__pwned") is None
        assert page.locator('img[src*="pwned"]').count() == 0
        assert page.locator("table.wb-grid script, table.wb-grid a, table.wb-grid strong").count() == 0
        screenshot(page, "app-4-compare")

        search = page.get_by_label("Search input, reference and outputs")
        search.fill("pwned")
        search.press("Enter")
        page.wait_for_function("document.querySelectorAll('table.wb-grid tbody tr').length === 1")
        assert first_question in grid.inner_text()
        screenshot(page, "app-5-compare-search")

        # Export: the best prompt as a download and written to the prompts directory.
        goto(page, "Export")
        with page.expect_download() as dl:
            page.get_by_role("button", name="Download the bundle").click()
        text = open(dl.value.path(), encoding="utf-8").read()
        assert text.startswith("# workbench best-prompt bundle") and "Customer: {{ question }}" in text
        page.get_by_role("button", name="Write it to").click()
        page.get_by_text("Wrote").wait_for()
        assert (prompts / "support_zero_shot.best.yaml").exists()
        screenshot(page, "app-6-export")

        # The remaining pages draw in the browser too (screenshots for review).
        goto(page, "Datasets")
        page.get_by_text("Upload a file").click()
        upload = tmp_path / "upload.csv"
        upload.write_text("question,reference\nHow do I pay?,By card.\nWhere is my order?,\n", encoding="utf-8")
        page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(upload))
        page.get_by_text("1 problem").wait_for()  # the empty reference on data row 2
        page.get_by_role("button", name="Keep this dataset in the workbench").click()
        page.get_by_text("Stored as upload").wait_for()
        with store.connect(db) as con:
            assert store.list_datasets(con).query("name == 'upload'")["n_rows"].tolist() == [2]
        screenshot(page, "app-7-datasets")
        goto(page, "Models")
        page.get_by_text("OPENAI_API_KEY is not set").wait_for()
        screenshot(page, "app-8-models")
        assert page.evaluate("window.__pwned") is None
