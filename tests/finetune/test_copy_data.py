"""Copy-teaching data: numbers changed the same way in the passage and the reference, held-out rows and the
demo's new FAQ entry never in it."""

from __future__ import annotations

import json
import random
import re

import pytest

from tests.conftest import DATA_EN, ROOT
from workbench.finetune.copy_data import (
    NUMBER,
    copy_conversations,
    number_map,
    perturbed_row,
    read_jsonl,
    repeat_conversation,
    sentences,
    synthetic_entry,
    word_pool,
    write_copy_data,
    write_copy_slices,
    write_warmup_data,
)
from workbench.finetune.default_model import add_bases

FAQ_EN = ROOT / "datasets" / "faq_en.jsonl"
PASSAGE = re.compile(r"^\[(?P<id>[^\]]+)\] (?P<title>[^:]*): (?P<text>.*)$", re.M)


@pytest.fixture(scope="module")
def conversations(tmp_path_factory) -> list[dict]:
    tmp = tmp_path_factory.mktemp("copy")
    db = str(tmp / "bases.duckdb")
    add_bases(db)
    out = write_copy_data(tmp / "copy.jsonl", str(DATA_EN), str(FAQ_EN), str(ROOT / "prompts" / "support_knowledge.yaml"),
                          db, copies=2, synthetic=60)
    return read_jsonl(out)


def test_a_number_map_changes_every_number_and_never_teaches_14():
    rng = random.Random(0)
    for _ in range(200):
        mapping = number_map("within 7 days, 14 or 24 hours, $5.99, 1-800-555-0199", rng)
        assert all(new != old and len(new) == len(old) for old, new in mapping.items())
        assert "14" not in mapping.values()


def test_the_passage_and_the_reference_change_together():
    row = {"faq_id": "faq-01", "reference": "The reset link is valid for 24 hours.", "question": "reset?"}
    gold = {"id": "faq-01", "title": "Resetting your password", "text": "The link is valid for 24 hours; ask again."}
    other = {"id": "faq-09", "title": "Delivery times", "text": "Standard delivery takes 3 to 5 business days."}
    passages, reference = perturbed_row(row, [other, gold], random.Random(1))
    new = NUMBER.findall(reference)[0]
    assert new != "24" and f"valid for {new} hours" in passages[1]["text"]
    assert passages[0] == other  # the other passages stay as they are
    assert perturbed_row(row, [other], random.Random(1)) is None  # its passage not retrieved: nothing to read


def test_every_perturbed_answer_states_numbers_its_passages_hold_and_held_out_rows_never_appear(conversations):
    rows = read_jsonl(DATA_EN)
    held_out = {r["question"].lower() for r in rows if r["split"] == "test"}
    trained = {r["question"].lower() for r in rows if r["split"] == "train"}
    references = {r["reference"] for r in rows}
    perturbed = 0
    for conv in conversations:
        system, user, answer = (m["content"] for m in conv["messages"])
        assert [m["weight"] for m in conv["messages"]] == [0, 0, 1]
        assert user.lower() not in held_out
        passages = [m.groupdict() for m in PASSAGE.finditer(system)]
        assert 1 <= len(passages) <= 3  # BM25 returns fewer when fewer entries share a word
        if user.lower() in trained:
            perturbed += 1
            assert answer not in references  # a number changed ...
            assert set(NUMBER.findall(answer)) <= set(NUMBER.findall(system))  # ... as it did in the passage
        else:
            assert passages[0]["id"].startswith("syn-") and passages[0]["text"].startswith(answer)
    assert perturbed > 100


def test_the_demos_new_entry_is_never_taught(conversations):
    text = json.dumps(conversations).lower()
    assert "price match" not in text and "lower price" not in text
    assert not re.search(r"\b14 days\b", text)


def test_copy_slices_hold_new_synthetic_entries_and_numbers_each(tmp_path):
    """One file per epoch (FinetuneConfig.fresh): alike in size, but no synthetic answer and few perturbed answers
    repeat across them, so the model cannot learn them by heart."""
    db = str(tmp_path / "bases.duckdb")
    add_bases(db)
    files = write_copy_slices(tmp_path, 3, str(DATA_EN), str(FAQ_EN), str(ROOT / "prompts" / "support_knowledge.yaml"),
                              db, seed=5, copies=1, synthetic=40)
    slices = [read_jsonl(f) for f in files]
    assert [f.name for f in files] == ["copy_data_00.jsonl", "copy_data_01.jsonl", "copy_data_02.jsonl"]
    assert len({len(s) for s in slices}) == 1 and len(slices[0]) > 40
    answers = [[c["messages"][-1]["content"] for c in s] for s in slices]
    synthetic = [a[-40:] for a in answers]
    assert len(set().union(*synthetic)) == 120  # 40 new entries in each
    assert len(set(answers[0][:-40]) & set(answers[1][:-40])) < len(answers[0]) // 4  # numbers changed anew
    assert slices[1] == read_jsonl(write_copy_data(tmp_path / "one.jsonl", str(DATA_EN), str(FAQ_EN),
                                                   str(ROOT / "prompts" / "support_knowledge.yaml"), db, copies=1,
                                                   synthetic=40, seed=6))  # file k: seed + k
    assert not re.search(r"\b14 days\b", json.dumps(slices))


