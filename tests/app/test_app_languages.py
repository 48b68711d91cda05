"""Defaults that follow the language: a Chinese prompt previews on a Chinese row, full-width braces are
pointed out, and the reference column is guessed (and checked) by its name in Chinese too."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from workbench.app import catalog
from workbench.authoring.datasets import guess_reference, load_dataset

APP = ROOT / "workbench" / "app"


@pytest.fixture(autouse=True)
def app_dirs(tmp_path, monkeypatch):
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    for name in ("support_few_shot.yaml", "support_zh_few_shot.yaml"):
        (prompts / name).write_text((ROOT / "prompts" / name).read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setenv("WORKBENCH_PROMPTS", str(prompts))
    monkeypatch.setenv("WORKBENCH_DATASETS", str(ROOT / "datasets"))
    monkeypatch.setenv("WORKBENCH_MODELS_DIR", str(tmp_path / "models"))


def test_a_chinese_prompt_previews_on_a_chinese_row_and_full_width_braces_are_flagged():
    at = AppTest.from_file(str(APP / "views" / "prompts.py"), default_timeout=60).run()
    assert "forgot my password" in at.chat_message[-1].children[0].value.lower()  # English prompt, English row
    at.selectbox(key="prompt_source").set_value("support_zh_few_shot.yaml").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.chat_message[-1].children[0].value == "顾客：忘记密码了怎么办？"  # row 1 of support_zh
    uid = at.session_state["draft_msgs"][-1]
    at.text_area(key=f"content_{uid}").set_value("顾客：｛｛ question ｝｝").run()
    warnings = [w.value.replace("\\", "") for w in at.warning]
    assert any("full-width braces" in w and "write {{ question }} with ASCII braces" in w for w in warnings), warnings
    assert at.chat_message[-1].children[0].value == "顾客：｛｛ question ｝｝"  # sent as typed: hence the warning


def test_the_reference_is_guessed_by_its_chinese_name_and_a_question_column_is_not_all_well(tmp_path):
    path = tmp_path / "faq.csv"
    path.write_text("问题,参考答案\n我在登录页怎么也登不上去，密码也想不起来了，该怎么找回？,点“忘记密码”。\n"
                    "你们的标准快递一般要几天才能送到我家这边？,3到5个工作日。\n", encoding="utf-8")
    ds = load_dataset(path)
    assert guess_reference(ds) == "参考答案"
    ds.reference_field = "参考答案"
    assert catalog.validation_report(ds, {"问题"}).empty
    ds.reference_field = "问题"
    report = catalog.validation_report(ds)
    assert report["problem"].str.contains("named like the question").any()
    assert report["problem"].str.contains("'参考答案'").any()
    assert catalog.validation_report(ds, {"问题"})["problem"].str.contains("sends '问题' to the model").any()
    (tmp_path / "unnamed.csv").write_text("问题,回复内容\n我在登录页怎么也登不上去，密码也想不起来了？,点忘记密码。\n",
                                          encoding="utf-8")
    assert guess_reference(load_dataset(tmp_path / "unnamed.csv")) == "回复内容"  # never the longer question
