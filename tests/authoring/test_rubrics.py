"""Rubric files: the bundled ones load and render (English and Chinese), and a bad file is one error naming
file:line."""

from __future__ import annotations

import pytest

from workbench.authoring.rubrics import list_rubrics, load_rubric, parse_rubric
from workbench.errors import TemplateError

GOOD = """name: tone
description: Is it polite?
scale: pass/fail
criteria: |
  pass: polite
  fail: rude
template: |
  Message: {{ question }}
  Answer: {{ answer }}
"""


def test_bundled_rubrics_load_and_render_in_both_languages():
    names = list_rubrics()
    for base in ("correctness", "helpfulness", "faithfulness", "persona"):
        assert base in names and f"{base}_zh" in names
    row = {"question": "q?", "answer": "a.", "reference": "r.", "prompt": "q?", "passages": [{"text": "p1"}]}
    en = load_rubric("correctness").prompt().render(row)
    zh = load_rubric("correctness_zh").prompt().render(row)
    assert "JSON" in en[0]["content"] and "Reference answer: r." in en[1]["content"]
    assert "评审" in zh[0]["content"] and "参考答案：r." in zh[1]["content"]
    assert "[1] p1" in load_rubric("faithfulness").prompt().render(row)[1]["content"]
    pair = load_rubric("helpfulness").pairwise_prompt().render({**row, "answer_a": "x", "answer_b": "y"})
    assert "[Answer A]\nx" in pair[1]["content"] and '"winner"' in pair[0]["content"]


def test_criteria_are_text_not_a_template():
    r = parse_rubric(GOOD.replace("pass: polite", "pass: says {{ please }}"), "t.yaml")
    system = r.prompt().render({"question": "q", "answer": "a"})[0]["content"]
    assert "says {{ please }}" in system


@pytest.mark.parametrize("text, line, words", [
    (GOOD.replace("scale: pass/fail", "scale: 1-10"), 3, "scale"),
    (GOOD.replace("description: Is it polite?\n", "description: x\ncolour: red\n"), 3, "unknown key 'colour'"),
    (GOOD.replace("  Answer: {{ answer }}", "  Answer: {{ answer }"), 9, "syntax error"),
    (GOOD.replace("scale: pass/fail\n", "scale: [1\n"), 4, "invalid YAML"),
    ("name: x\nscale: 1-5\ncriteria: c\n", 1, "`template` is required"),
    (GOOD.replace("lang", "x") + "lang: fr\n", 10, "lang"),
])
def test_a_bad_rubric_names_file_and_line(text, line, words):
    with pytest.raises(TemplateError) as e:
        parse_rubric(text, "prompts/judges/bad.yaml")
    assert e.value.where == f"prompts/judges/bad.yaml:{line}" and words in e.value.message
    assert "\n" not in str(e.value)


def test_an_unknown_rubric_lists_the_known_ones():
    from workbench.errors import UserError

    with pytest.raises(UserError, match="correctness"):
        load_rubric("no_such_rubric")
