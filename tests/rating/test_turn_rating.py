"""Rating single turns of conversations: an item per assistant turn, shown after the conversation so far as
each side's model saw it (reference turns in gold history, the model's own answers in own history)."""

from __future__ import annotations

import json

import duckdb
import pytest

import workbench
from tests.annotation_runs import make_runs
from tests.conftest import ROOT
from tests.openai_server import OpenAIServer
from workbench import store
from workbench.errors import UserError
from workbench.rating import annotation as an
from workbench.rating import training_data
from workbench.store.migrations import MIGRATIONS

PROMPT = ROOT / "prompts" / "support_conversation.yaml"


def conversation_file(tmp_path, n=2, turns=3):
    rows = []
    for i in range(n):
        msgs = []
        for t in range(turns):
            msgs += [{"role": "user", "content": f"c{i} question {t}"}, {"role": "assistant", "content": f"c{i} gold {t}"}]
        rows.append({"messages": msgs, "customer": f"customer {i}"})
    path = tmp_path / "talks.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def runs(tmp_path, db):
    """A gold-history run and an own-history run of 2 conversations x 3 turns."""
    data = conversation_file(tmp_path)
    with OpenAIServer(reply=lambda m: "gold says " + m[-1]["content"]) as a, \
            OpenAIServer(reply=lambda m: "own says " + m[-1]["content"]) as b:
        gold = workbench.evaluate(PROMPT, data, f"openai:secret-a@{a.base_url}", "exact", db=db).runs[0]
        own = workbench.evaluate(PROMPT, data, f"openai:secret-b@{b.base_url}", "exact", db=db, history="own").runs[0]
    return gold, own


def said(history):
    return [(m["role"], m["content"]) for m in history]


def test_pairwise_by_turn_shows_each_sides_history_up_to_the_turn(runs, db):
    gold, own = runs
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec(list(runs), pairwise=True, seed=3, unit="turn"))
        info = store.get_session(con, sid)
        assert info["unit"] == "turn" and info["n_items"] == 6  # 2 conversations x 3 turns
        items = {}
        while (item := an.next_item(con, sid, "ann")) is not None:
            items[item.item_idx] = item
            an.record_rating(con, sid, item.item_idx, "ann", "A")
        rows = store.item_outputs(con, sid).set_index("item_idx")
        ratings = an.session_ratings(con, sid)
    assert len(items) == 6 and sorted(ratings["turn_idx"]) == [0, 0, 1, 1, 2, 2]
    for i, item in items.items():
        row, turn = int(rows.loc[i, "row_idx"]), int(rows.loc[i, "turn_idx"])
        assert item.turn_idx == turn and item.reference == f"c{row} gold {turn}"
        assert item.inputs == {"customer": f"customer {row}"}
        by_run = {rows.loc[i, "run_a"]: (item.text_a, item.history_a), rows.loc[i, "run_b"]: (item.text_b, item.history_b)}
        question = f"c{row} question {turn}"
        assert by_run[gold][0] == f"gold says {question}" and by_run[own][0] == f"own says {question}"
        # the conversation up to the turn: earlier questions and answers, then the question answered here
        gold_history = [x for t in range(turn) for x in (("user", f"c{row} question {t}"), ("assistant", f"c{row} gold {t}"))]
        own_history = [x for t in range(turn) for x in (("user", f"c{row} question {t}"),
                                                         ("assistant", f"own says c{row} question {t}"))]
        gold_history.append(("user", question))
        own_history.append(("user", question))
        if turn == 0:  # nothing answered before the first turn: one history shared by both sides
            assert said(item.history_a) == [("user", question)] and item.history_b is None
        else:
            assert said(by_run[gold][1]) == gold_history and said(by_run[own][1]) == own_history
        assert "secret" not in json.dumps(item.__dict__, default=str)


