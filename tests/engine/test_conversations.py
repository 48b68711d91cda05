"""Conversation runs against the loopback OpenAI server, which records every request: gold history sends the
reference turns, own history the model's own answers; outputs keyed per turn survive kill -9 and resume,
retry-errors, the cache and repeats."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import duckdb

import workbench
from tests.conftest import ROOT
from tests.engine.test_faults import wait_for_outputs
from tests.openai_server import Fault, OpenAIServer
from workbench import store
from workbench.providers import Completion, Provider
from workbench.store.migrations import MIGRATIONS

PROMPT = ROOT / "prompts" / "support_conversation.yaml"


def conversations(n: int, turns: int = 3) -> list[dict]:
    out = []
    for i in range(n):
        msgs = []
        for t in range(turns):
            msgs += [{"role": "user", "content": f"c{i} question {t}"}, {"role": "assistant", "content": f"c{i} gold {t}"}]
        out.append({"messages": msgs, "customer": f"customer {i}"})
    return out


def write(tmp_path, rows, name="conv.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def reply(messages):
    return "own " + messages[-1]["content"]


def sent_turns(server) -> dict[str, list[tuple[str, str]]]:
    """Last user message -> the (role, content) of the chat turns the request held (system messages left out)."""
    return {r["messages"][-1]["content"]: [(m["role"], m["content"]) for m in r["messages"] if m["role"] != "system"]
            for r in server.requests}


def sent_system(server, last: str) -> str:
    return next(r["messages"][0]["content"] for r in server.requests if r["messages"][-1]["content"] == last)


def outputs(db, run_id):
    with store.connect(db) as con:
        return con.execute("SELECT row_idx, turn_idx, repeat_idx, text, error, cached FROM outputs WHERE run_id = ? "
                           "ORDER BY ALL", [run_id]).df()


def test_gold_history_sends_the_reference_turns(tmp_path, db):
    data = write(tmp_path, conversations(3))
    with OpenAIServer(reply=reply) as server:
        ev = workbench.evaluate(PROMPT, data, f"openai:m@{server.base_url}", "exact", db=db, concurrency=8)
        sent = sent_turns(server)
    assert len(sent) == 9
    assert sent["c1 question 2"] == [("user", "c1 question 0"), ("assistant", "c1 gold 0"), ("user", "c1 question 1"),
                                     ("assistant", "c1 gold 1"), ("user", "c1 question 2")]
    assert "You are talking with customer 1." in sent_system(server, "c1 question 0")  # fields render the prompt
    df = outputs(db, ev.runs[0])
    assert list(zip(df["row_idx"], df["turn_idx"])) == [(r, t) for r in range(3) for t in range(3)]
    assert (df["text"] == [f"own c{r} question {t}" for r in range(3) for t in range(3)]).all()


def test_own_history_sends_the_models_earlier_answers(tmp_path, db):
    data = write(tmp_path, conversations(4))
    with OpenAIServer(reply=reply) as server:
        ev = workbench.evaluate(PROMPT, data, f"openai:m@{server.base_url}", "exact", db=db, history="own",
                                concurrency=4)
        sent = sent_turns(server)
    assert sent["c2 question 2"] == [("user", "c2 question 0"), ("assistant", "own c2 question 0"),
                                     ("user", "c2 question 1"), ("assistant", "own c2 question 1"),
                                     ("user", "c2 question 2")]
    with store.connect(db) as con:
        assert store.get_run(con, ev.runs[0])["history"] == "own"
    assert len(outputs(db, ev.runs[0])) == 12


def test_export_and_show_have_turns(tmp_path, db, cli):
    data = write(tmp_path, conversations(2))
    with OpenAIServer(reply=lambda m: "c0 gold 1" if m[-1]["content"] == "c0 question 1" else "no") as server:
        ev = workbench.evaluate(PROMPT, data, f"openai:m@{server.base_url}", "exact", db=db)
    run_id = ev.runs[0]
    shown = cli("show", run_id, "--json").json()
    assert shown["rows"] == 6 and shown["outputs"] == 6
    conv = shown["conversations"]
    assert conv["per_turn"]["1"]["exact"] == {"mean": 0.5, "n": 2}
    assert conv["per_conversation"]["exact"]["first_failure_at_turn"] == {"0": 2}
    text = cli("show", run_id).out
    assert "per turn (history gold)" in text and "first failure at" in text
    r = cli("export", run_id, "--format", "jsonl", "-o", tmp_path / "out.jsonl")
    assert r.code == 0, r.err
    recs = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [(x["row_idx"], x["turn_idx"]) for x in recs] == [(r, t) for r in range(2) for t in range(3)]
    assert recs[4]["reference"] == "c1 gold 1"


def test_retry_errors_in_own_mode_redoes_the_failed_turn_and_those_after(tmp_path, db, cli):
    data = write(tmp_path, conversations(2))
    with OpenAIServer(reply=reply, fault=lambda n, body: Fault(status=400)
                      if body["messages"][-1]["content"] == "c1 question 1" else None) as server:
        r = cli("eval", PROMPT, "--data", data, "--model", f"openai:m@{server.base_url}", "--history", "own",
                "--retries", "0", "--json", "--metrics", "exact")
        run_id = r.json()["runs"][0]["run_id"]
        df = outputs(db, run_id)
        errors = df[df["error"].notna()]
        assert list(zip(errors["row_idx"], errors["turn_idx"])) == [(1, 1), (1, 2)]
        assert "not sent" in errors["error"].iloc[1]
        assert "c1 question 2" not in sent_turns(server)  # no request for a turn without history
        server.fault = None
        before = len(server.requests)
        r = cli("eval", "--retry-errors", run_id, "--json")
        assert r.code == 0, r.err
        assert len(server.requests) - before == 2
        assert sent_turns(server)["c1 question 2"][1] == ("assistant", "own c1 question 0")  # stored answer reused
    df = outputs(db, run_id)
    assert len(df) == 6 and df["error"].isna().all()


def test_cache_and_repeats_work_per_turn(tmp_path, db):
    data = write(tmp_path, conversations(3))
    with OpenAIServer(reply=reply) as server:
        spec = f"openai:m@{server.base_url}"
        workbench.evaluate(PROMPT, data, spec, "exact", db=db)
        again = workbench.evaluate(PROMPT, data, spec, "exact", db=db)
        assert len(server.requests) == 9
        df = outputs(db, again.runs[0])
        assert len(df) == 9 and df["cached"].all()
        rep = workbench.evaluate(PROMPT, data, spec, "exact", db=db, repeats=2)
        assert len(server.requests) == 9 + 18
    df = outputs(db, rep.runs[0])
    assert len(df) == 18 and not df[["row_idx", "turn_idx", "repeat_idx"]].duplicated().any()


class Bot(Provider):
    """A stateful provider that records the session of every request."""

    stateful = True
    max_concurrency = 4

    def __init__(self):
        self.spec = "bot:test"
        self.seen: list[tuple[str, str]] = []

    async def complete(self, messages, params):
        self.seen.append((params["conversation_id"], messages[-1]["content"]))
        return Completion("ok")


def test_stateful_providers_get_a_fresh_session_per_conversation_and_turns_in_order(tmp_path, db):
    bot = Bot()
    workbench.evaluate(PROMPT, write(tmp_path, conversations(3)), bot, "exact", db=db)
    sessions: dict[str, list[str]] = {}
    for sid, text in bot.seen:
        sessions.setdefault(sid, []).append(text)
    assert sorted(sessions.values()) == [[f"c{i} question {t}" for t in range(3)] for i in range(3)]


def test_kill_9_then_resume_gives_one_output_per_assistant_turn(tmp_path, db, cli):
    n = 40
    data = write(tmp_path, conversations(n, 4))
    with OpenAIServer(reply=reply, latency=0.05) as server:
        proc = subprocess.Popen(
            [sys.executable, "-m", "workbench", "eval", str(PROMPT), "--data", str(data), "--model",
             f"openai:m@{server.base_url}", "--db", db, "--json", "-j", "4", "--no-cache", "--history", "own",
             "--metrics", "exact"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        wait_for_outputs(db, proc, 10)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        with store.connect(db) as con:
            (run_id,) = store.list_runs(con)["id"]
            done = len(store.done_turns(con, run_id))
        assert 10 <= done < 4 * n
        r = cli("eval", "--resume", run_id, "--json", "--no-cache")
        assert r.code == 0, r.err
    run = r.json()["runs"][0]
    assert run["outputs"] == 4 * n and run["errors"] == 0 and run["status"] == "done"
    df = outputs(db, run_id)
    assert len(df) == 4 * n and not df[["row_idx", "turn_idx"]].duplicated().any()
    assert set(zip(df["row_idx"], df["turn_idx"])) == {(r, t) for r in range(n) for t in range(4)}
    with store.connect(db) as con:
        assert len(store.load_scores(con, run_id)) == 4 * n


def test_a_database_from_before_turns_keeps_working(tmp_path, db, cli):
    old = [m for m in MIGRATIONS if m[0] < 9]
    con = duckdb.connect(db)
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)")
    for version, name, sql in old:
        con.execute(sql)
        con.execute("INSERT INTO schema_migrations VALUES (?, ?, current_timestamp)", [version, name])
    con.execute("INSERT INTO outputs (run_id, row_idx, repeat_idx, messages, text) VALUES ('r', 0, 0, '[]', 'a')")
    con.execute("INSERT INTO scores VALUES ('r', 0, 0, 'exact', 1.0)")
    con.close()
    with store.connect(db) as con:
        assert con.execute("SELECT turn_idx, cached, created_at IS NOT NULL FROM outputs").fetchall() == [(0, False, True)]
        assert con.execute("SELECT turn_idx FROM scores").fetchall() == [(0,)]
        assert store.done_rows(con, "r") == {(0, 0)}


def test_whole_conversations_are_rated_and_exported_as_multi_turn_sft(tmp_path, db, cli):
    from workbench.rating.annotation import SessionSpec, create_session, next_item, record_rating
    from workbench.rating.training_data import sft_records

    data = write(tmp_path, conversations(2))
    with OpenAIServer(reply=reply) as server:
        run_id = workbench.evaluate(PROMPT, data, f"openai:m@{server.base_url}", "exact", db=db, history="own").runs[0]
    with store.connect(db) as con:
        session = create_session(con, SessionSpec(runs=[run_id], seed=1))
        assert len(store.item_outputs(con, session)) == 2  # one item per conversation, not per turn
        item = next_item(con, session, "ann")
        assert item.text_a.startswith("Customer: c") and item.text_a.count("Assistant: own c") == 3
        assert "Assistant: c" in item.reference and item.inputs["customer"].startswith("customer")
        record_rating(con, session, item.item_idx, "ann", 5)
        (rec,) = sft_records(con, session)
    said = [m for m in rec["messages"] if m["role"] != "system"]
    assert [m["role"] for m in said] == ["user", "assistant"] * 3
    assert all(m["content"].startswith("own ") and "weight" not in m for m in said if m["role"] == "assistant")
    path = tmp_path / "sft.jsonl"
    path.write_text(json.dumps(rec) + "\n", encoding="utf-8")
    from workbench.finetune.data import load_examples

    ex = load_examples(str(path), eval_split=0.0)  # what `workbench finetune --data` reads
    assert ex.source == "messages" and len(ex.train) + len(ex.eval) == 1


def test_gold_resume_redoes_only_the_missing_turns(tmp_path, db, cli):
    data = write(tmp_path, conversations(3))
    with OpenAIServer(reply=reply) as server:
        r = cli("eval", PROMPT, "--data", data, "--model", f"openai:m@{server.base_url}", "--json", "--metrics",
                "exact", "--no-cache")
        run_id = r.json()["runs"][0]["run_id"]
        with store.connect(db) as con:  # what a kill leaves: two turns never stored
            con.execute("DELETE FROM outputs WHERE run_id = ? AND (row_idx, turn_idx) IN ((0, 2), (2, 1))", [run_id])
            con.execute("DELETE FROM scores WHERE run_id = ? AND (row_idx, turn_idx) IN ((0, 2), (2, 1))", [run_id])
            store.set_status(con, run_id, "cancelled")
        before = len(server.requests)
        r = cli("eval", "--resume", run_id, "--json", "--no-cache")
        assert r.code == 0, r.err
        assert sorted(q["messages"][-1]["content"] for q in server.requests[before:]) == ["c0 question 2",
                                                                                          "c2 question 1"]
    df = outputs(db, run_id)
    assert len(df) == 9 and not df[["row_idx", "turn_idx"]].duplicated().any()
