"""Fine-tuning through knowledge prompts, the languages a model card records, the warning when a dataset is in
another one, and `workbench eval` without --model."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import DATA_EN, DATA_ZH, ROOT
from workbench.errors import UserError
from workbench.finetune.card import language_warnings
from workbench.finetune.data import load_examples, merge_examples
from workbench.knowledge import add_base

PROMPTS = ROOT / "prompts"


def test_a_knowledge_prompt_trains_with_the_passages_retrieved_for_each_row(db):
    from workbench.authoring.templates import load_prompt

    prompt = load_prompt(PROMPTS / "support_knowledge.yaml")
    with pytest.raises(UserError, match="support_knowledge.yaml: knowledge.base"):
        load_examples(str(DATA_EN), [prompt], eval_split="test", db=db)  # no base yet: named before training
    add_base("faq_en", [str(ROOT / "datasets" / "faq_en.jsonl")], db=db)
    ex = load_examples(str(DATA_EN), [prompt], eval_split="test", db=db)
    first = ex.train[0]
    faq = {json.loads(line)["id"]: json.loads(line) for line in (ROOT / "datasets" / "faq_en.jsonl").open()}
    row = json.loads(DATA_EN.open().readline())
    assert first.messages[-1] == {"role": "assistant", "content": row["reference"], "weight": 1}
    system = first.messages[0]["content"]
    assert f"[{row['faq_id']}]" in system and faq[row["faq_id"]]["text"] in system  # its own entry
    assert ex.prompts[0]["knowledge"]["base"] == "faq_en" and len(ex.prompts[0]["knowledge"]["version"]) == 16
    assert ex.languages == ["en"]


def test_two_sources_train_together_and_the_card_names_both_languages(db):
    from workbench.authoring.templates import load_prompt

    en = load_examples(str(DATA_EN), [load_prompt(PROMPTS / "support_zero_shot.yaml")], eval_split="test")
    zh = load_examples(str(DATA_ZH), [load_prompt(PROMPTS / "support_zh_zero_shot.yaml")], eval_split="test")
    both = merge_examples(en, zh)
    assert len(both.train) == len(en.train) + len(zh.train) and both.languages == ["en", "zh"]
    assert both.rows_total == 178 + 130 and both.dataset_hash == f"{en.dataset_hash}+{zh.dataset_hash}"


def test_a_dataset_in_a_language_the_model_never_saw_is_warned_about(tiny_model, cli, db):
    folder, card, _ = tiny_model
    assert card["data"]["languages"] == ["en"]
    spec = f"hf:{folder}"
    assert language_warnings([spec, "openai:gpt-4o-mini"], "en") == []
    (line,) = language_warnings([spec], "zh")
    assert line.startswith(f"{spec} was trained on English only, and this dataset is Chinese")
    assert language_warnings([spec], "auto") == [line]  # mixed rows: the Chinese ones are new to it
    res = cli("eval", PROMPTS / "support_zh_zero_shot.yaml", "--data", DATA_ZH, "--model", spec, "--limit", "1")
    assert res.code == 0, res.err
    assert f"workbench: warning: {spec} was trained on English only, and this dataset is Chinese" in res.err
    res = cli("eval", PROMPTS / "support_zero_shot.yaml", "--data", DATA_EN, "--model", spec, "--limit", "1")
    assert res.code == 0 and "warning" not in res.err


def test_each_bundled_model_says_its_language():
    card = json.loads((ROOT / "models" / "support-tiny" / "model_card.json").read_text(encoding="utf-8"))
    assert card["data"]["languages"] == ["en"]
    spec = f"hf:{ROOT / 'models' / 'support-tiny'}"
    assert language_warnings([spec], "en") == []
    assert "trained on English only, and this dataset is Chinese" in language_warnings([spec], "zh")[0]
    card = json.loads((ROOT / "models" / "support-tiny-zh" / "model_card.json").read_text(encoding="utf-8"))
    assert card["data"]["languages"] == ["zh"]
    spec = f"hf:{ROOT / 'models' / 'support-tiny-zh'}"
    assert language_warnings([spec], "zh") == []
    assert "trained on Chinese only, and this dataset is English" in language_warnings([spec], "en")[0]


def test_eval_without_a_model_uses_the_apps_default_and_says_which(cli, openai_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    res = cli("eval", PROMPTS / "support_zero_shot.yaml", "--data", DATA_EN, "--limit", "2", "--json")
    assert res.code == 0, res.err
    assert "no --model given: using openai:gpt-4o-mini (OPENAI_API_KEY is set)" in res.err
    assert [r["model"] for r in res.json()["runs"]] == ["openai:gpt-4o-mini"]


@pytest.mark.slow  # loads PyTorch and the bundled model
def test_eval_without_a_model_or_key_runs_the_bundled_model(cli, monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("WORKBENCH_MODELS_DIR", raising=False)
    res = cli("eval", PROMPTS / "support_zero_shot.yaml", "--data", DATA_EN, "--limit", "2", "--json")
    assert res.code == 0, res.err
    assert ("no --model given: using hf:models/support-tiny (the bundled local model for English; no OPENAI_API_KEY "
            "set)") in res.err
    assert "warning" not in res.err  # an English dataset on the English model
    assert [r["model"] for r in res.json()["runs"]] == ["hf:models/support-tiny"]


@pytest.mark.slow  # loads PyTorch and the bundled Chinese model
def test_eval_without_a_model_on_chinese_data_runs_the_chinese_model_and_answers_in_chinese(cli, monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("WORKBENCH_MODELS_DIR", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    res = cli("eval", PROMPTS / "support_zh_zero_shot.yaml", "--data", DATA_ZH, "--where", "split == 'test'",
              "--limit", "3", "--json")
    assert res.code == 0, res.err
    assert ("no --model given: using hf:models/support-tiny-zh (the bundled local model for Chinese; no "
            "OPENAI_API_KEY set)") in res.err
    assert "warning" not in res.err  # a Chinese dataset on the Chinese model
    (run,) = res.json()["runs"]
    assert run["model"] == "hf:models/support-tiny-zh" and run["errors"] == 0
    from workbench import store

    with store.connect(res.json()["db"]) as con:
        texts = list(store.load_outputs(con, run["run_id"])["text"])
    assert len(texts) == 3
    for text in texts:  # held-out paraphrases, answered in Chinese: mostly CJK characters, no English sentence
        cjk = sum("\u4e00" <= ch <= "\u9fff" for ch in text)  # (names such as PayPal or Apple Pay may appear)
        assert cjk >= 10 and cjk >= 0.6 * len(text.replace(" ", "")), text
        assert not re.search(r"(?:[A-Za-z]+ ){3,}", text), text


def test_split_cjk_makes_each_chinese_character_a_token():
    from workbench.finetune.tiny import build_tokenizer

    turns = [("user", "忘记密码了怎么办？"), ("assistant", "在登录页点击“忘记密码”，输入账户邮箱。")] * 5
    split = build_tokenizer(turns, 600, split_cjk=True)
    assert [split.convert_tokens_to_string([t]) for t in split.tokenize("忘记密码")] == ["忘", "记", "密", "码"]
    assert split.decode(split.encode("没见过的字 mixed text")) == "没见过的字 mixed text"  # bytes still cover all
    whole = build_tokenizer(turns, 600)  # byte-level BPE alone merges across characters
    assert len(whole.tokenize("忘记密码")) < 4
