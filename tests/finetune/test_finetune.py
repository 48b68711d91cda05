"""Fine-tuning: SFT examples and their label mask, the three optimizers, the Trainer run, model card, errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.tiny_model import ZERO_SHOT, small_dataset
from workbench.errors import UserError
from workbench.finetune.data import IGNORE, Example, encode, load_examples

ROOT = Path(__file__).resolve().parents[2]
FEW_SHOT = ROOT / "prompts" / "support_few_shot.yaml"


@pytest.fixture(scope="module")
def tokenizer(tiny_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model[0])


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_tiny_finetune_saves_model_card_and_curve_and_loss_goes_down(tiny_model):
    folder, card, seconds = tiny_model
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "model_card.json",
                 "README.md", "loss_curve.png", "generation_config.json"):
        assert (folder / name).is_file(), name
    saved = json.loads((folder / "model_card.json").read_text())
    assert saved["trained_from_scratch"] is True and saved["base"].startswith("tiny")
    assert saved["optimizer"] == "adamw" and saved["hyperparameters"]["lr"] == 1e-2
    assert saved["data"]["hash"] and saved["data"]["rows"] == 45 and saved["data"]["rows_excluded_test_split"] == 9
    assert saved["data"]["train_examples"] + saved["data"]["eval_examples"] == 36
    assert saved["wall_seconds"] > 0 and saved["device"].startswith("cpu")
    steps = saved["loss"]["train_per_step"]
    assert len(steps) == saved["steps"] > 10
    first, last = steps[0]["loss"], sum(s["loss"] for s in steps[-3:]) / 3
    assert last < 0.7 * first
    evals = [e["eval_loss"] for e in saved["loss"]["eval_per_epoch"]]
    assert len(evals) == 12 and evals[-1] < evals[0]
    assert "Trained from scratch" in (folder / "README.md").read_text()
    assert (folder / "loss_curve.png").read_bytes()[:4] == b"\x89PNG"


def test_chat_template_saved_with_the_model(tiny_model, tokenizer):
    assert tokenizer.chat_template and "<|im_start|>" in tokenizer.chat_template
    msgs = [{"role": "system", "content": "Be Brief."}, {"role": "user", "content": "Where is my Refund?"}]
    text = tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    # user turns lower-cased, with a leading space, so one word is one token whatever its case and place
    assert text == "<|im_start|>system\nBe Brief.<|im_end|>\n<|im_start|>user\n where is my refund?<|im_end|>\n" \
                   "<|im_start|>assistant\n"


def test_label_mask_covers_exactly_the_prompt_tokens(tokenizer):
    msgs = [{"role": "system", "content": "Be brief.", "weight": 0},
            {"role": "user", "content": "How long does shipping take?", "weight": 0},
            {"role": "assistant", "content": "Standard delivery takes 3 to 5 business days.", "weight": 0},
            {"role": "user", "content": "Where is my order?", "weight": 0},
            {"role": "assistant", "content": "Go to Orders and select Track.", "weight": 1}]
    enc = encode(tokenizer, Example(msgs, "x:1", 0), 512)
    ids, labels = enc["input_ids"], enc["labels"]
    assert len(ids) == len(labels) == len(enc["attention_mask"])
    # the prompt is exactly the text the model sees before it answers
    prompt = tokenizer.apply_chat_template([{k: m[k] for k in ("role", "content")} for m in msgs[:-1]],
                                           tokenize=False, add_generation_prompt=True)
    n_prompt = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    assert all(lab == IGNORE for lab in labels[:n_prompt])
    assert labels[n_prompt:] == ids[n_prompt:]
    assert tokenizer.decode(ids[n_prompt:]) == "Go to Orders and select Track.<|im_end|>\n"


def test_every_weighted_assistant_turn_is_a_target(tokenizer):
    msgs = [{"role": "user", "content": "hi", "weight": 0}, {"role": "assistant", "content": "Hello!", "weight": 1},
            {"role": "user", "content": "bye", "weight": 0}, {"role": "assistant", "content": "Goodbye!", "weight": 1}]
    enc = encode(tokenizer, Example(msgs, "x:1", 0), 512)
    trained = [t for t, lab in zip(enc["input_ids"], enc["labels"]) if lab != IGNORE]
    assert tokenizer.decode(trained) == "Hello!<|im_end|>\nGoodbye!<|im_end|>\n"


def test_examples_from_prompts_leave_out_test_rows_and_can_eval_on_them(tmp_path):
    data = small_dataset(tmp_path / "d.jsonl")
    from workbench.authoring.templates import load_prompt

    prompts = [load_prompt(ZERO_SHOT), load_prompt(FEW_SHOT)]
    ex = load_examples(str(data), prompts, eval_split=0.2)
    assert ex.rows_total == 45 and ex.rows_excluded == 9
    assert len(ex.train) + len(ex.eval) == 36 * 2  # every row through both prompts
    assert not {e.row for e in ex.train} & {e.row for e in ex.eval}
    few = next(e for e in ex.train if len(e.messages) > 3)
    assert [m["weight"] for m in few.messages].count(1) == 1 and few.messages[-1]["weight"] == 1
    on_test = load_examples(str(data), prompts, eval_split="test")
    assert on_test.rows_excluded == 0 and len(on_test.eval) == 9 * 2 and len(on_test.train) == 36 * 2


def test_each_optimizer_builds_and_takes_a_step(tiny_model):
    import torch
    from pytorch_optimizer import Lamb
    from transformers import AutoModelForCausalLM

    from workbench.finetune.train import build_optimizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model[0])
    x = torch.randint(0, model.config.vocab_size, (2, 16))
    for name, cls in (("adamw", torch.optim.AdamW), ("sgd", torch.optim.SGD), ("lamb", Lamb)):
        opt = build_optimizer(name, model, lr=1e-3)
        assert type(opt) is cls
        before = [p.detach().clone() for p in model.parameters()]
        loss = model(input_ids=x, labels=x).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters())), name


def test_finetune_a_saved_model_on_chat_jsonl_through_the_cli(tiny_model, tmp_path, cli):
    """A local checkpoint as --base (what a Qwen or Llama folder goes through), OpenAI chat JSONL, LAMB."""
    rows = [{"messages": [{"role": "system", "content": "You are Northwind's assistant."},
                          {"role": "user", "content": f"Where is order #{n}?"},
                          {"role": "assistant", "content": "Open Orders and choose Track package."}]}
            for n in range(12)]
    data = write_jsonl(tmp_path / "chats.jsonl", rows)
    out = tmp_path / "models" / "tuned"
    r = cli("finetune", "--data", data, "--base", tiny_model[0], "--optimizer", "lamb", "--epochs", "2",
            "--batch-size", "4", "--out", out, "--quiet")
    assert r.code == 0, r.err
    assert "saved" in r.out and f"hf:{out.as_posix()}" in r.out
    card = json.loads((out / "model_card.json").read_text())
    assert card["trained_from_scratch"] is False and card["base"] == str(tiny_model[0])
    assert card["optimizer"] == "lamb" and card["data"]["source"] == "messages"
    assert card["hyperparameters"]["lr"] == 1e-3  # pretrained default for lamb
    from workbench.providers import make_provider

    provider = make_provider(f"hf:{out}")
    (result,) = provider.generate([rows[0]["messages"][:2]], {"max_tokens": 8})
    assert result.tokens_out >= 1


@pytest.mark.parametrize("case", ["empty", "no_assistant", "bad_role", "no_messages", "all_test"])
def test_bad_data_is_one_line_exit_2(case, tmp_path, cli):
    path = tmp_path / "d.jsonl"
    if case == "empty":
        path.write_text("")
        expect = "file is empty"
    elif case == "no_assistant":
        write_jsonl(path, [{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]},
                           {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}]}])
        expect = "d.jsonl:2: conversation has no assistant message"
    elif case == "bad_role":
        write_jsonl(path, [{"messages": [{"role": "tool", "content": "x"}, {"role": "assistant", "content": "y"}]}])
        expect = "role 'tool'"
    elif case == "no_messages":
        write_jsonl(path, [{"question": "q", "reference": "a"}])
        expect = "give --prompt"
    else:
        write_jsonl(path, [{"question": "q", "reference": "a", "split": "test"}])
        expect = "no rows left to train on"
    extra = ["--prompt", ZERO_SHOT] if case == "all_test" else []
    r = cli("finetune", "--data", path, "--base", "tiny", "--out", tmp_path / "m", *extra)
    assert r.code == 2, r.err
    assert expect in r.err and len(r.err.strip().splitlines()) == 1
    assert not (tmp_path / "m").exists()


def test_unknown_optimizer_is_one_line_exit_2(tmp_path, cli):
    data = small_dataset(tmp_path / "d.jsonl")
    r = cli("finetune", "--data", data, "--prompt", ZERO_SHOT, "--base", "tiny", "--optimizer", "rmsprop",
            "--out", tmp_path / "m")
    assert r.code == 2
    assert r.err.strip() == "workbench: error: --optimizer: unknown optimizer 'rmsprop' (expected one of adamw, sgd, lamb)"


@pytest.mark.parametrize("case", ["missing", "not_a_model", "no_chat_template"])
def test_bad_base_is_one_line_exit_2(case, tiny_model, tmp_path, cli):
    data = small_dataset(tmp_path / "d.jsonl")
    base = tmp_path / "base"
    if case == "not_a_model":
        base.mkdir()
        (base / "notes.txt").write_text("not a model")
        expect = "no config.json"
    elif case == "no_chat_template":
        shutil.copytree(tiny_model[0], base)
        (base / "chat_template.jinja").unlink()
        cfg = json.loads((base / "tokenizer_config.json").read_text())
        cfg.pop("chat_template", None)
        (base / "tokenizer_config.json").write_text(json.dumps(cfg))
        expect = "has no chat template"
    else:
        expect = "model folder not found"
    r = cli("finetune", "--data", data, "--prompt", ZERO_SHOT, "--base", base, "--out", tmp_path / "m")
    assert r.code == 2, r.err
    assert expect in r.err and len(r.err.strip().splitlines()) == 1


def test_bad_options_raise_user_errors(tmp_path):
    from workbench.finetune.train import FinetuneConfig, check_config

    for kwargs in ({"lr": -1.0}, {"epochs": 0}, {"batch_size": 0}, {"device": "tpu"}):
        with pytest.raises(UserError):
            check_config(FinetuneConfig(data="d.jsonl", out=str(tmp_path / "m"), **kwargs))
    with pytest.raises(UserError, match="fraction must be in"):
        load_examples(str(small_dataset(tmp_path / "d.jsonl")), None, eval_split="1.5")


def test_a_first_phase_trains_before_the_data_and_leaves_the_vocabulary_to_it(tmp_path):
    """FinetuneConfig.first (a curriculum): its conversations train first, in random batches, and the card records
    the phase; the tokenizer learns from the main data only, so 200 lines of one made-up word do not become tokens."""
    from workbench.finetune import finetune
    from workbench.finetune.tiny import TinySpec
    from workbench.finetune.train import FinetuneConfig

    lines = [{"messages": [{"role": "system", "content": f"zqxvwk {n} " * 4}, {"role": "user", "content": "Repeat."},
                           {"role": "assistant", "content": f"zqxvwk {n} " * 4}]} for n in range(200)]
    first = write_jsonl(tmp_path / "first.jsonl", lines)
    cfg = FinetuneConfig(data=str(small_dataset(tmp_path / "d.jsonl")), out=str(tmp_path / "m"), prompts=[str(ZERO_SHOT)],
                         first=str(first), first_epochs=0.1, first_lr=0.01, epochs=1, batch_size=8, progress=False,
                         tiny=TinySpec(vocab_size=600, hidden_size=32, layers=1, intermediate_size=64))
    card = finetune(cfg).card
    assert card["first_phase"]["examples"] == 200 and card["first_phase"]["steps"] == 3  # 0.1 of 25 batches
    assert card["steps"] == -(-card["data"]["train_examples"] // 8)  # then the main phase, one epoch
    # length-grouped batches kept copying from forming in the warm-up; the main phase keeps its grouping
    assert (card["first_phase"]["sampling"], card["hyperparameters"]["sampling"]) == ("random", "group_by_length")
    assert (card["first_phase"]["lr"], card["hyperparameters"]["lr"]) == (0.01, 3e-3)  # its own rate, then the default
    from transformers import AutoTokenizer

    assert len(AutoTokenizer.from_pretrained(tmp_path / "m").tokenize(" zqxvwk")) > 2


def test_fresh_files_are_dealt_out_one_per_epoch(tmp_path):
    """FinetuneConfig.fresh: epoch k trains on the fixed examples and file k (cyclically); the card says so."""
    from workbench.finetune import finetune
    from workbench.finetune.tiny import TinySpec
    from workbench.finetune.train import EpochSlices, FinetuneConfig

    slices = EpochSlices(["a", "b"], [["x0", "y0", "z0"], ["x1", "y1"]])
    step = slices.callback()
    assert len(slices) == 4 and list(slices) == ["a", "b", "x0", "y0"]  # the shortest file sets the epoch's size
    for epoch in (["x0", "y0"], ["x1", "y1"], ["x0", "y0"]):  # each epoch's begin moves on a file, cyclically
        step.on_epoch_begin(None, None, None)
        assert list(slices)[2:] == epoch
    with pytest.raises(IndexError):
        slices[4]

    files = [write_jsonl(tmp_path / f"f{k}.jsonl", [{"messages": [{"role": "user", "content": f"say {k} {n}"},
                                                                   {"role": "assistant", "content": f"{k} {n}"}]}
                                                     for n in range(8)]) for k in range(2)]
    cfg = FinetuneConfig(data=str(small_dataset(tmp_path / "d.jsonl")), out=str(tmp_path / "m"), prompts=[str(ZERO_SHOT)],
                         fresh=[str(f) for f in files], epochs=3, batch_size=8, progress=False,
                         tiny=TinySpec(vocab_size=600, hidden_size=32, layers=1, intermediate_size=64))
    card = finetune(cfg).card
    assert card["fresh"] == {"files": 2, "examples_per_epoch": 8, "epochs_dealt": 3}
    assert card["steps"] == 3 * -(-card["data"]["train_examples"] // 8)  # the fixed rows and a file's 8, each epoch
