"""promptfoo import: a config in the shapes promptfoo documents -> files -> an eval against the loopback server,
with the report listing exactly what did not translate."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
import yaml

from tests.openai_server import OpenAIServer
from workbench.errors import UserError
from workbench.importers import import_promptfoo
from workbench.importers.promptfoo_asserts import expected_assertion

CONFIG = """
description: Support answers
prompts:
  - 'Answer briefly: {{ question }}'
  - file://prompts/support.txt
  - file://prompts/chat.json
  - id: file://prompts/loader.txt
    label: with_load
  - file://prompts/build.py:make_prompt
providers:
  - id: openai:chat:support-model
    config:
      apiBaseUrl: {base_url}
      temperature: 0
      max_tokens: 64
  - anthropic:messages:claude-sonnet
defaultTest:
  assert:
    - type: not-contains
      value: As an AI
    - type: javascript
      value: output.length < 500
tests:
  - vars:
      question: What are your hours?
    assert:
      - type: icontains
        value: "{{ expected_word }}"
      - type: llm-rubric
        value: is polite
  - file://tests.csv
sharing: false
"""
CSV = """question,expected_word,__expected,__expected2
Where is my refund?,refund,contains: refund,
Can I return shoes?,return,"contains-any: return,exchange",javascript: output.includes('x')
Say OK,ok,OK,
"""


def _write_config(tmp_path, base_url: str):
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "support.txt").write_text(
        "You are a support agent. {{ question }}\n---\nCustomer asks: {{ question | upper }}\n")
    (tmp_path / "prompts" / "chat.json").write_text(json.dumps([
        {"role": "system", "content": "You answer for Northwind."},
        {"role": "user", "content": "{{ question }} (data: {{ question | dump }})"}]))
    (tmp_path / "prompts" / "loader.txt").write_text("Context: {{ 'faq.txt' | load }}\n{{ question }}")
    (tmp_path / "tests.csv").write_text(CSV)
    config = tmp_path / "promptfooconfig.yaml"
    config.write_text(CONFIG.replace("{base_url}", base_url))
    # the first test's vars gain expected_word for its templated assertion
    data = yaml.safe_load(config.read_text())
    data["tests"][0]["vars"]["expected_word"] = "hours"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    return config


def _reply(messages):
    text = messages[-1]["content"].lower()
    if "say ok" in text:
        return "OK"
    if "hours" in text:
        return "Our hours are 9 to 5."
    if "refund" in text:
        return "Your refund is on its way."
    return "As an AI, I cannot help with shoes."


def test_import_then_eval_against_the_loopback_server(cli, tmp_path, db):
    with OpenAIServer(reply=_reply) as server:
        config = _write_config(tmp_path, server.base_url)
        out = tmp_path / "imported"
        r = cli("import", "promptfoo", config, "--out", out)
        assert r.code == 0, r.err
        report = (out / "IMPORT_REPORT.txt").read_text()
        listed = [line[2:] for line in report.splitlines() if line.startswith("- ")]
        assert listed == [
            "sharing: not translated (no workbench equivalent)",
            "prompts[3] file://prompts/loader.txt: message 1: custom filter `load` (prompt not written)",
            "prompts[4]: file://prompts/build.py:make_prompt (prompt functions and globs do not translate)",
            "providers: anthropic:messages:claude-sonnet (only OpenAI chat models and OpenAI-compatible servers "
            "translate)",
            "tests[0]: assert[1] javascript 'output.length < 500' (JavaScript assertions do not run here)",
            "tests[0]: assert[3] llm-rubric 'is polite' (no LLM-judge metric in workbench yet)",
            "tests.csv: row 2: assert[1] javascript 'output.length < 500' (JavaScript assertions do not run here)",
            "tests.csv: row 3: assert[1] javascript 'output.length < 500' (JavaScript assertions do not run here)",
            "tests.csv: row 3: assert[3] javascript \"output.includes('x')\" (JavaScript assertions do not run here)",
            "tests.csv: row 4: assert[1] javascript 'output.length < 500' (JavaScript assertions do not run here)",
        ]
        assert report in r.out
        eval_file = yaml.safe_load((out / "eval.yaml").read_text())
        assert eval_file["models"] == [f"openai:support-model@{server.base_url}"]
        assert eval_file["params"] == {"temperature": 0, "max_tokens": 64}
        assert [p.rsplit("/", 1)[1] for p in eval_file["prompts"]] == [
            "prompt_1.yaml", "support_1.yaml", "support_2.yaml", "chat.yaml"]
        chat = yaml.safe_load((out / "prompts" / "chat.yaml").read_text())
        assert [m["role"] for m in chat["messages"]] == ["system", "user"]
        assert "question | tojson" in chat["messages"][1]["content"]
        rows = [json.loads(line) for line in (out / "tests.jsonl").read_text().splitlines()]
        assert [r["checks"] for r in rows] == [
            ["not-contains:As an AI", "icontains:hours"],
            ["not-contains:As an AI", "contains:refund"],
            ["not-contains:As an AI", "contains-any:return,exchange"],
            ["not-contains:As an AI", "equals:OK"],
        ]

        junit = tmp_path / "report.xml"
        r = cli("eval", "--config", out / "eval.yaml", "--db", db, "--junit", junit, "--json")
    assert r.code == 3, r.err  # the shoes answer fails not-contains and contains-any: pass_rate 3/4 per prompt
    runs = r.json()["runs"]
    assert len(runs) == 4 and all(run["outputs"] == 4 and run["errors"] == 0 for run in runs)
    assert [g["value"] for g in r.json()["gates"]] == [0.75] * 4, r.out
    failures = [c for c in ET.parse(junit).getroot().iter("testcase") if c.get("name") == "row 2"]
    assert len(failures) == 4
    assert "not-contains:As an AI, contains-any:return,exchange" in failures[0].find("failure").get("message")


@pytest.mark.parametrize("cell,expected", [
    ("contains: refund", {"type": "contains", "value": "refund"}),
    ("similar(0.8): hello", {"type": "similar", "value": "hello", "threshold": "0.8"}),
    ("grader: polite", {"type": "llm-rubric", "value": "polite"}),
    ("not-icontains: x", {"type": "not-icontains", "value": "x"}),
    ("is-json", {"type": "is-json"}),
    ("Paris: the capital", {"type": "equals", "value": "Paris: the capital"}),
])
def test_expected_cells(cell, expected):
    assert expected_assertion(cell) == expected


def test_a_bad_config_is_named(tmp_path):
    config = tmp_path / "promptfooconfig.yaml"
    config.write_text("- just\n- a list\n")
    with pytest.raises(UserError, match="is a mapping"):
        import_promptfoo(config, tmp_path / "out")
    config.write_text("prompts: ['{{ q }}']\ntests: file://missing.csv\n")
    with pytest.raises(UserError, match="file not found"):
        import_promptfoo(config, tmp_path / "out")


def test_export_a_run_as_promptfoo_and_import_it_back(cli, tmp_path, db):
    rows = [{"question": "Where is my refund?", "checks": ["contains:refund", "max-length:100"]},
            {"question": "Say OK", "__expected": "OK"}]
    data = tmp_path / "d.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows))
    prompt = tmp_path / "p.yaml"
    prompt.write_text("name: p\nmessages:\n  - role: system\n    content: Be brief.\n"
                      "  - role: user\n    content: '{{ question | tojson }}'\n")
    with OpenAIServer(reply=_reply) as server:
        r = cli("eval", prompt, "--data", data, "--model", f"openai:m@{server.base_url}", "--db", db,
                "--metrics", "length", "--check", "not-contains:As an AI", "--check", "json-path:$.a=1",
                "--param", "temperature=0", "--json")
        assert r.code == 0, r.err
        run_id = r.json()["runs"][0]["run_id"]
        out = tmp_path / "pf.yaml"
        r = cli("export", run_id, "--format", "promptfoo", "-o", out, "--db", db)
        assert r.code == 0, r.err
        text = out.read_text()
        assert text.splitlines()[:3] == ["# not exported: the check json-path:$.a=1",
                                         "# not exported: the metrics length (no promptfoo assertion)",
                                         "# not exported: row 0: the check max-length:100"]
        config = yaml.safe_load(text)
        assert config["providers"] == [{"id": "openai:chat:m", "config": {"apiBaseUrl": server.base_url,
                                                                           "temperature": 0}}]
        assert json.loads(config["prompts"][0])[1]["content"] == "{{ question | dump }}"
        assert config["defaultTest"] == {"assert": [{"type": "not-contains", "value": "As an AI"}]}
        assert config["tests"] == [
            {"vars": {"question": "Where is my refund?"}, "assert": [{"type": "contains", "value": "refund"}]},
            {"vars": {"question": "Say OK"}, "assert": [{"type": "equals", "value": "OK"}]}]
        back = import_promptfoo(out, tmp_path / "back")
        assert back.untranslated == [] and len(back.prompts) == 1
        r = cli("eval", "--config", back.eval_file, "--db", db, "--json")
    assert r.code == 0, r.err
    assert r.json()["gates"][0]["value"] == 1.0


def test_an_assertion_value_renders_long_after_an_earlier_render():
    """The sandbox's deadline is per render: filling `contains:{{ city }}` must not inherit what is left of an
    earlier render's 2 s in this thread (the import failed with RenderLimit when the last render was > 2 s ago)."""
    from workbench.authoring import sandbox
    from workbench.importers.promptfoo_asserts import render_value

    sandbox.start(seconds=-1)  # an earlier render whose time ran out
    assert render_value("contains:{{ city }}", {"city": "Paris"}, "t.yaml: tests[0]") == "contains:Paris"
