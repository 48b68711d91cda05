"""A rating session can show annotators the passages a knowledge prompt gave each answer (migration 13):
off by default, on with `annotate create --passages` (or the app's checkbox); shown under each answer."""

from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from tests.openai_server import OpenAIServer
from workbench import knowledge, store
from workbench.rating import annotation

PROMPT = ROOT / "prompts" / "support_knowledge.yaml"
PLAIN = ROOT / "prompts" / "support_zero_shot.yaml"


def two_runs(cli, tmp_path):
    knowledge.add_base("faq_en", [str(ROOT / "datasets" / "faq_en.jsonl")])
    data = tmp_path / "two.jsonl"
    data.write_text(json.dumps({"question": "How long do refunds take?", "reference": "Five days."}) + "\n"
                    + json.dumps({"question": "I forgot my password", "reference": "Reset it."}) + "\n")
    runs = []
    with OpenAIServer(reply=lambda messages: "An answer.") as server:
        for prompt in (PROMPT, PLAIN):
            r = cli("eval", prompt, "--data", data, "--model", f"openai:test@{server.base_url}", "--json")
            assert r.code == 0, r.err
            runs.append(r.json()["runs"][0]["run_id"])
    return runs


def test_sessions_show_passages_only_when_asked(cli, db, tmp_path):
    knowledge_run, plain_run = two_runs(cli, tmp_path)
    r = cli("annotate", "create", "--runs", knowledge_run, plain_run, "--pairwise", "--passages", "--seed", "1",
            "--json")
    assert r.code == 0, r.err
    assert r.json()["show_passages"] is True
    sid = r.json()["id"]
    plain_sid = cli("annotate", "create", "--runs", knowledge_run, "--json").json()["id"]
    with store.connect(db) as con:
        data = annotation.load_session(con, sid)
        items = [data.item(i) for i in sorted(data.contents)]
        plain = annotation.load_session(con, plain_sid)
        passages = store.load_passages(con, knowledge_run)
    assert len(items) == 2
    for item in items:
        with_passages = item.passages_a if item.passages_a is not None else item.passages_b
        without = item.passages_b if item.passages_a is not None else item.passages_a
        assert without is None  # the zero-shot answer was given none
        question = item.inputs["question"]
        row = 0 if "refunds" in question else 1
        assert [p["id"] for p in with_passages] == list(passages[passages.row_idx == row]["chunk_id"])
        assert with_passages[0]["text"]
    assert ("faq-05" if "refunds" in items[0].inputs["question"] else "faq-01") in {
        p["id"] for p in (items[0].passages_a or items[0].passages_b)}
    assert all(plain.item(i).passages_a is None for i in plain.contents)  # not asked: not shown


def test_annotate_page_draws_the_passages(cli, db, tmp_path):
    knowledge_run, _ = two_runs(cli, tmp_path)
    sid = cli("annotate", "create", "--runs", knowledge_run, "--passages", "--json").json()["id"]
    at = AppTest.from_file(str(ROOT / "workbench" / "app" / "views" / "annotate.py"), default_timeout=60)
    at.query_params["session"] = sid
    at.query_params["annotator"] = "ann"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(e.label.startswith("Passages the answer was given") for e in at.expander)
    shown = " ".join(t.value for t in at.text)
    assert "[faq-0" in shown
