"""Nothing the app serves reaches beyond the machine, and user-supplied names stay text.

Every request the page makes goes through Playwright's router: loopback requests go on (and are recorded),
anything else is recorded and aborted. Prompt names and model specs written to break out of a code span
(`![x](http://127.0.0.9:PORT/…)` between backticks) are shown on Run and Export: the image host, a real
server on another loopback address that records what it is asked, must see nothing."""

from __future__ import annotations

import http.server
import threading
from contextlib import contextmanager
from urllib.parse import urlsplit

import duckdb
import pytest

from tests.annotation_runs import make_runs
from tests.browser import app_server, chromium, free_port, screenshot
from tests.conftest import ROOT

pytestmark = pytest.mark.browser

PAGES = ["Prompts", "Datasets", "Models", "Run", "Compare", "Export", "Annotate", "Leaderboard"]


@contextmanager
def pixel_server():
    """An image host on 127.0.0.9 that records every path it is asked for."""
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.9", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.9:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def watched_page(browser, requests: dict[str, list[str]]):
    """A page whose requests are recorded: loopback ones continue, others are aborted."""
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.set_default_timeout(30_000)

    def route(r):
        url = r.request.url
        host = urlsplit(url).hostname or ""
        if host == "localhost" or host.startswith("127."):
            requests["loopback"].append(url)
            r.continue_()
        else:
            requests["outside"].append(url)
            r.abort()

    page.route("**/*", route)
    return page


def goto(page, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title).click()
    page.get_by_role("heading", name=title).first.wait_for()


def app_env(tmp_path) -> dict[str, str]:
    return {"WORKBENCH_PROMPTS": str(ROOT / "prompts"), "WORKBENCH_DATASETS": str(ROOT / "datasets"),
            "WORKBENCH_MODELS_DIR": str(tmp_path / "models")}


def test_visiting_every_page_makes_no_request_outside_the_machine(tmp_path):
    db = str(tmp_path / "wb.duckdb")
    make_runs(db, [("support_few_shot", "openai:a"), ("support_zero_shot", "openai:b")], n_rows=4)
    requests = {"loopback": [], "outside": []}
    with app_server(db, app_env(tmp_path)) as url, chromium() as browser:
        page = watched_page(browser, requests)
        page.goto(url)
        page.get_by_role("heading", name="Prompts").wait_for()
        for title in PAGES:
            goto(page, title)
            page.wait_for_load_state("networkidle")
        screenshot(page, "network-every-page")
    assert requests["loopback"], "the router saw the app's own requests"
    assert requests["outside"] == []


def hostile_runs(db: str, image_host: str) -> tuple[str, str]:
    """Two stored runs whose prompt name and model spec try to close the code span they are shown in;
    one of them stopped halfway (the Run page lists it with a Resume button)."""
    name = f"few`![p]({image_host}/prompt.png)`x"
    spec = f"openai:m`![m]({image_host}/model.png)`"
    runs = make_runs(db, [("support_few_shot", "openai:good"), ("support_zero_shot", "openai:other")], n_rows=4)
    with duckdb.connect(db) as con:
        con.execute("UPDATE runs SET prompt_name = ?, model_spec = ? WHERE id = ?", [name, spec, runs[0]])
        con.execute("UPDATE runs SET prompt_name = ?, model_spec = ?, status = 'interrupted', n_rows = 8 "
                    "WHERE id = ?", [name + "2", spec, runs[1]])
    return name, spec


def test_names_with_image_links_stay_text_on_run_and_export(tmp_path):
    db = str(tmp_path / "wb.duckdb")
    requests = {"loopback": [], "outside": []}
    with pixel_server() as (image_host, seen):
        name, spec = hostile_runs(db, image_host)
        with app_server(db, app_env(tmp_path)) as url, chromium() as browser:
            page = watched_page(browser, requests)
            page.goto(url)
            page.get_by_role("heading", name="Prompts").wait_for()
            goto(page, "Run")
            page.get_by_role("button", name="Resume").wait_for()
            page.wait_for_load_state("networkidle")
            assert name + "2" in page.locator('[data-testid="stMain"]').inner_text()
            screenshot(page, "injection-run")
            goto(page, "Export")
            page.get_by_text("Best:").wait_for()
            page.wait_for_load_state("networkidle")
            best = page.locator('[data-testid="stMarkdownContainer"]', has_text="Best:").inner_text()
            assert name in best and spec in best, best
            screenshot(page, "injection-export")
            goto(page, "Compare")
            page.locator("table.wb-grid").wait_for()
            # the score chart, an SVG drawn by the server: kept whole by the Markdown it is shown in, the names
            # in its tooltips as text
            chart = page.locator('[data-testid="stMarkdownContainer"] svg.wb-chart')
            chart.locator("path").nth(1).wait_for(state="attached")
            assert chart.locator("path").count() == 2
            tip = chart.locator("circle > title").first.text_content()
            assert tip.startswith(f"A · {name}2@") and f" × {spec} (" in tip, tip
            page.wait_for_load_state("networkidle")
            screenshot(page, "injection-compare")
            assert page.locator('img[src*="127.0.0.9"]').count() == 0
    assert seen == []
    assert not [u for u in requests["loopback"] if "127.0.0.9" in u]
    assert requests["outside"] == []
