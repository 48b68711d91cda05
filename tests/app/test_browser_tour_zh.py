"""The tour in the Chinese interface, in a real Chromium whose language is zh-CN (no WORKBENCH_LANG: the app
takes the browser's language): every page, with no English left in the navigation, the buttons or the rubric,
on the Chinese dataset and prompts with the local model. Screenshots of each step go to test-artifacts/tour-zh/
(make browser installs fonts-noto-cjk, so they show what a Chinese user sees)."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess

import pytest

from tests.app.test_browser_tour import choose, keep_only, shown_value, wait_for_runs
from tests.browser import ARTIFACTS, app_server, chromium, settle
from tests.conftest import ROOT
from workbench import store
from workbench.rating.annotation import RUBRICS_ZH

pytestmark = pytest.mark.browser

TOUR = ARTIFACTS / "tour-zh"
VARIANTS = ["support_zh_zero_shot", "support_zh_few_shot"]
ROWS = 8  # of the test split: enough for a session, short on 2 cores
# English that may stay: file names and model specs the user chose, and Streamlit's own widget parts.
NAMES = re.compile(r"[\w.\-/:@]+\.(?:csv|jsonl|parquet|yaml)\b|hf:\S+|support_zh\w*|results-[\w-]+")


def shot(page, name: str) -> None:
    TOUR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(TOUR / f"{name}.png"), full_page=True)


def english(texts: list[str]) -> list[str]:
    """The texts that still hold a word of English (two letters or more, past file names and model specs)."""
    return [t for t in texts if re.search(r"[A-Za-z]{2,}", NAMES.sub("", t))]


def texts(page, selector: str) -> list[str]:
    """The texts of the elements, without their icons (a Material icon is its name in letters: `edit_note`)."""
    return page.locator(selector).evaluate_all(
        "els => els.map(e => { const c = e.cloneNode(true);"
        " c.querySelectorAll('[data-testid=\"stIconMaterial\"]').forEach(i => i.remove());"
        " return c.textContent.trim(); })")


def no_english_left(page, where: str) -> None:
    """Navigation links, the page's buttons and the sidebar: all Chinese."""
    nav = texts(page, '[data-testid="stSidebarNav"] a')
    # An icon-only button carries Streamlit's screen-reader name of its icon ("delete icon"), never shown.
    buttons = [b for b in texts(page, '[data-testid="stMain"] button') if b and not re.fullmatch(r"\w+ icon", b)]
    assert len(nav) == 9 and english(nav) == [], (where, nav)
    assert english(buttons) == [], (where, buttons)


def goto(page, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title).click()
    page.get_by_role("heading", name=title).first.wait_for()
    settle(page)


def test_the_tour_in_chinese(tmp_path):
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    for name in VARIANTS:
        shutil.copy(ROOT / "prompts" / f"{name}.yaml", prompts)
    db = str(tmp_path / "wb.duckdb")
    env = {"WORKBENCH_PROMPTS": str(prompts), "WORKBENCH_DATASETS": str(ROOT / "datasets"),
           "WORKBENCH_MODELS_DIR": "models", "WORKBENCH_LANG": ""}
    fonts = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True).stdout.strip()
    shutil.rmtree(TOUR, ignore_errors=True)  # no screenshot or failure note of an earlier run left beside these
    TOUR.mkdir(parents=True)
    (TOUR / "fonts.txt").write_text(fonts or "no CJK font: run `make browser` (fonts-noto-cjk)\n", encoding="utf-8")
    with app_server(db, env) as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1440, "height": 2000}, locale="zh-CN")
        page.set_default_timeout(30_000)
        try:
            tour(page, url, db)
        except Exception as e:
            shot(page, "failure")
            (TOUR / "failure.txt").write_text(f"{type(e).__name__}: {e}", encoding="utf-8")
            raise


