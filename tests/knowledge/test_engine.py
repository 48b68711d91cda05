"""Knowledge prompts in runs: retrieval per row before rendering, the passages stored per output, the base
version recorded on the run; the loopback server receives the passage text in the prompt."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import DATA_EN, DATA_ZH, ROOT
from workbench import knowledge, store
from workbench.engine import runner
from workbench.metrics.retrieval import retrieval_hit

PROMPT_EN = ROOT / "prompts" / "support_knowledge.yaml"
PROMPT_ZH = ROOT / "prompts" / "support_zh_knowledge.yaml"
FAQ_EN, FAQ_ZH = ROOT / "datasets" / "faq_en.jsonl", ROOT / "datasets" / "faq_zh.jsonl"


def model(server):
    return f"openai:test@{server.base_url}"


def evaluate(cli, server, prompt, data, *extra):
    r = cli("eval", prompt, "--data", data, "--model", model(server), "--json", *extra)
    assert r.code == 0, r.err
    return r.json()["runs"][0]["run_id"]


def rows_of(path):
    return [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]


def test_the_server_receives_the_retrieved_passages(cli, openai_server, db):
    knowledge.add_base("faq_en", [str(FAQ_EN)])
    run_id = evaluate(cli, openai_server, PROMPT_EN, DATA_EN, "--limit", "12")
    rows = rows_of(DATA_EN)[:12]
    assert len(openai_server.requests) == 12
    with store.connect(db) as con:
        passages = store.load_passages(con, run_id)
        used = store.run_knowledge(con, run_id)
        current = store.get_knowledge_base(con, "faq_en")["version"]
    assert used == {"base": "faq_en", "version": current, "method": "bm25", "k": 3}
    by_question = {r["question"]: i for i, r in enumerate(rows)}
    for req in openai_server.requests:
        system, user = req["messages"][0]["content"], req["messages"][-1]["content"]
        row = by_question[user]
        mine = passages[passages.row_idx == row].sort_values("rank")
        assert 1 <= len(mine) <= 3 and list(mine["rank"]) == list(range(1, len(mine) + 1))
        for p in mine.itertuples():  # every stored passage's text is in the prompt the server received
            assert f"[{p.chunk_id}] {p.title}: {p.text}" in system
    top3 = [list(passages[passages.row_idx == i].sort_values("rank")["chunk_id"]) for i in range(12)]
    assert sum(retrieval_hit(r["faq_id"], ids, 3) for r, ids in zip(rows, top3)) >= 11


def test_chinese_knowledge_run(cli, openai_server, db):
    knowledge.add_base("faq_zh", [str(FAQ_ZH)])
    run_id = evaluate(cli, openai_server, PROMPT_ZH, DATA_ZH, "--limit", "6")
    with store.connect(db) as con:
        passages = store.load_passages(con, run_id)
    top = passages[passages["rank"] == 1]
    assert list(top["chunk_id"]) == ["faq-01"] * 6  # rows 1-6 ask about passwords
    assert all("密码" in req["messages"][0]["content"] for req in openai_server.requests)


def test_a_missing_base_fails_before_any_request(cli, openai_server, db):
    r = cli("eval", PROMPT_EN, "--data", DATA_EN, "--model", model(openai_server))
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1
    assert "support_knowledge.yaml: knowledge.base: no knowledge base 'faq_en'" in r.err
    assert openai_server.requests == []
    with store.connect(db) as con:
        assert con.execute("SELECT count(*) FROM runs").fetchone() == (0,)


def test_an_empty_base_renders_no_passages(cli, openai_server, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    knowledge.add_base("faq_en", [str(empty)])
    evaluate(cli, openai_server, PROMPT_EN, DATA_EN, "--limit", "2")
    assert all(req["messages"][0]["content"].endswith("FAQ passages:\n(none found)")
               for req in openai_server.requests)


def test_a_base_changed_between_runs(cli, openai_server, db, tmp_path):
    faq = tmp_path / "faq_en.jsonl"
    shutil.copy(FAQ_EN, faq)
    knowledge.add_base("faq_en", [str(faq)])
    first = evaluate(cli, openai_server, PROMPT_EN, DATA_EN, "--limit", "3")
    entry = {"id": "faq-19", "title": "Password vault", "text": "Your forgotten password can also be recovered "
             "from the Northwind password vault, which keeps a reset code for 24 hours."}
    with open(faq, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")
    knowledge.add_base("faq_en", [str(faq)])
    second = evaluate(cli, openai_server, PROMPT_EN, DATA_EN, "--limit", "3", "--no-cache")
    knowledge.remove_base("faq_en")  # the versions stay: runs used them
    with store.connect(db) as con:
        v1, v2 = (store.run_knowledge(con, r)["version"] for r in (first, second))
        old, new = store.load_passages(con, first), store.load_passages(con, second)
    assert v1 != v2
    assert "faq-19" not in set(old["chunk_id"]) and "faq-19" in set(new["chunk_id"])
    assert old["text"].notna().all() and set(old["version"]) == {v1}  # the old run still shows its passages
    assert any("password vault" in req["messages"][0]["content"] for req in openai_server.requests[3:])


def test_resume_retrieves_from_the_version_the_run_used(cli, openai_server, db, tmp_path):
    faq = tmp_path / "faq_en.jsonl"
    shutil.copy(FAQ_EN, faq)
    knowledge.add_base("faq_en", [str(faq)])
    run_id = evaluate(cli, openai_server, PROMPT_EN, DATA_EN, "--limit", "4")
    first_prompt = openai_server.requests[3]["messages"][0]["content"]
    faq.write_text(json.dumps({"id": "x", "text": "Everything changed: password help is now by post."}) + "\n")
    knowledge.add_base("faq_en", [str(faq)])
    with store.connect(db) as con:
        con.execute("DELETE FROM scores WHERE run_id = ? AND row_idx = 3", [run_id])
        con.execute("DELETE FROM outputs WHERE run_id = ? AND row_idx = 3", [run_id])
        store.set_status(con, run_id, "running")
    plan = runner.plan_from_run(db, run_id)
    assert plan.variants[0].knowledge["version"] != knowledge.list_bases(db)[0]["version"]
    r = cli("eval", "--resume", run_id, "--no-cache", "--json")
    assert r.code == 0, r.err
    assert openai_server.requests[-1]["messages"][0]["content"] == first_prompt


def test_export_carries_the_passages_of_each_output(cli, openai_server, tmp_path):
    knowledge.add_base("faq_en", [str(FAQ_EN)])
    run_id = evaluate(cli, openai_server, PROMPT_EN, DATA_EN, "--limit", "3")
    out = tmp_path / "run.jsonl"
    assert cli("export", run_id, "--format", "jsonl", "-o", out).code == 0
    records = rows_of(out)
    assert len(records) == 3 and all(r["knowledge_version"] for r in records)
    first = json.loads(records[0]["passages"])
    assert first[0]["id"] == "faq-01" and [p["rank"] for p in first] == list(range(1, len(first) + 1))


def test_show_names_the_base_version(cli, openai_server):
    version = knowledge.add_base("faq_en", [str(FAQ_EN)]).version
    run_id = evaluate(cli, openai_server, PROMPT_EN, DATA_EN, "--limit", "2")
    r = cli("show", run_id)
    assert r.code == 0 and f"knowledge faq_en version {version}  bm25, k=3" in r.out


def test_show_reports_retrieval_against_gold_and_groundedness(cli, tmp_path):
    from tests.openai_server import OpenAIServer

    knowledge.add_base("faq_en", [str(FAQ_EN)])
    data = tmp_path / "two.jsonl"
    data.write_text(json.dumps({"question": "How long do refunds take?", "faq_id": "faq-05", "reference": "x"}) + "\n"
                    + json.dumps({"question": "zzzz qqqq", "faq_id": "faq-99", "reference": "x"}) + "\n")
    with OpenAIServer(reply=lambda messages: "Refunds are issued within 2 business days.") as server:
        run_id = evaluate(cli, server, PROMPT_EN, data)
    r = cli("show", run_id, "--json")
    got = r.json()["retrieval"]
    # row 1: faq-05 ranked first (hit 1, mrr 1, recall 1); row 2 retrieves nothing (0, 0, 0)
    assert (got["retrieval_hit"], got["retrieval_mrr"], got["retrieval_recall"]) == (0.5, 0.5, 0.5)
    # answer bigrams: refunds-issued issued-within within-2 2-business business-days; faq-05 ("issue your refund
    # within 2 business days") holds the last three: 3/5 on row 1; row 2 has no passages: 0
    assert got["grounded"] == pytest.approx((3 / 5 + 0) / 2) and got["n_grounded"] == 2
    text = cli("show", run_id).out
    assert "retrieval vs faq_id (2 rows): hit@3 0.500  mrr 0.500  recall 0.500" in text


def test_the_app_prompt_editor_keeps_and_previews_the_knowledge_section(tmp_path, monkeypatch, db):
    from streamlit.testing.v1 import AppTest

    prompts = tmp_path / "prompts"
    prompts.mkdir()
    shutil.copy(PROMPT_EN, prompts / "support_knowledge.yaml")
    monkeypatch.setenv("WORKBENCH_PROMPTS", str(prompts))
    monkeypatch.setenv("WORKBENCH_DATASETS", str(ROOT / "datasets"))
    at = AppTest.from_file(str(ROOT / "workbench" / "app" / "views" / "prompts.py"), default_timeout=60).run()
    assert any("no knowledge base 'faq_en'" in e.value.replace("\\", "") for e in at.error)  # inline, no crash
    knowledge.add_base("faq_en", [str(FAQ_EN)])
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    system = at.chat_message[0].children[0].value
    assert "[faq-01] Resetting your password: If you can't remember your password" in system  # row 1: password
    next(b for b in at.button if b.label == "Save as new version").click().run()
    assert any("Saved version" in s.value or "No change" in s.value for s in at.success)
    with store.connect(db) as con:
        saved = store.list_prompt_versions(con, "support_knowledge")
        content = store.get_prompt_version(con, saved["hash"][0])["content"]
    assert "knowledge:\n  base: faq_en" in content  # the editor kept the section
