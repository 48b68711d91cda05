"""The prompt library: drafts, live preview, saving versions, diffs."""

from __future__ import annotations

import difflib

import pandas as pd
import pytest

from tests.conftest import ROOT
from workbench import store
from workbench.authoring import library
from workbench.authoring.templates import load_prompt
from workbench.errors import TemplateError

DRAFT = {"name": "t", "messages": [{"role": "system", "content": "Be kind."},
                                   {"role": "user", "content": "Hi {{ name }}\n{{ question }}"}]}


def test_prompts_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_PROMPTS", str(tmp_path))
    (tmp_path / "a.yaml").write_text("x", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    assert library.prompts_dir() == tmp_path
    assert [p.name for p in library.list_prompt_files()] == ["a.yaml"]
    prompt, err = library.read_prompt_file(tmp_path / "a.yaml")
    assert prompt is None and isinstance(err, TemplateError)


def test_preview_renders_checks_variables_and_points_at_the_line():
    pv = library.preview(DRAFT, {"name": "Ann", "question": "where?"}, ["name", "question"])
    assert pv.error is None and pv.messages[1]["content"] == "Hi Ann\nwhere?"
    assert pv.required == {"name", "question"}
    assert library.preview(DRAFT, {"name": "Ann"}, ["name"]).missing == ["question"]

    broken = {**DRAFT, "messages": [DRAFT["messages"][0], {"role": "user", "content": "ok\n{% if x %}\nno end"}]}
    pv = library.preview(broken, {}, [])
    # jinja names the line of the block left open
    assert pv.prompt is None and "syntax error" in pv.error.message and pv.error.where.endswith("message 2, line 2")
    assert pv.source_line == "{% if x %}"

    undefined = {**DRAFT, "messages": [{"role": "user", "content": "a\n{{ row.missing.deeper }}"}]}
    pv = library.preview(undefined, {"row": {}}, ["row"])
    assert "undefined" in pv.error.message and pv.source_line == "{{ row.missing.deeper }}"


def test_examples_table_round_trip_and_reorder():
    examples = [{"question": "q1", "answer": "a1"}, {"question": "q2", "answer": "a2"}]
    df = library.examples_table(examples)
    assert list(df.columns) == ["order", "question", "answer"]
    assert library.examples_from_table(df) == examples
    df.loc[0, "order"] = 5  # move the first to the end
    df.loc[len(df)] = [pd.NA, "", ""]  # an added blank row is dropped
    assert library.examples_from_table(df) == examples[::-1]


def test_save_writes_the_file_and_one_version_per_content(tmp_path, db):
    prompt = load_prompt(ROOT / "prompts" / "support_few_shot.yaml")
    saved = library.save_prompt(prompt, db, tmp_path)
    assert saved.new and saved.path == tmp_path / "support_few_shot.yaml"
    assert load_prompt(saved.path).version == prompt.version
    assert not library.save_prompt(prompt, db, tmp_path).new
    prompt.messages[0].content += " Be brief."
    assert library.save_prompt(prompt, db, tmp_path).new
    with store.connect(db) as con:
        versions = store.list_prompt_versions(con, "support_few_shot")
        assert len(versions) == 2
        contents = [store.get_prompt_version(con, h)["content"] for h in versions["hash"]]
    diff = library.version_diff(contents[1], contents[0])
    assert "+" in diff and "Be brief." in diff
    prompt.name = "../escape"
    with pytest.raises(TemplateError):
        library.save_prompt(prompt, db, tmp_path)


def test_overview_lists_files_and_stored_versions(tmp_path, db):
    prompt = load_prompt(ROOT / "prompts" / "support_zero_shot.yaml")
    library.save_prompt(prompt, db, tmp_path)
    (tmp_path / "other.yaml").write_text((ROOT / "prompts" / "support_persona.yaml").read_text(encoding="utf-8"))
    with store.connect(db) as con:
        store.save_prompt_version(con, "gone", None, "f" * 16, "name: gone\nmessages: []\n")
    df = library.overview(db, tmp_path).set_index("file")
    assert df.loc["support_zero_shot.yaml", "saved"] and df.loc["support_zero_shot.yaml", "versions"] == 1
    assert not df.loc["other.yaml", "saved"]
    assert df.loc["(database only)", "name"] == "gone"


def test_save_keeps_the_files_comments_blocks_and_quotes(db, tmp_path):
    source = (ROOT / "prompts" / "support_zh_few_shot.yaml").read_text(encoding="utf-8")
    path = tmp_path / "support_zh_few_shot.yaml"
    path.write_text("# 客服团队维护：改动请先评审\n" + source, encoding="utf-8")
    prompt = load_prompt(path)
    prompt.messages[0].content += "\n\n请使用礼貌用语。"
    prompt.params["max_tokens"] = 200
    library.save_prompt(prompt, db, tmp_path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# 客服团队维护：改动请先评审\n")
    assert "    content: |-\n" in text and "\n\n\n" not in text
    assert "content: '顾客：{{ question }}'" in text  # quoted as written
    changed = [line for line in difflib.ndiff(source.splitlines(), text.splitlines()[1:]) if line[:1] in "+-"]
    assert changed == ["+ ", "+       请使用礼貌用语。", "-   max_tokens: 160", "+   max_tokens: 200"]
    assert load_prompt(path).version == prompt.version


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "prompts").glob("*.yaml")))
def test_saving_an_unchanged_bundled_prompt_rewrites_nothing(db, tmp_path, name):
    source = (ROOT / "prompts" / name).read_text(encoding="utf-8")
    (tmp_path / name).write_text(source, encoding="utf-8")
    library.save_prompt(load_prompt(tmp_path / name), db, tmp_path)
    assert (tmp_path / name).read_text(encoding="utf-8") == source


def test_hostile_yaml_in_the_old_file_is_not_round_tripped(tmp_path):
    from workbench.authoring.yaml_roundtrip import updated_yaml

    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8))
    assert updated_yaml(bomb, {"name": "x"}, "name: x\n") == "name: x\n"  # refused by the limits, never expanded
    assert updated_yaml("- a list\n", {"name": "x"}, "name: x\n") == "name: x\n"
    assert updated_yaml("name: [unclosed\n", {"name": "x"}, "name: x\n") == "name: x\n"