def tour(page, url: str, db: str) -> None:
    # Prompts, in the browser's language: the Chinese prompt previewed on a row.
    page.goto(url)
    page.get_by_role("heading", name="提示词").first.wait_for()
    settle(page)
    assert "简体中文" in shown_value(page, "stSelectbox", "Language · 语言")
    choose(page, "打开", "support_zh_zero_shot.yaml")
    page.get_by_role("button", name="另存为新版本").wait_for()
    no_english_left(page, "Prompts")
    shot(page, "1-prompts")

    # Datasets: the Chinese dataset, validated.
    goto(page, "数据集")
    choose(page, "数据集", "support_zh.jsonl")
    page.get_by_text("校验").first.wait_for()
    no_english_left(page, "Datasets")
    shot(page, "2-datasets")

    # Models: the local model is the default.
    goto(page, "模型")
    page.get_by_text("默认模型：").first.wait_for()
    no_english_left(page, "Models")
    shot(page, "3-models")

    # Run: both Chinese variants, the local model, the test split of support_zh.jsonl.
    goto(page, "运行")
    keep_only(page, "提示词版本", [f"{v}.yaml (文件)" for v in VARIANTS])
    assert "hf:models/support-tiny-zh" in shown_value(page, "stMultiSelect", "模型")  # the Chinese interface's default
    choose(page, "数据集", "support_zh.jsonl")
    page.get_by_role("textbox", name="行筛选（可选）").fill("split == 'test'")
    page.get_by_role("spinbutton", name="行数上限（0 = 全部行）").fill(str(ROWS))
    no_english_left(page, "Run form")
    shot(page, "4-run-form")
    page.get_by_role("button", name="开始", exact=True).click()
    # Two runs started, even when creating them takes longer than the page waits (jobs.Jobs.start: 30 s) on a
    # loaded machine; the runs themselves are awaited in the database.
    page.get_by_text("已启动 2 个运行").wait_for(timeout=300_000)
    wait_for_runs(db, 2, timeout=600)
    with store.connect(db) as con:
        runs = store.list_runs(con)
    assert sorted(runs["prompt_name"]) == sorted(VARIANTS) and set(runs["n_outputs"]) == {ROWS}
    assert set(runs["model_spec"]) == {"hf:models/support-tiny-zh"}  # the local model that speaks Chinese
    page.reload()
    page.get_by_role("heading", name="运行").first.wait_for()
    settle(page)
    no_english_left(page, "Run done")
    shot(page, "5-run-done")

    # Compare: the grid and the statistics, in Chinese.
    goto(page, "对比")
    page.locator("table.wb-grid").wait_for()
    assert page.locator("table.wb-grid th").nth(1).inner_text() == "输入"
    page.get_by_role("heading", name="哪个变体更好？").wait_for()
    no_english_left(page, "Compare")
    shot(page, "6-compare")

    # Leaderboard: a pairwise session with the Chinese rubric and tags.
    goto(page, "排行榜")
    keep_only(page, "运行（变体）", VARIANTS)
    page.get_by_text("成对比较", exact=True).click()
    settle(page)
    rubric = page.get_by_role("textbox", name="给标注者看的评分标准")
    assert rubric.input_value() == RUBRICS_ZH["pairwise"]
    no_english_left(page, "Leaderboard form")
    page.get_by_role("button", name="创建会话").click()
    page.get_by_role("link", name="到“标注”页面评分").wait_for()
    settle(page)
    shot(page, "7-session-created")

    # Annotate: the buttons and the rubric in Chinese; rate with the keys.
    page.get_by_role("link", name="到“标注”页面评分").click()
    page.get_by_role("heading", name="标注").first.wait_for()
    settle(page)
    page.get_by_role("textbox").first.fill("导览")
    page.keyboard.press("Enter")
    settle(page)
    heading = page.get_by_role("heading", name=re.compile(rf"第 \d+ 项，共 {ROWS} 项"))
    heading.wait_for()
    settle(page)
    for label in ("A 更好", "B 更好", "平局", "都不好", "停止评分"):
        button = page.get_by_role("button", name=label)
        button.first.wait_for()
        assert button.count() == 1, label
    page.get_by_text(RUBRICS_ZH["pairwise"]).wait_for()
    no_english_left(page, "Annotate")
    shot(page, "8-annotate")
    for n in range(4):
        settle(page)
        heading.click()
        page.keyboard.press("abta"[n])
        page.get_by_text("你的条目已全部评完").or_(page.get_by_role(
            "heading", name=re.compile(rf"第 \d+ 项，共 {ROWS} 项"))).first.wait_for()
    with store.connect(db) as con:
        sid = store.list_sessions(con)["id"].iloc[0]
        assert len(store.load_ratings(con, [sid])) == 4

    goto(page, "排行榜")
    page.get_by_text("按成对投票给变体排名").wait_for()
    page.get_by_test_id("stDataFrame").first.wait_for()
    no_english_left(page, "Leaderboard")
    shot(page, "9-leaderboard")

    # Export: the bundle and the results file.
    goto(page, "导出")
    keep_only(page, "运行（变体）", VARIANTS)
    page.get_by_role("button", name="写入提示词文件夹").click()
    page.get_by_text("已写入").wait_for()
    page.get_by_role("button", name="生成文件").click()
    download = page.get_by_role("button", name=re.compile(r"下载 results-.*\.csv"))
    no_english_left(page, "Export")
    with page.expect_download() as dl:
        download.click()
    with open(dl.value.path(), encoding="utf-8-sig") as f:
        records = list(csv.DictReader(f))
    assert len(records) == 2 * ROWS and {r["split"] for r in records} == {"test"}
    shot(page, "10-export")
