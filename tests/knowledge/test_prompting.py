"""A prompt's `knowledge:` section: parsed into the Prompt, passages retrieved per row into the render context."""

from __future__ import annotations

import pytest

from workbench import knowledge
from workbench.authoring.templates import load_prompt, parse_prompt
from workbench.errors import TemplateError, UserError

BASE = """
name: t
messages:
  - role: system
    content: "{% for p in passages %}[{{ p.rank }}:{{ p.id }}] {{ p.title }}: {{ p.text }}\\n{% endfor %}"
  - role: user
    content: "{{ question }}"
"""


def test_the_section_is_parsed_with_defaults_and_changes_the_version():
    plain = parse_prompt(BASE.replace("{% for p in passages %}", "{% for p in [] %}"))
    p = parse_prompt(BASE + "knowledge: {base: faq_en}\n")
    assert p.knowledge == {"base": "faq_en", "query": "{{ question }}", "k": 3, "method": "bm25"}
    assert p.variables() == ({"question"}, set())  # passages come from retrieval, not from rows
    assert parse_prompt(BASE + "knowledge: {base: faq_en, k: 1}\n").version != p.version
    assert parse_prompt(p.to_yaml()).knowledge == p.knowledge  # round trip, as stored versions are rebuilt
    assert plain.knowledge is None and "knowledge" not in plain.to_dict()


def test_query_variables_are_required_from_rows():
    p = parse_prompt(BASE + "knowledge: {base: faq_en, query: '{{ topic }} {{ question }}'}\n")
    assert p.variables()[0] == {"question", "topic"}
    assert p.render_query({"topic": "refunds", "question": "when?"}) == "refunds when?"


@pytest.mark.parametrize("section, message", [
    ("knowledge: faq_en", "`knowledge` must be a mapping"),
    ("knowledge: {k: 3}", "needs `base`"),
    ("knowledge: {base: faq_en, k: 0}", "`k` must be 1-50"),
    ("knowledge: {base: faq_en, k: true}", "`k` must be 1-50"),
    ("knowledge: {base: faq_en, method: cosine}", "`method` 'cosine' is not available"),
    ("knowledge: {base: faq_en, top: 3}", "unknown keys: top"),
    ("knowledge: {base: faq_en, query: '{{ question'}", "knowledge.query, line 1: syntax error"),
])
def test_a_bad_section_names_file_and_key(section, message):
    with pytest.raises(TemplateError, match=message) as e:
        parse_prompt(BASE + section + "\n", "prompts/k.yaml")
    assert str(e.value).startswith("prompts/k.yaml: knowledge")


def test_passages_are_retrieved_per_row_and_rendered():
    knowledge.add_base("faq_en", ["datasets/faq_en.jsonl"])
    p = parse_prompt(BASE + "knowledge: {base: faq_en, k: 2}\n")
    rows = [{"question": "How long do refunds take?"}, {"question": "I forgot my password"}]
    passages = knowledge.retrieve_for_rows(p, rows)
    assert [ps[0].id for ps in passages] == ["faq-05", "faq-01"] and len(passages[0]) == 2
    assert len(passages[1]) == 1  # no other entry shares a term with it: a zero score is no passage
    rendered = list(p.render_rows(knowledge.with_passages(r, ps) for r, ps in zip(rows, passages)))
    assert rendered[0][0]["content"].startswith("[1:faq-05] Refunds: Once your return reaches our warehouse")
    assert "[1:faq-01] Resetting your password" in rendered[1][0]["content"]
    assert "passages" not in rows[0]  # the caller's rows are not changed


def test_a_missing_base_is_one_line_naming_the_prompt():
    p = load_prompt("prompts/support_knowledge.yaml")
    with pytest.raises(UserError) as e:
        knowledge.knowledge_version(p)
    assert str(e.value) == ("prompts/support_knowledge.yaml: knowledge.base: no knowledge base 'faq_en' "
                            "(none yet: workbench kb add NAME FILE...)")


@pytest.mark.parametrize("prompt_file, faq, question, gold", [
    ("prompts/support_knowledge.yaml", "datasets/faq_en.jsonl", "Is there a warranty on my headphones?", "faq-11"),
    ("prompts/support_zh_knowledge.yaml", "datasets/faq_zh.jsonl", "运费怎么算？", "faq-08"),
])
def test_bundled_knowledge_prompts(prompt_file, faq, question, gold):
    p = load_prompt(prompt_file)
    knowledge.add_base(p.knowledge["base"], [faq])
    assert knowledge.knowledge_version(p)["k"] == 3
    rows = [{"question": question}]
    passages = knowledge.retrieve_for_rows(p, rows)
    assert passages[0][0].id == gold
    system, user = p.render(knowledge.with_passages(rows[0], passages[0]))
    assert f"[{gold}] " in system["content"] and passages[0][0].text in system["content"]
    assert user["content"] == question
