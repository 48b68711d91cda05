"""DPO on a pairwise session's export: trl's DPOTrainer with LoRA or on the whole model, and bad pair files."""

from __future__ import annotations

import json

import pytest

from tests.annotation_runs import make_runs
from workbench import store
from workbench.rating import annotation as an

VARIANTS = [("support_zero_shot", "openai:good"), ("support_zero_shot", "openai:vague")]
TIES = 2


def answer(v: int, row: dict) -> str:
    return row["reference"] if v == 0 else f"Sorry, I can't help with {row['intent'].replace('_', ' ')}."


@pytest.fixture
def session(db):
    """A blind pairwise session over two runs where the annotator prefers the real answer, bar TIES ties."""
    runs = make_runs(db, VARIANTS, n_rows=12, answer=answer)
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec(runs, pairwise=True, seed=4, annotators=["sim"], name="loop"))
        items = store.item_outputs(con, sid)
        for k, (idx, run_a) in enumerate(zip(items["item_idx"], items["run_a"])):
            vote = "tie" if k < TIES else "A" if run_a == runs[0] else "B"
            an.record_rating(con, sid, int(idx), "sim", vote)
    return sid


@pytest.fixture
def pairs(session, tmp_path, cli):
    out = tmp_path / "pairs.jsonl"
    r = cli("annotate", "export", session, "--format", "dpo", "-o", out)
    assert r.code == 0, r.err
    return out


@pytest.mark.slow
def test_dpo_with_lora_on_a_session_export_widens_the_reward_margin(session, pairs, tiny_model, tmp_path, cli):
    out = tmp_path / "dpo"
    r = cli("finetune", "--method", "dpo", "--data", pairs, "--base", tiny_model[0], "--lora", "--session", session,
            "--lr", "1e-2", "--max-steps", "8", "--batch-size", "4", "--eval-split", "0.2", "--out", out, "--json")
    assert r.code == 0, r.err
    card = r.json()
    assert card["method"] == "dpo" and card["steps"] == 8 and card["adapter"]["trainable_share"] < 1
    s = card["data"]["session"]
    assert s["id"] == session and s["name"] == "loop" and s["items"] == 12 and s["votes"] == 12
    assert s["votes_by_value"]["tie"] == TIES and s["items_with_majority"] == 12 - TIES
    assert card["data"]["pairs"] == 12 - TIES and card["data"]["train_pairs"] + card["data"]["eval_pairs"] == 10
    margins = [m["margin"] for m in card["dpo"]["margins_per_step"]]
    assert len(margins) == 8
    assert margins[0] == pytest.approx(0, abs=1e-6)  # the adapter starts at zero: policy == reference
    assert sum(margins[-3:]) / 3 > 0.5, margins
    assert card["dpo"]["eval"] and card["dpo"]["eval"][-1]["margin"] > 0
    assert (out / "adapter_config.json").is_file() and "session `" in (out / "README.md").read_text()
    from workbench.providers import make_provider

    prompt = json.loads(pairs.read_text().splitlines()[0])["prompt"]
    (done,) = make_provider(f"hf:{out}").generate([prompt], {"max_tokens": 16})
    assert done.tokens_out >= 1


@pytest.mark.slow
def test_dpo_on_the_whole_model_saves_a_model(pairs, tiny_model, tmp_path, cli):
    out = tmp_path / "full"
    r = cli("finetune", "--method", "dpo", "--data", pairs, "--base", tiny_model[0], "--lr", "1e-3",
            "--max-steps", "4", "--batch-size", "4", "--eval-split", "0", "--out", out, "--json")
    assert r.code == 0, r.err
    card = r.json()
    assert "adapter" not in card and "frozen copy" in card["objective"] and card["data"]["session"] is None
    margins = [m["margin"] for m in card["dpo"]["margins_per_step"]]
    assert margins[0] == pytest.approx(0, abs=1e-5) and margins[-1] > margins[0]
    assert (out / "config.json").is_file() and (out / "model.safetensors").is_file()


def write(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


GOOD = {"prompt": "Where is my order?", "chosen": "Open Orders and choose Track.", "rejected": "No idea."}


@pytest.mark.parametrize("case", ["no_rejected", "bad_json", "empty_chosen", "bad_message", "split_name"])
def test_bad_pair_files_are_one_line_naming_file_and_line(case, tiny_model, tmp_path, cli):
    path = tmp_path / "pairs.jsonl"
    extra = []
    if case == "no_rejected":
        write(path, [GOOD, {"prompt": "Hi", "chosen": "Hello!"}])
        expect = "pairs.jsonl:2: no 'rejected' field (a DPO pair needs prompt, chosen, rejected)"
    elif case == "bad_json":
        write(path, [GOOD, GOOD, "{oops"])
        expect = "pairs.jsonl:3: not valid JSON"
    elif case == "empty_chosen":
        write(path, [{**GOOD, "chosen": " "}])
        expect = "pairs.jsonl:1: 'chosen' must be a non-empty answer text"
    elif case == "bad_message":
        write(path, [GOOD, {**GOOD, "prompt": [{"role": "robot", "content": "x"}]}])
        expect = "pairs.jsonl:2: prompt message 1 needs a role"
    else:
        write(path, [GOOD, GOOD])
        extra, expect = ["--eval-split", "test"], "--eval-split: DPO pairs have no split field"
    r = cli("finetune", "--method", "dpo", "--data", path, "--base", tiny_model[0], "--lora", "--out",
            tmp_path / "m", *extra)
    assert r.code == 2, r.err
    assert expect in r.err and len(r.err.strip().splitlines()) == 1, r.err
    assert not (tmp_path / "m").exists()


def test_session_that_rates_single_outputs_is_refused(db, tiny_model, tmp_path, cli):
    runs = make_runs(db, VARIANTS[:1], n_rows=3, answer=answer)
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec(runs, seed=1, annotators=["sim"]))
    path = write(tmp_path / "pairs.jsonl", [GOOD])
    r = cli("finetune", "--method", "dpo", "--data", path, "--base", tiny_model[0], "--session", sid,
            "--out", tmp_path / "m")
    assert r.code == 2 and f"--session: session {sid} rates single outputs, not pairs" in r.err


def test_learning_rate_defaults_per_method():
    from workbench.finetune.lora import LoraOptions
    from workbench.finetune.train import FinetuneConfig, default_lr

    def lr(**kw):
        return default_lr(FinetuneConfig(data="d.jsonl", out="m", base="models/x", **kw))

    assert lr(method="dpo") == 1e-6  # trl's default for the whole model
    assert lr(method="dpo", lora=LoraOptions()) == 5e-5
    assert lr(lora=LoraOptions()) == 2e-4 and lr() == 2e-5
    assert lr(method="dpo", lr=3e-3) == 3e-3
