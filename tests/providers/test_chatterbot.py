"""chatterbot: a real ChatterBot trained on the bundled support data (train split), answering through the
engine like any model; its confidence stored with each output; bad files refused with one line."""

from __future__ import annotations

import json

import pytest

from tests.conftest import DATA_EN, ROOT
from workbench import store
from workbench.errors import UserError
from workbench.providers import make_provider
from workbench.providers.chatterbot_bot import training_pairs

PROMPT = ROOT / "prompts" / "support_zero_shot.yaml"


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "chatterbot"


def held_out(tmp_path):
    rows = [json.loads(line) for line in DATA_EN.read_text(encoding="utf-8").splitlines()]
    path = tmp_path / "test.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows if r["split"] == "test"), encoding="utf-8")
    return path


def test_only_the_train_split_is_learned():
    pairs, key = training_pairs(str(DATA_EN))
    rows = [json.loads(line) for line in DATA_EN.read_text(encoding="utf-8").splitlines()]
    assert [q for q, _ in pairs] == [r["question"] for r in rows if r["split"] == "train"]
    assert len(pairs) == 144 and len(key) == 16


@pytest.mark.slow
def test_held_out_questions_through_a_trained_chatterbot(cli, db, tmp_path, cache):
    spec = f"chatterbot:{DATA_EN}?threshold=0.3"
    r = cli("eval", PROMPT, "--data", held_out(tmp_path), "--model", spec, "--metrics", "exact,chrf", "--json")
    assert r.code == 0, r.err
    run = r.json()["runs"][0]
    assert run["outputs"] == 34 and run["errors"] == 0
    trained = list(cache.glob("*.sqlite3"))
    assert len(trained) == 1
    with store.connect(db) as con:
        out = store.load_outputs(con, run["run_id"])
        exact = store.load_scores(con, run["run_id"]).query("metric == 'exact'")["value"]
    # each output carries the best match's confidence; below the threshold the default answer
    kinds = {f.split()[0] for f in out["finish_reason"]}
    assert kinds <= {"match", "default"} and "match" in kinds
    for text, finish in zip(out["text"], out["finish_reason"]):
        confidence = float(finish.split()[1])
        assert (confidence >= 0.3) == finish.startswith("match")
        assert finish.startswith("match") or text == "Sorry, I don't know the answer to that."
    assert exact.mean() >= 0.25  # Levenshtein retrieval: right on about a third of unseen paraphrases
    stamp = trained[0].stat().st_mtime_ns
    make_provider(spec)  # a second bot on the same data is read from the cache, not trained again
    assert trained[0].stat().st_mtime_ns == stamp and not list(cache.glob("*.part"))


@pytest.mark.slow
def test_threshold_and_default_from_the_spec():
    import asyncio

    bot = make_provider(f"chatterbot:{DATA_EN}?threshold=1&default=Ask a human")
    done = asyncio.run(bot.complete([{"role": "user", "content": "where is my parcel, it is late"}], {}))
    assert done.text == "Ask a human" and done.finish_reason.startswith("default ")


def test_a_file_without_question_and_reference_is_one_line(cli, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "hi", "answer": "hello"}\n', encoding="utf-8")
    r = cli("eval", PROMPT, "--data", DATA_EN, "--model", f"chatterbot:{bad}", "--limit", "1")
    assert r.code != 0
    assert str(bad) in r.err and "missing columns 'question', 'reference'" in r.err
    assert "Traceback" not in r.err and len(r.err.strip().splitlines()) == 1


def test_bad_options_are_refused():
    with pytest.raises(UserError, match="bad value '2' for option 'threshold'"):
        make_provider(f"chatterbot:{DATA_EN}?threshold=2")
    with pytest.raises(UserError, match="dataset file not found"):
        make_provider("chatterbot:nowhere.jsonl")


@pytest.mark.slow
def test_a_chatterbot_trained_on_conversations_answers_a_conversation_run_turn_by_turn(cli, db, tmp_path, cache):
    """chatterbot:CONVERSATIONS.jsonl learns each conversation's turns in order; a conversation run through it
    (own history: turns of a conversation in order) gives one output per assistant turn, each the answer
    learned after the customer turn it is asked (the bot keeps no state: read-only)."""
    conversations = ROOT / "datasets" / "support_conversations_en.jsonl"
    dialogs, _ = training_pairs(str(conversations))
    rows = [json.loads(line) for line in conversations.read_text(encoding="utf-8").splitlines()]
    assert len(dialogs) == len(rows) and dialogs[0] == rows[0]["turns"]
    data = tmp_path / "four.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows[:4]), encoding="utf-8")
    r = cli("eval", ROOT / "prompts" / "support_conversation.yaml", "--data", data, "--model",
            f"chatterbot:{conversations}", "--history", "own", "--metrics", "exact", "--json")
    assert r.code == 0, r.err
    run = r.json()["runs"][0]
    n_turns = sum(len(row["turns"]) // 2 for row in rows[:4])
    assert run["outputs"] == n_turns and run["errors"] == 0
    with store.connect(db) as con:
        out = con.execute("SELECT row_idx, turn_idx, text, finish_reason FROM outputs WHERE run_id = ? ORDER BY ALL",
                          [run["run_id"]]).fetchall()
        exact = store.load_scores(con, run["run_id"])["value"].mean()
    assert [(row, turn) for row, turn, *_ in out] == [(i, t) for i in range(4) for t in range(len(rows[i]["turns"]) // 2)]
    assert all(finish.startswith("match") for *_, finish in out)
    assert exact >= 0.5  # its own training conversations: most turns get the answer that followed them
    with pytest.raises(UserError, match="no conversations with split 'train'"):
        bad = tmp_path / "test_only.jsonl"
        bad.write_text(json.dumps({**rows[0], "split": "test"}) + "\n", encoding="utf-8")
        training_pairs(str(bad))
