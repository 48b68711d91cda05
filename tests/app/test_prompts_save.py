"""The Prompts page's Save: the file it replaces is stored first (history starts with it), a new prompt named
like an existing file asks before replacing it, and a tracked file keeps its mode."""

from __future__ import annotations

import os
import stat

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from workbench import store
from workbench.authoring.templates import load_prompt

APP = ROOT / "workbench" / "app"


@pytest.fixture(autouse=True)
def prompts(tmp_path, monkeypatch):
    folder = tmp_path / "prompts"
    folder.mkdir()
    for name in ("support_few_shot.yaml", "support_zero_shot.yaml"):
        (folder / name).write_text((ROOT / "prompts" / name).read_text(encoding="utf-8"), encoding="utf-8")
        (folder / name).chmod(0o644)
    monkeypatch.setenv("WORKBENCH_PROMPTS", str(folder))
    monkeypatch.setenv("WORKBENCH_DATASETS", str(ROOT / "datasets"))
    monkeypatch.setenv("WORKBENCH_MODELS_DIR", str(tmp_path / "models"))
    return folder


def click(at: AppTest, label: str) -> AppTest:
    next(b for b in at.button if b.label == label).click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_first_save_of_a_bundled_file_keeps_its_mode_and_shows_a_real_diff(prompts, db):
    path = prompts / "support_few_shot.yaml"
    bundled = load_prompt(path).version
    at = AppTest.from_file(str(APP / "views" / "prompts.py"), default_timeout=60).run()
    assert at.selectbox(key="prompt_source").value == "support_few_shot.yaml"
    uid = at.session_state["draft_msgs"][-1]
    at.text_area(key=f"content_{uid}").set_value("Customer: {{ question }}").run()
    old = os.umask(0o077)
    try:
        click(at, "Save as new version")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    with store.connect(db) as con:
        versions = store.list_prompt_versions(con, "support_few_shot")["hash"].tolist()
    assert len(versions) == 2 and versions[1] == bundled  # the bundled version was stored before the edit
    diff = at.code[-1].value
    assert diff != "(identical)" and "+  content: 'Customer: {{ question }}'" in diff


def test_a_new_prompt_named_like_an_unstored_file_asks_first_and_keeps_the_old(prompts, db):
    path = prompts / "support_zero_shot.yaml"
    before = path.read_text(encoding="utf-8")
    old_version = load_prompt(path).version
    at = AppTest.from_file(str(APP / "views" / "prompts.py"), default_timeout=60).run()
    at.selectbox(key="prompt_source").set_value("(new prompt)").run()
    at.text_input(key="draft_name").set_value("support_zero_shot").run()

    click(at, "Save as new version")
    assert any("already exists" in w.value for w in at.warning)
    assert path.read_text(encoding="utf-8") == before  # nothing written yet
    click(at, "Cancel")
    assert not at.warning and path.read_text(encoding="utf-8") == before

    click(at, "Save as new version")
    click(at, "Replace it")
    assert path.read_text(encoding="utf-8") != before
    assert any("Saved version" in s.value for s in at.success)
    with store.connect(db) as con:
        versions = store.list_prompt_versions(con, "support_zero_shot")["hash"].tolist()
        kept = store.get_prompt_version(con, old_version)["content"]
    assert old_version in versions and len(versions) == 2
    assert load_prompt(path).version in versions
    assert "{{ question }}" in kept and kept == load_prompt(ROOT / "prompts" / "support_zero_shot.yaml").to_yaml()


def test_saving_the_file_it_was_opened_from_does_not_ask(prompts, db):
    at = AppTest.from_file(str(APP / "views" / "prompts.py"), default_timeout=60).run()
    at.text_input(key="draft_description").set_value("changed description").run()
    click(at, "Save as new version")
    assert not at.warning and any("No change" in s.value for s in at.success)
    assert "changed description" in (prompts / "support_few_shot.yaml").read_text(encoding="utf-8")
