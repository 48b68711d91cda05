"""Conversation datasets: both forms detected, the summary, bad lines named by file:line, prompts with history."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ROOT
from workbench.authoring.conversations import turn_messages
from workbench.authoring.datasets import load_dataset
from workbench.authoring.templates import parse_prompt
from workbench.engine.plan import turn_plan
from workbench.errors import DatasetError

PROMPT = ROOT / "prompts" / "support_conversation.yaml"
GOOD = [
    {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Where is order 7?"},
                  {"role": "assistant", "content": "It ships today."}, {"role": "user", "content": "And order 8?"},
                  {"role": "assistant", "content": "Tomorrow."}], "customer": "Ann"},
    {"turns": ["I want a refund", "Which order?", "Order 9", "Refund started."], "customer": "Bob"},
]


def write(tmp_path, lines, name="conv.jsonl"):
    path = tmp_path / name
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines),
                    encoding="utf-8")
    return path


def test_both_forms_are_detected_and_summarized(tmp_path):
    ds = load_dataset(write(tmp_path, GOOD))
    assert ds.is_conversations and ds.summary() == "2 conversations, 4 assistant turns"
    assert ds.rows[1]["messages"][2] == {"role": "user", "content": "Order 9"}  # turns -> messages
    assert ds.rows[1]["customer"] == "Bob" and "turns" not in ds.rows[1]
    single = load_dataset(write(tmp_path, [{"question": "q", "reference": "a"}], "rows.jsonl"))
    assert not single.is_conversations and single.summary() == "1 row"


BAD = [
    ({"messages": [{"role": "system", "content": "x"}, {"role": "assistant", "content": "hi"}]}, "no user turn"),
    ({"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"},
                   {"role": "assistant", "content": "c"}]}, "two user turns in a row"),
    ({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "  "}]}, "empty content"),
    ({"messages": [{"role": "user", "content": "a"}, {"role": "bot", "content": "b"}]}, "role 'bot'"),
    ({"turns": ["a", ""]}, "empty content"),
    ({"question": "not a conversation"}, "not a conversation"),
]


@pytest.mark.parametrize(("line", "says"), BAD, ids=["no-user", "two-users", "empty", "role", "turns-empty", "mixed"])
def test_a_bad_line_is_one_error_naming_file_and_line(tmp_path, cli, line, says):
    path = write(tmp_path, [GOOD[0], GOOD[1], line])
    with pytest.raises(DatasetError) as e:
        load_dataset(path)
    assert f"{path}:3" in str(e.value) and says in str(e.value)
    r = cli("eval", PROMPT, "--data", path, "--model", "openai:m@http://127.0.0.1:9/v1")
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1 and f"{path}:3" in r.err, r.err


def test_consecutive_user_turns_when_the_line_allows_them(tmp_path):
    line = {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"},
                         {"role": "assistant", "content": "c"}], "allow_consecutive": True}
    ds = load_dataset(write(tmp_path, [line]))
    flat, turns = turn_plan(ds, "gold")
    assert turns.units == [(0, 0)] and "allow_consecutive" not in flat.rows[0]
    assert [m["content"] for m in flat.rows[0]["history"]] == ["a", "b"]


def test_prompt_fields_then_the_conversation_so_far(tmp_path):
    ds = load_dataset(write(tmp_path, GOOD))
    flat, turns = turn_plan(ds, "gold")
    assert turns.units == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert [r["reference"] for r in flat.rows] == ["It ships today.", "Tomorrow.", "Which order?", "Refund started."]
    prompt = parse_prompt("name: s\nmessages:\n  - role: system\n    content: 'Helping {{ customer }}.'\n")
    assert turn_messages(prompt, flat.rows[1]) == [
        {"role": "system", "content": "Helping Ann."}, {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Where is order 7?"}, {"role": "assistant", "content": "It ships today."},
        {"role": "user", "content": "And order 8?"}]


def test_a_template_may_place_the_history_itself(tmp_path):
    ds = load_dataset(write(tmp_path, GOOD[1:]))
    flat, _ = turn_plan(ds, "gold")
    prompt = parse_prompt("name: one-text\nmessages:\n  - role: user\n    content: |-\n"
                          "      {% for m in history %}{{ m.role }}: {{ m.content }}\n      {% endfor %}assistant:\n")
    assert turn_messages(prompt, flat.rows[1]) == [
        {"role": "user", "content": "user: I want a refund\nassistant: Which order?\nuser: Order 9\nassistant:"}]


def test_an_unknown_history_mode_is_refused(tmp_path):
    with pytest.raises(Exception, match="gold, own"):
        turn_plan(load_dataset(write(tmp_path, GOOD)), "mine")
