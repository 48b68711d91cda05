"""Exports from ratings: the ratings themselves, SFT conversations (into `workbench finetune`), DPO pairs."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.annotation_runs import make_runs
from workbench import store
from workbench.errors import UserError
from workbench.rating import annotation as an
from workbench.rating import training_data


def answer(v: int, row: dict) -> str:
    return row["reference"] if v == 0 else f"Sorry, I can't help with {row['intent'].replace('_', ' ')}."


VARIANTS = [("support_few_shot", "openai:good"), ("support_zero_shot", "openai:vague")]


@pytest.fixture
def runs(db):
    return make_runs(db, VARIANTS, n_rows=12, answer=answer)


def rate_single(con, runs, values_by_run, scale="likert", annotators=("ann", "bob")):
    """A single-output session where each annotator gives every output of run r the value values_by_run[r][name]."""
    sid = an.create_session(con, an.SessionSpec(runs, k=len(annotators), seed=8, scale=scale,
                                                annotators=list(annotators)))
    for name in annotators:
        while (item := an.next_item(con, sid, name)) is not None:
            run = store.item_outputs(con, sid, item.item_idx)["run_a"][0]
            an.record_rating(con, sid, item.item_idx, name, values_by_run[run][name], comment=f"by {name}",
                             tags=["tone", "too long"])
    return sid


def test_ratings_export_csv_and_jsonl(db, runs, tmp_path):
    with store.connect(db) as con:
        sid = rate_single(con, runs, {runs[0]: {"ann": 5, "bob": 4}, runs[1]: {"ann": 2, "bob": 1}})
        n_csv = training_data.export(con, sid, "ratings", tmp_path / "r.csv")
        n_jsonl = training_data.export(con, sid, "ratings", tmp_path / "r.jsonl")
    # run ids are hex: "0000120e28" would otherwise be read as the number 1.2e30 (seen in a run)
    csv = pd.read_csv(tmp_path / "r.csv", dtype={"run_a": str, "run_b": str})
    lines = [json.loads(x) for x in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert n_csv == n_jsonl == len(csv) == len(lines) == 48  # 24 outputs x 2 annotators
    assert set(csv["prompt_a"]) == {"support_few_shot", "support_zero_shot"}  # exports are unblinded
    assert csv["tags"].iloc[0] == "tone; too long" and lines[0]["tags"] == ["tone", "too long"]
    good = csv[csv["run_a"] == runs[0]]
    assert set(good["value"]) == {4, 5} and set(good["annotator"]) == {"ann", "bob"}


def test_sft_keeps_outputs_rated_at_or_above_the_threshold(db, runs, tmp_path):
    with store.connect(db) as con:
        sid = rate_single(con, runs, {runs[0]: {"ann": 5, "bob": 4}, runs[1]: {"ann": 4, "bob": 3}})
        default = training_data.sft_records(con, sid)  # mean >= 4: only the first run (4.5); 3.5 is out
        lenient = training_data.sft_records(con, sid, min_rating=3.5)
        with pytest.raises(UserError, match="between 1 and 5"):
            training_data.sft_records(con, sid, min_rating=7)
        with pytest.raises(UserError, match="nothing to export"):
            training_data.export(con, sid, "sft", tmp_path / "none.jsonl", min_rating=5)
        with pytest.raises(UserError, match="pairwise votes"):
            training_data.export(con, sid, "dpo", tmp_path / "x.jsonl")
    assert len(default) == 12 and len(lenient) == 24
    msgs = default[0]["messages"]
    assert msgs[0]["role"] == "system" and msgs[-1]["role"] == "assistant" and "weight" not in msgs[-1]
    # The few-shot prompt's example answers are context, not targets.
    examples = [m for m in msgs[:-1] if m["role"] == "assistant"]
    assert examples and all(m["weight"] == 0 for m in examples)
    refs = {json.loads(line)["reference"] for line in open("datasets/support_en.jsonl") if line.strip()}
    assert all(r["messages"][-1]["content"] in refs for r in default)


def test_thumbs_threshold_defaults_to_every_annotator_up(db, runs):
    with store.connect(db) as con:
        sid = rate_single(con, runs, {runs[0]: {"ann": "up", "bob": "up"}, runs[1]: {"ann": "up", "bob": "down"}},
                          scale="thumbs")
        assert len(training_data.sft_records(con, sid)) == 12
        assert len(training_data.sft_records(con, sid, min_rating=0.5)) == 24


def test_dpo_pairs_from_majority_votes(db, runs, tmp_path):
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec(runs, pairwise=True, k=3, seed=5, annotators=["a", "b", "c"]))
        items = store.item_outputs(con, sid)
        for idx, run_a in zip(items["item_idx"], items["run_a"]):
            good_side = "A" if run_a == runs[0] else "B"
            # a and b prefer the reference answer; c calls ties. On item 0 the vote is split: no majority.
            votes = {"a": good_side, "b": good_side, "c": "tie"}
            if idx == 0:
                votes = {"a": good_side, "b": "both bad", "c": "tie"}
            for name, v in votes.items():
                an.record_rating(con, sid, int(idx), name, v)
        n = training_data.export(con, sid, "dpo", tmp_path / "dpo.jsonl")
        with pytest.raises(UserError, match="--format dpo"):
            training_data.export(con, sid, "sft", tmp_path / "sft.jsonl")
    pairs = [json.loads(x) for x in (tmp_path / "dpo.jsonl").read_text().splitlines()]
    assert n == len(pairs) == 11
    for p in pairs:
        assert p["chosen"].startswith(("Tap", "Standard", "You", "Go", "Open", "We", "Your", "Yes", "Our"))
        assert p["rejected"].startswith("Sorry, I can't help")
        assert p["prompt"][-1]["role"] == "user" and set(p["prompt"][0]) == {"role", "content"}


@pytest.mark.slow
def test_sft_export_feeds_workbench_finetune(db, runs, tmp_path, cli):
    with store.connect(db) as con:
        sid = rate_single(con, runs, {runs[0]: {"ann": 5, "bob": 5}, runs[1]: {"ann": 1, "bob": 2}})
    out = tmp_path / "sft.jsonl"
    res = cli("annotate", "export", sid, "--format", "sft", "-o", out)
    assert res.code == 0, res.err
    assert len(out.read_text().splitlines()) == 12

    from workbench.finetune.data import load_examples

    examples = load_examples(str(out), eval_split=0)
    assert examples.source == "messages" and len(examples.train) == 12
    for ex in examples.train:  # only the rated answer is a target
        targets = [m for m in ex.messages if m["role"] == "assistant" and m["weight"]]
        assert len(targets) == 1 and targets[0] is ex.messages[-1]

    res = cli("finetune", "--data", out, "--base", "tiny", "--out", tmp_path / "model", "--max-steps", "2",
              "--eval-split", "0.2", "--quiet", "--json")
    assert res.code == 0, res.err
    card = res.json()
    assert card["data"]["source"] == "messages"
    assert card["data"]["train_examples"] + card["data"]["eval_examples"] == 12
    assert card["steps"] == 2 and (tmp_path / "model" / "config.json").exists()


def same_on_even_rows(v: int, row: dict) -> str:
    """Both variants give the reference on even-numbered ids; variant 1 is vague elsewhere."""
    return row["reference"] if v == 0 or int(row["id"][-1]) % 2 == 0 else "Please contact support."


def test_dpo_skips_pairs_whose_answers_are_the_same(db, tmp_path, cli):
    runs = make_runs(db, VARIANTS, n_rows=10, answer=same_on_even_rows)
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec(runs, pairwise=True, seed=5, annotators=["a"]))
        items = store.item_outputs(con, sid)
        for idx, run_a in zip(items["item_idx"], items["run_a"]):
            an.record_rating(con, sid, int(idx), "a", "A" if run_a == runs[0] else "B")
    res = cli("annotate", "export", sid, "--format", "dpo", "-o", tmp_path / "dpo.jsonl")
    assert res.code == 0, res.err
    pairs = [json.loads(x) for x in (tmp_path / "dpo.jsonl").read_text().splitlines()]
    assert len(pairs) == 5 and all(p["chosen"] != p["rejected"] for p in pairs)
    assert "wrote 5 dpo records" in res.err and "skipped 5 pairs whose two answers are the same text" in res.err


def test_sft_writes_a_conversation_once(db, tmp_path):
    runs = make_runs(db, [("support_few_shot", "openai:one"), ("support_few_shot", "openai:two")], n_rows=4)
    with store.connect(db) as con:  # two models, same prompt, same (reference) answers: 4 distinct conversations
        sid = rate_single(con, runs, {runs[0]: {"ann": 5, "bob": 5}, runs[1]: {"ann": 5, "bob": 4}})
        skipped = {}
        n = training_data.export(con, sid, "sft", tmp_path / "sft.jsonl", skipped=skipped)
    assert n == 4 and skipped == {"duplicate": 4}
