import pytest

from workbench.authoring.templates import MAX_RENDERED_CHARS, load_prompt, parse_prompt
from workbench.errors import TemplateError

BASE = """
name: t
messages:
  - role: system
    content: You help.
  - role: user
    content: |-
      {CONTENT}
"""


def prompt(content: str, path: str = "prompts/t.yaml"):
    return parse_prompt(BASE.replace("{CONTENT}", content.replace("\n", "\n      ")), path)


def test_bundled_prompts_parse_and_render():
    from pathlib import Path

    files = sorted(Path("prompts").glob("*.yaml"))
    assert len(files) >= 6
    for f in files:
        p = load_prompt(f)
        if all(m.role == "system" for m in p.messages):  # a prompt for conversations: the turns follow it
            assert p.variables()[0] == set() and p.render({})[0]["role"] == "system", f
            continue
        required, _ = p.variables()
        assert required == {"question"}, f
        row = {"question": "where is my parcel?"} | ({"passages": []} if p.knowledge else {})  # retrieved per row
        messages = p.render(row)
        assert messages[-1]["role"] == "user" and "where is my parcel?" in messages[-1]["content"]


def test_few_shot_as_turns_inserted_after_system():
    p = load_prompt("prompts/support_few_shot.yaml")
    msgs = p.render({"question": "Q?"})
    roles = [m["role"] for m in msgs]
    assert roles == ["system"] + ["user", "assistant"] * len(p.examples) + ["user"]
    assert msgs[2]["content"] == p.examples[0]["answer"]


def test_inline_examples_loop():
    p = load_prompt("prompts/support_zh_few_shot.yaml")
    system = p.render({"question": "你好"})[0]["content"]
    for ex in p.examples:
        assert ex["question"] in system and ex["answer"] in system


def test_variables_required_and_optional():
    p = prompt("{{ question }} {{ name | default('friend') }} {% if extra is defined %}{{ extra }}{% endif %}")
    assert p.variables() == ({"question"}, {"name", "extra"})
    assert p.render({"question": "hi"})[1]["content"] == "hi friend "


def test_version_hash_changes_with_content_not_name():
    a = prompt("{{ question }}")
    b = parse_prompt(a.to_yaml().replace("name: t", "name: renamed"), "x.yaml")
    c = prompt("{{ question }}!")
    assert a.version == b.version != c.version


def test_yaml_round_trip():
    p = load_prompt("prompts/support_few_shot.yaml")
    q = parse_prompt(p.to_yaml(), "copy.yaml")
    assert q.to_dict() == p.to_dict() and q.version == p.version


def test_syntax_error_names_file_message_and_line():
    with pytest.raises(TemplateError) as e:
        prompt("line one\n{{ question }\nline three")
    assert e.value.where == "prompts/t.yaml: message 2, line 2"
    assert "syntax error" in e.value.message


def test_undefined_variable_names_line():
    p = prompt("ok {{ question }}\nthen {{ user.name }}")
    with pytest.raises(TemplateError) as e:
        p.render({"question": "q"})
    assert e.value.where == "prompts/t.yaml: message 2, line 2"
    assert "user" in e.value.message


@pytest.mark.parametrize("source", [
    "{{ ''.__class__.__mro__ }}",
    "{{ question.__class__.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os }}",
])
def test_sandbox_escape_blocked(source):
    p = prompt(source)
    with pytest.raises(TemplateError) as e:
        p.render({"question": "q"})
    assert e.value.where.startswith("prompts/t.yaml: message 2")


@pytest.mark.parametrize("source", [
    "{{ 'a' * 50000000 }}",
    "{% for i in range(50000) %}{{ 'abcdefghij' * 100 }}{% endfor %}",
    "{{ 'a' * 10 ** 12 }}",
    "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
])
def test_huge_or_slow_output_is_refused(source):
    p = prompt(source)
    with pytest.raises(TemplateError) as e:
        p.render({"question": "q"})
    assert "message 2" in e.value.where


