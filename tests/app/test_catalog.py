"""Datasets and models the app offers."""

from __future__ import annotations

import json

from tests.conftest import DATA_EN, ROOT
from workbench import store
from workbench.app import catalog
from workbench.errors import DatasetError


def test_dataset_choices_files_then_stored(tmp_path, monkeypatch, db):
    monkeypatch.setenv("WORKBENCH_DATASETS", str(DATA_EN.parent))
    choices = catalog.dataset_choices(db)
    assert choices[0].kind == "file" and all(c.kind == "file" for c in choices)
    ds = catalog.load_upload("mine.jsonl", b'{"question": "q", "reference": "r"}\n')
    h = catalog.save_dataset(ds, db)
    stored = [c for c in catalog.dataset_choices(db) if c.kind == "stored"]
    assert [c.ref for c in stored] == [h]
    back = catalog.open_dataset(stored[0], db)
    assert back.rows == ds.rows and back.hash == h and back.path == "mine.jsonl"


def test_uploads_name_the_uploaded_file_in_errors():
    try:
        catalog.load_upload("data.jsonl", b'{"a": 1}\nnot json\n')
    except DatasetError as e:
        assert e.where == "data.jsonl" and "line 2" in e.message and "/tmp" not in str(e)
    else:
        raise AssertionError("no error")


def test_local_models_and_cards(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_MODELS_DIR", str(tmp_path))
    (tmp_path / "tiny").mkdir()
    (tmp_path / "tiny" / "config.json").write_text("{}")
    (tmp_path / "tiny" / "model_card.json").write_text(json.dumps({"base": "tiny", "epochs": 3}))
    (tmp_path / "not-a-model").mkdir()
    models = catalog.local_models()
    assert [(m.name, m.card) for m in models] == [("tiny", {"base": "tiny", "epochs": 3})]
    assert models[0].spec == f"hf:{tmp_path.as_posix()}/tiny"


def test_default_model_follows_the_key(monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    assert catalog.default_model_spec().startswith("openai:")
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setenv("WORKBENCH_MODELS_DIR", str(tmp_path))  # no trained local model there
    assert catalog.default_model_spec() is None


def test_a_default_left_alone_becomes_the_local_model_of_the_datasets_language(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("WORKBENCH_MODELS_DIR", raising=False)
    monkeypatch.chdir(ROOT)
    from workbench.finetune.default_model import MODELS

    assert catalog.LOCAL_LANGS == tuple(MODELS)  # the app offers every bundled language's model
    en, zh = catalog.default_model_spec("en"), catalog.default_model_spec("zh")
    assert (en, zh) == ("hf:models/support-tiny", "hf:models/support-tiny-zh")
    assert catalog.default_for_dataset([en], "zh") == ([zh], [(en, zh)])
    assert catalog.default_for_dataset([zh, "openai:x"], "en") == ([en, "openai:x"], [(zh, en)])
    assert catalog.default_for_dataset([en, zh], "zh") == ([zh], [(en, zh)])
    assert catalog.default_for_dataset([zh], "zh") == ([zh], [])
    assert catalog.default_for_dataset(["hf:models/mine"], "zh") == (["hf:models/mine"], [])
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")  # with a key the default is the API model: nothing to swap
    assert catalog.default_for_dataset([en], "zh") == ([en], [])


def test_try_message_against_the_loopback_server(openai_server):
    done = catalog.try_message(f"openai:test@{openai_server.base_url}", "How are you?")
    assert done.text == "You said: How are you?" and done.tokens_out > 0


def test_stored_dataset_listing(db):
    with store.connect(db) as con:
        assert store.list_datasets(con).empty