def test_likert_by_turn_gold_history_is_shared_and_exports_one_turn_per_sft_line(tmp_path, db):
    data = conversation_file(tmp_path, n=1, turns=2)
    with OpenAIServer(reply=lambda m: "says " + m[-1]["content"]) as a:
        run = workbench.evaluate(PROMPT, data, f"openai:m@{a.base_url}", "exact", db=db).runs[0]
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec([run], seed=1, unit="turn"))
        seen = []
        while (item := an.next_item(con, sid, "ann")) is not None:
            assert item.text_b is None and item.history_b is None
            seen.append((item.turn_idx, said(item.history_a), item.text_a))
            an.record_rating(con, sid, item.item_idx, "ann", 5)
        records = training_data.sft_records(con, sid)
        n = training_data.export(con, sid, "ratings", tmp_path / "r.jsonl")
    assert sorted(seen) == [(0, [("user", "c0 question 0")], "says c0 question 0"),
                            (1, [("user", "c0 question 0"), ("assistant", "c0 gold 0"), ("user", "c0 question 1")],
                             "says c0 question 1")]
    lines = (tmp_path / "r.jsonl").read_text().splitlines()
    assert n == 2 and sorted(json.loads(x)["turn_idx"] for x in lines) == [0, 1] and '"turn_idx":1,' in "".join(lines)
    # one line per rated turn: the request as sent (earlier turns are context, weight 0), then the rated answer
    by_answer = {r["messages"][-1]["content"]: r["messages"] for r in records}
    second = [m for m in by_answer["says c0 question 1"] if m["role"] != "system"]
    assert [(m["role"], m["content"], m.get("weight")) for m in second] == [
        ("user", "c0 question 0", None), ("assistant", "c0 gold 0", 0), ("user", "c0 question 1", None),
        ("assistant", "says c0 question 1", None)]


def test_whole_conversations_stay_the_default_and_turns_need_conversation_runs(runs, db, cli):
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec([runs[0]], seed=1))
        assert store.get_session(con, sid)["unit"] == "conversation"
        item = an.next_item(con, sid, "ann")
        assert item.turn_idx is None and item.history_a is None and item.text_a.count("Assistant:") == 3
    r = cli("annotate", "create", "--runs", runs[0], runs[1], "--pairwise", "--unit", "turn", "--json")
    assert r.code == 0, r.err
    assert r.json()["unit"] == "turn" and r.json()["n_items"] == 6
    listed = cli("annotate", "list").out
    assert " turn " in listed and " conversation " in listed  # what one item is, per session
    with store.connect(db) as con, pytest.raises(UserError, match="by conversation or by turn") as e:
        an.create_session(con, an.SessionSpec([runs[0]], unit="output"))
    assert e.value.setting == "unit"
    (single,) = make_runs(db, [("support_few_shot", "openai:one")], n_rows=2)
    r = cli("annotate", "create", "--runs", single, "--unit", "turn")
    assert r.code == 2 and "--unit" in r.err and "needs conversation runs" in r.err


def test_a_session_made_before_turn_items_still_loads(runs, db):
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec([runs[0]], seed=1))
        con.execute("UPDATE annotation_sessions SET unit = NULL")  # as migration 14 leaves an older session
        con.execute("UPDATE annotation_items SET turn_idx = NULL")
        item = an.next_item(con, sid, "ann")
    assert item.turn_idx is None and item.text_a.count("Assistant:") == 3
    assert 14 in [m[0] for m in MIGRATIONS]
    raw = duckdb.connect(db)
    try:
        cols = {c for (c,) in raw.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = 'annotation_items'")
                .fetchall()}
    finally:
        raw.close()
    assert "turn_idx" in cols


def test_trust_compares_turn_ratings_with_that_turns_scores(tmp_path, db):
    """Turn items are matched with their own turn's metric scores (not the conversation's first turn)."""
    from workbench.rating import trust

    data = conversation_file(tmp_path, n=3, turns=2)

    def reply(messages):  # right on the first turn, wrong on the second
        last = messages[-1]["content"]
        return last.replace("question", "gold") if last.endswith("question 0") else "no idea"

    with OpenAIServer(reply=reply) as server:
        run = workbench.evaluate(PROMPT, data, f"openai:m@{server.base_url}", "exact", db=db).runs[0]
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec([run], seed=2, unit="turn"))
        while (item := an.next_item(con, sid, "ann")) is not None:
            an.record_rating(con, sid, item.item_idx, "ann", 5 if item.turn_idx == 0 else 1)
        rep = trust.report(con, [sid])
    (exact,) = [c for c in rep.correlations if c.metric == "exact"]
    assert rep.n_outputs == 6 and exact.n == 6 and exact.spearman == pytest.approx(1.0)