def test_render_cap_is_total_across_messages():
    text = "x" * (MAX_RENDERED_CHARS // 2 + 10)
    p = parse_prompt("name: t\nmessages:\n  - role: system\n    content: '{{ a }}'\n  - role: user\n    content: '{{ a }}'\n", "p.yaml")
    with pytest.raises(TemplateError):
        p.render({"a": text})


def test_rows_render_as_one_by_one_with_row_independent_parts_once():
    p = parse_prompt("name: t\nexamples: [{q: 'Q1', a: 'A1'}]\nmessages:\n"
                     "  - role: system\n    content: 'Answer like {% for e in examples %}{{ e.a }}{% endfor %}.'\n"
                     "  - role: user\n    content: '{{ question }}'\n", "p.yaml")
    rows = [{"question": f"q{i}"} for i in range(5)]
    together = list(p.render_rows(rows))
    assert together == [p.render(r) for r in rows]
    assert together[0][0] == {"role": "system", "content": "Answer like A1."}
    assert together[0][0]["content"] is together[4][0]["content"]  # rendered once
    together[0][0]["content"] = "mutated by a caller"
    assert together[1][0]["content"] == "Answer like A1."


def test_render_cap_counts_row_independent_messages():
    half = MAX_RENDERED_CHARS // 2 + 10
    p = parse_prompt(f"name: t\nmessages:\n  - role: system\n    content: \"{{{{ 'x' * {half} }}}}\"\n"
                     "  - role: user\n    content: '{{ a }}'\n", "p.yaml")
    assert len(p.render({"a": "short"})[0]["content"]) == half
    with pytest.raises(TemplateError) as e:
        p.render({"a": "y" * half})
    assert "exceeds" in e.value.message


@pytest.mark.parametrize("text, where", [
    ("name: x\nmessages: []\n", "p.yaml"),
    ("name: x\nmessages:\n  - role: robot\n    content: hi\n", "p.yaml: message 1"),
    ("name: x\nmessages:\n  - role: user\n    content: [1\n", "p.yaml:5"),
    ("name: x\nfoo: 1\nmessages:\n  - role: user\n    content: hi\n", "p.yaml"),
])
def test_structure_errors_name_the_place(text, where):
    with pytest.raises(TemplateError) as e:
        parse_prompt(text, "p.yaml")
    assert e.value.where == where


def test_example_turns_follow_edits_to_the_examples():
    p = load_prompt("prompts/support_few_shot.yaml")
    before = p.render({"question": "Q?"})
    p.examples[0]["answer"] = "Changed answer."
    after = p.render({"question": "Q?"})
    assert before[2]["content"] != "Changed answer." and after[2]["content"] == "Changed answer."
    after[2]["content"] = "mutated by a caller"
    assert p.render({"question": "Q?"})[2]["content"] == "Changed answer."


def test_variable_places_name_message_and_line():
    from workbench.authoring.templates import parse_prompt

    prompt = parse_prompt("name: p\nmessages:\n  - role: system\n    content: \"Shop {{ shop }}\"\n"
                          "  - role: user\n    content: \"a\\n{{ question }} {{ shop }}\\n{% if x is defined %}{{ x }}"
                          "{% endif %}\"\n")
    assert prompt.variable_places({"shop", "question", "x", "nowhere"}) == {
        "nowhere": [], "question": ["message 2, line 2"], "shop": ["message 1, line 1", "message 2, line 2"],
        "x": ["message 2, line 3"]}


def test_eval_names_the_line_of_a_missing_variable(cli, tmp_path):
    from tests.conftest import DATA_EN

    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nmessages:\n  - role: user\n    content: |-\n      Hi\n      {{ foo }}\n", encoding="utf-8")
    res = cli("eval", bad, "--data", DATA_EN, "--model", "openai:x@http://127.0.0.1:9/v1")
    assert res.code == 2
    assert (f"{DATA_EN}: missing column 'foo' (message 1, line 2) needed by {bad} (the file has: id, intent, faq_id, "
            "question, reference, split)") in res.err, res.err


def test_a_missing_reference_column_suggests_the_flag(cli, tmp_path):
    from tests.conftest import ROOT

    res = cli("eval", ROOT / "prompts" / "support_zero_shot.yaml", "--data", ROOT / "datasets" / "faq_en.jsonl",
              "--where", "id == 'faq-01'", "--model", "openai:x@http://127.0.0.1:9/v1")
    assert res.code == 2
    assert "missing columns 'question' (message 2, line 1), 'reference' needed by" in res.err and "--reference FIELD" in res.err, res.err
    assert "(the file has: id, title, text)" in res.err


@pytest.mark.parametrize("source", ["{{ question }}", "Customer: {{ question }}\n", "{{a}} and {{ b }}!\n\n", "",
                                    "plain text", "{{ question }} {{ examples }}", "{{ n }}", "{{ missing }}"])
def test_plain_templates_substitute_as_jinja_renders(source):
    """`{{ name }}` templates are filled by substitution (the cached re-run renders 10,000 rows): the same text as
    Jinja, and Jinja's own error or rendering for anything else (a missing or non-string value, `examples`)."""
    from workbench.authoring import sandbox
    from workbench.authoring.templates import _compile, _render_one, _substitute

    row = {"question": "Where is my order? 订单", "a": "x\n", "b": "", "n": 3, "examples": "row's own"}
    where = "p.yaml: message 1"
    sandbox.start()
    try:
        want = _render_one(_compile(source, where), {**row, "examples": [{"q": 1}]}, where, 0)
    except TemplateError as e:
        want = e
    got = _substitute(source, where, row, 0)
    if isinstance(want, TemplateError) or source in ("{{ n }}", "{{ question }} {{ examples }}"):
        assert got is None  # left to Jinja
    else:
        assert got == want
    assert _substitute("{{ question }}", where, row, 0) is not None
    assert _substitute("{{ question }}", where, row, MAX_RENDERED_CHARS - 3) is None  # Jinja says the limit


def test_prompt_rows_render_the_same_through_substitution():
    p = parse_prompt("name: t\nmessages:\n  - role: user\n    content: \"Q: {{ question }}\\n\"\n", "p.yaml")
    rows = [{"question": "a"}, {"question": 5}, {"question": "c\u0301"}]
    assert list(p.render_rows(rows)) == [[{"role": "user", "content": "Q: a"}], [{"role": "user", "content": "Q: 5"}],
                                         [{"role": "user", "content": "Q: c\u0301"}]]