def test_a_synthetic_entrys_question_uses_its_title_and_its_answer_is_its_first_sentence():
    faq = read_jsonl(FAQ_EN)
    rng = random.Random(3)
    for n in range(50):
        entry, question, answer = synthetic_entry(faq, word_pool(faq), rng, n)
        assert entry["text"].startswith(answer) and entry["id"] == f"syn-{n:03d}"
        assert entry["title"].lower() in question.lower()


def test_a_repeat_conversation_answers_with_its_system_turn_and_never_says_14(tmp_path):
    convs = read_jsonl(write_warmup_data(tmp_path / "warm.jsonl", str(FAQ_EN), 300, seed=2))
    assert len(convs) == 300
    for conv in convs:
        system, user, answer = conv["messages"]
        assert (system["role"], user["role"], answer["role"]) == ("system", "user", "assistant")
        assert answer["content"] == system["content"] and answer["weight"] == 1
        assert "14" not in NUMBER.findall(answer["content"])
    texts = [c["messages"][0]["content"] for c in convs]
    assert len(set(texts)) == 300  # nothing repeats, so nothing can be memorised
    assert sum(bool(NUMBER.search(t)) for t in texts) > 100  # digits to copy too
    assert convs == read_jsonl(write_warmup_data(tmp_path / "again.jsonl", str(FAQ_EN), 300, seed=2))
    assert repeat_conversation(["word"], random.Random(0))["messages"][1]["content"] == "Repeat the text."


def test_with_first_sentence_a_train_row_is_answered_by_its_top_passages_first_sentence():
    from workbench.authoring.templates import load_prompt

    prompt = load_prompt(ROOT / "prompts" / "support_knowledge.yaml")
    faq = read_jsonl(FAQ_EN)
    rows = [{"question": "How do I reset my password?", "split": "train"}, {"question": "held out", "split": "test"}]
    found = [[dict(faq[0], score=2.0), dict(faq[3], score=1.0)], [dict(faq[1], score=1.0)]]
    convs = copy_conversations(rows, found, faq, prompt, copies=0, synthetic=0, first_sentence=True)
    assert len(convs) == 1  # the held-out row is never used
    assert convs[0]["messages"][-1]["content"] == sentences(faq[0]["text"])[0]
    assert faq[3]["text"] in convs[0]["messages"][0]["content"]  # all its passages are in the context
    assert copy_conversations(rows, found, faq, prompt, copies=0, synthetic=0) == []


def test_a_default_model_with_copy_data_trains_on_it_too(monkeypatch, tmp_path):
    import dataclasses

    from workbench.finetune import default_model

    monkeypatch.setitem(default_model.RECIPE, "max_steps", 2)  # the code path, not the minutes
    en = default_model.MODELS["en"]
    small = {"hidden_size": 32, "intermediate_size": 64, "vocab_size": 1000}
    monkeypatch.setitem(default_model.MODELS, "en", dataclasses.replace(
        en, tiny={**en.tiny, **small}, copy_data={"copies": 1, "synthetic": 20}, warmup=40,
        recipe={"weight_decay": 0.05}))
    card = default_model.train_default_model(tmp_path / "m", progress=False, lang="en").card
    assert card["first_phase"]["examples"] == 40 and card["first_phase"]["steps"] == 2  # the warm-up ran first
    assert card["hyperparameters"]["weight_decay"] == 0.05  # the model's own recipe over RECIPE
    plain = 144 * len(en.sources[0][1])  # the 144 train rows through each prompt
    assert card["data"]["train_examples"] > plain + 20  # + the perturbed rows and the 20 synthetic entries
    assert card["data"]["eval_examples"] == 34 * len(en.sources[0][1])  # the copy data holds nothing out


def test_a_default_model_with_fresh_copy_data_trains_on_a_new_file_each_epoch(monkeypatch, tmp_path):
    import dataclasses

    from workbench.finetune import default_model

    en = default_model.MODELS["en"]
    small = {"hidden_size": 32, "intermediate_size": 64, "vocab_size": 1000, "layers": 1}
    monkeypatch.setitem(default_model.MODELS, "en", dataclasses.replace(
        en, tiny={**en.tiny, **small}, sources=(("datasets/support_en.jsonl", ("prompts/support_zero_shot.yaml",)),),
        copy_data={"copies": 0, "synthetic": 16}, fresh=True, recipe={"epochs": 2.5, "batch_size": 32}))
    card = default_model.train_default_model(tmp_path / "m", progress=False, lang="en").card
    assert card["fresh"] == {"files": 3, "examples_per_epoch": 16, "epochs_dealt": 3}  # a file for the half epoch too
    assert card["data"]["train_examples"] == 144 + 16  # an epoch's examples: the rows and one file
    assert "first_phase" not in card  # no warm-up asked for
