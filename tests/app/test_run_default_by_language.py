"""The Run page's preselected model, left alone, becomes the local model of the dataset's language (issue 21)."""

from __future__ import annotations

import shutil

import pytest

from tests.app.test_app_pages import app_dirs, no_exceptions, page  # noqa: F401 - app_dirs is autouse
from tests.conftest import ROOT
from workbench import store


@pytest.mark.slow  # runs the bundled Chinese model on two rows
def test_a_chinese_dataset_runs_on_the_chinese_local_model(db, app_dirs, monkeypatch):  # noqa: F811
    shutil.copy(ROOT / "prompts" / "support_zh_zero_shot.yaml", app_dirs)
    monkeypatch.setenv("WORKBENCH_MODELS_DIR", str(ROOT / "models"))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    en, zh = f"hf:{(ROOT / 'models' / 'support-tiny').as_posix()}", f"hf:{(ROOT / 'models' / 'support-tiny-zh').as_posix()}"
    at = page("run").run()
    assert at.multiselect(key="run_models").value == [en]  # the English interface's default
    assert zh in at.multiselect(key="run_models").options
    at.multiselect(key="run_prompts").set_value(["support_zh_zero_shot.yaml (file)"])
    options = at.selectbox(key="run_dataset").options
    at.selectbox(key="run_dataset").select_index(options.index("support_zh.jsonl"))
    at.text_input(key="run_where").set_value("split == 'test'")
    at.number_input(key="run_limit").set_value(2)
    at.button[0].click().run()
    no_exceptions(at)
    assert any(zh in i.value and "local model for its language" in i.value for i in at.info), [i.value for i in at.info]
    assert not at.warning  # no "trained on English only" warning: the Chinese model was run
    from workbench.app.context import job_registry

    job = next(j for j in job_registry().list() if j.db == db)
    assert job.wait(120) and job.error is None
    with store.connect(db) as con:
        runs = store.list_runs(con)
    assert runs["model_spec"].tolist() == [zh] and runs["n_outputs"].tolist() == [2]
