"""Every page of the app through Streamlit's AppTest: renders on an empty and on a populated database,
and the main interactions work (edit -> preview, save -> version, start a run, filter Compare)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import DATA_EN, ROOT
from workbench import store
from workbench.authoring.datasets import load_dataset
from workbench.authoring.templates import load_prompt
from workbench.engine import runner
from workbench.metrics import parse_metrics

APP = ROOT / "workbench" / "app"
PAGES = ["prompts", "datasets", "knowledge", "models", "run", "compare", "export"]


@pytest.fixture(autouse=True)
def app_dirs(tmp_path, monkeypatch):
    """Prompts are saved into a copy in tmp_path, never into the repository's prompts/."""
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    for name in ("support_few_shot.yaml", "support_zero_shot.yaml"):
        (prompts / name).write_text((ROOT / "prompts" / name).read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setenv("WORKBENCH_PROMPTS", str(prompts))
    monkeypatch.setenv("WORKBENCH_DATASETS", str(ROOT / "datasets"))
    monkeypatch.setenv("WORKBENCH_MODELS_DIR", str(tmp_path / "models"))
    return prompts


def page(name: str) -> AppTest:
    return AppTest.from_file(str(APP / "views" / f"{name}.py"), default_timeout=60)


def populate(db: str, base_url: str, rows: int = 8) -> list[str]:
    prompts = [load_prompt(ROOT / "prompts" / "support_few_shot.yaml"),
               load_prompt(ROOT / "prompts" / "support_zero_shot.yaml")]
    plan = runner.plan_eval(prompts, load_dataset(DATA_EN), [f"openai:test@{base_url}"],
                            parse_metrics("exact,bleu,latency_ms"), limit=rows)
    return asyncio.run(runner.execute(plan, db))


def no_exceptions(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


@pytest.mark.parametrize("name", PAGES)
def test_every_page_renders_on_an_empty_database(name):
    at = page(name).run()
    no_exceptions(at)


def test_main_navigates_every_page():
    at = AppTest.from_file(str(APP / "main.py"), default_timeout=60).run()
    no_exceptions(at)


def test_reruns_leave_sys_path_alone(monkeypatch):
    """Background runs read sys.path while pages rerun: after the first run, a rerun must not edit it."""
    import sys

    monkeypatch.setattr(sys, "path", list(sys.path))
    at = AppTest.from_file(str(APP / "main.py"), default_timeout=60).run()
    before = list(sys.path)
    assert sys.path.count(str(APP)) == 1
    edits = []
    monkeypatch.setattr(sys, "path", type("Watched", (list,), {
        "insert": lambda self, *a: (edits.append(a), list.insert(self, *a)),
        "remove": lambda self, x: (edits.append(x), list.remove(self, x))})(sys.path))
    at.run()
    no_exceptions(at)
    assert edits == [] and list(sys.path) == before
    assert at.title[0].value == "Prompts"
    for name in PAGES[1:]:
        at.switch_page(f"views/{name}.py").run()
        no_exceptions(at)
        assert at.title[0].value.lower() == name


def test_every_page_renders_on_a_populated_database(db, openai_server):
    populate(db, openai_server.base_url)
    for name in PAGES:
        at = page(name).run()
        no_exceptions(at)
    at = page("compare").run()
    assert any("support_few_shot" in m.value.replace("\\", "") for m in at.markdown)  # the variants' legend
    assert list(at.table[0].value.columns) == ["", "A", "B"]  # one column per variant
    assert at.get("html"), "the grid is drawn"


def test_editing_a_template_changes_the_preview():
    at = page("prompts").run()
    assert at.selectbox(key="prompt_source").value == "support_few_shot.yaml"
    bubbles = [c for c in at.chat_message]
    last = bubbles[-1].children[0].value
    assert "forgot my password" in last.lower()  # row 1 of support_en, the first dataset with `question`
    uid = at.session_state["draft_msgs"][-1]
    at.text_area(key=f"content_{uid}").set_value("Customer asks: {{ question | upper }}").run()
    no_exceptions(at)
    assert at.chat_message[-1].children[0].value.startswith("Customer asks: I FORGOT MY PASSWORD")


def test_template_errors_are_shown_inline_with_their_line():
    at = page("prompts").run()
    uid = at.session_state["draft_msgs"][0]
    at.text_area(key=f"content_{uid}").set_value("line one\n{{ question }\nline three").run()
    no_exceptions(at)
    assert any("syntax error" in e.value and "line 2" in e.value for e in at.error)
    assert any(c.value == "{{ question }" for c in at.code)
    save = next(b for b in at.button if b.label == "Save as new version")
    assert save.disabled

    at.text_area(key=f"content_{uid}").set_value("Hello {{ customer_name }}").run()
    assert any("customer_name" in e.value.replace("\\", "") for e in at.error), "the missing variable is named"


def test_saving_writes_a_new_version_file_and_row(app_dirs, db):
    at = page("prompts").run()
    uid = at.session_state["draft_msgs"][-1]
    at.text_input(key="draft_name").set_value("edited_support")
    at.text_area(key=f"content_{uid}").set_value("Q: {{ question }}").run()
    next(b for b in at.button if b.label == "Save as new version").click().run()
    no_exceptions(at)
    path = app_dirs / "edited_support.yaml"
    assert path.exists() and "Q: {{ question }}" in path.read_text(encoding="utf-8")
    with store.connect(db) as con:
        versions = store.list_prompt_versions(con, "edited_support")
    assert len(versions) == 1
    assert any("Saved version" in s.value for s in at.success)
    assert at.selectbox(key="prompt_source").value == "edited_support.yaml"

    # The same content again is not a new version; a change is.
    next(b for b in at.button if b.label == "Save as new version").click().run()
    assert any("No change" in s.value for s in at.success)
    uid = at.session_state["draft_msgs"][-1]
    at.text_area(key=f"content_{uid}").set_value("Question: {{ question }}").run()
    next(b for b in at.button if b.label == "Save as new version").click().run()
    with store.connect(db) as con:
        assert len(store.list_prompt_versions(con, "edited_support")) == 2
    diff = at.code[-1].value
    assert "-  content: 'Q: {{ question }}'" in diff and "+  content: 'Question: {{ question }}'" in diff


def test_examples_editor_reorders_and_renders_as_turns():
    at = page("prompts").run()
    # support_few_shot sends its three examples as turns: system, 3 x (user, assistant), user
    roles = [c.name for c in at.chat_message]
    assert roles == ["system"] + ["user", "assistant"] * 3 + ["user"]
    at.radio(key="draft_examples_as").set_value("inline").run()
    no_exceptions(at)
    assert [c.name for c in at.chat_message] == ["system", "user"]  # the template doesn't loop over them


def test_starting_a_run_shows_it_and_finishes(db, openai_server):
    at = page("run").run()
    at.multiselect(key="run_prompts").set_value(["support_zero_shot.yaml (file)"])
    at.text_input(key="run_extra_model").set_value(f"openai:test@{openai_server.base_url}")
    at.multiselect(key="run_models").set_value([])
    options = at.selectbox(key="run_dataset").options
    at.selectbox(key="run_dataset").select_index(next(i for i, o in enumerate(options) if o == "support_en.jsonl"))
    at.number_input(key="run_limit").set_value(5)
    at.button[0].click().run()
    no_exceptions(at)
    assert any("Started 1 run" in s.value for s in at.success), [e.value for e in at.error]
    from workbench.app.context import job_registry  # process-wide, as in the app

    job = next(j for j in job_registry().list() if j.db == db)
    assert job.wait(30) and job.error is None
    at.run()
    no_exceptions(at)
    with store.connect(db) as con:
        runs = store.list_runs(con)
    assert runs["status"].tolist() == ["done"] and runs["n_outputs"].tolist() == [5]


def test_a_run_takes_metrics_with_options(db, openai_server):
    """Issue 17: parameterised metric names are accepted by the app as by --metrics."""
    at = page("run").run()
    at.multiselect(key="run_prompts").set_value(["support_zero_shot.yaml (file)"])
    at.text_input(key="run_extra_model").set_value(f"openai:test@{openai_server.base_url}")
    at.multiselect(key="run_models").set_value([])
    options = at.selectbox(key="run_dataset").options
    at.selectbox(key="run_dataset").select_index(next(i for i, o in enumerate(options) if o == "support_en.jsonl"))
    at.number_input(key="run_limit").set_value(3)
    at.multiselect(key="run_metrics").set_value(["bleu"])
    at.text_input(key="run_more_metrics").set_value("bleu(tok=intl,smooth=floor), corpus_bleu")
    at.button[0].click().run()
    no_exceptions(at)
    from workbench.app.context import job_registry

    job = next(j for j in job_registry().list() if j.db == db)
    assert job.wait(30) and job.error is None
    with store.connect(db) as con:
        run = store.get_run(con, store.list_runs(con)["id"].tolist()[0])
    assert [m["name"] for m in run["metrics"]] == ["bleu", "bleu", "corpus_bleu"]
    assert set(run["signatures"]) == {"bleu", "bleu(smooth=floor,tok=intl)", "corpus_bleu"}


def test_compare_filters_and_searches(db, openai_server):
    populate(db, openai_server.base_url, rows=12)
    at = page("compare").run()
    no_exceptions(at)
    html = at.get("html")[0].proto.body
    assert html.count("<td class='idx'>") == 12
    at.text_input(key="cmp_search").set_value("password").run()
    no_exceptions(at)
    filtered = at.get("html")[0].proto.body
    assert 0 < filtered.count("<td class='idx'>") < 12
    at.text_input(key="cmp_search").set_value("").run()
    at.selectbox(key="cmp_page_size").set_value(10).run()
    assert at.get("html")[0].proto.body.count("<td class='idx'>") == 10
    at.button(key="cmp_next").click().run()
    no_exceptions(at)
    assert at.number_input(key="cmp_page").value == 2
    assert at.get("html")[0].proto.body.count("<td class='idx'>") == 2 and at.button(key="cmp_next").disabled
    at.checkbox(key="cmp_errors").check().run()
    assert not at.get("html") and any("No item matches" in c.value for c in at.caption)


def test_models_page_never_shows_the_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-value")
    at = page("models").run()
    no_exceptions(at)
    assert any("is set" in s.value for s in at.success)
    everything = json.dumps([str(e) for e in at.main]) + json.dumps([str(e) for e in at.sidebar])
    assert "sk-test-secret-value" not in everything


def test_models_page_adds_an_endpoint_and_tries_it(openai_server):
    at = page("models").run()
    at.text_input[0].set_value("test")
    at.text_input[1].set_value(openai_server.base_url)
    at.button[0].click().run()
    spec = f"openai:test@{openai_server.base_url}"
    assert spec in at.selectbox(key="try_model").options
    later = page("models").run()  # another session, or after a restart: still there, and removable
    assert spec in later.selectbox(key="try_model").options
    next(b for b in later.button if b.key == f"rm_{spec}").click().run()
    assert spec not in later.selectbox(key="try_model").options
    with store.connect() as con:
        store.add_endpoint(con, spec)
    at.run()
    at.selectbox(key="try_model").set_value(spec)
    at.text_area(key="try_message").set_value("How long does standard shipping take?")
    next(b for b in at.button if b.label == "Send").click().run()
    no_exceptions(at)
    assert at.chat_message[-1].children[0].value.startswith("You said: How long")


def test_datasets_page_reports_failing_rows(tmp_path):
    at = page("datasets").run()
    at.radio(key="ds_source").set_value("Open a dataset").run()
    no_exceptions(at)
    assert any("All" in s.value for s in at.success)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "a", "reference": "x"}\n{"question": "b", "reference": ""}\n', encoding="utf-8")
    from workbench.app.catalog import load_upload, validation_report

    report = validation_report(load_upload("bad.jsonl", bad.read_bytes()), {"question"})
    assert report.to_dict(orient="records") == [{"row": "bad.jsonl:2", "column": "reference", "problem": "empty"}]


def test_export_page_offers_the_bundle_and_writes_it(db, openai_server, app_dirs):
    populate(db, openai_server.base_url)
    at = page("export").run()
    no_exceptions(at)
    assert at.get("download_button")
    next(b for b in at.button if b.label.startswith("Write it to")).click().run()
    no_exceptions(at)
    written = list(Path(app_dirs).glob("*.best.yaml"))
    assert len(written) == 1
    from workbench.evaluation.bundle import read_bundle

    meta, prompt = read_bundle(written[0].read_text(encoding="utf-8"))
    assert meta["chosen_by"]["metric"] == "bleu" and meta["model"].startswith("openai:test@")
    next(b for b in at.button if b.label == "Prepare the file").click().run()
    assert len(at.get("download_button")) == 2


def test_a_running_job_survives_leaving_the_page_and_can_be_cancelled(db):
    from tests.openai_server import OpenAIServer
    from workbench.app.context import job_registry

    with OpenAIServer(latency=0.2) as server:
        at = page("run").run()
        at.multiselect(key="run_prompts").set_value(["support_zero_shot.yaml (file)"])
        at.multiselect(key="run_models").set_value([])
        at.text_input(key="run_extra_model").set_value(f"openai:slow@{server.base_url}")
        options = at.selectbox(key="run_dataset").options
        at.selectbox(key="run_dataset").select_index(options.index("support_en.jsonl"))
        at.number_input(key="run_limit").set_value(100)
        at.number_input(key="run_concurrency").set_value(1)
        at.button[0].click().run()
        job = next(j for j in job_registry().list() if j.db == db)

        # Another session (a new tab, or coming back to the page): the run is there, with its progress.
        again = page("run").run()
        no_exceptions(again)
        bars = again.get("progress")
        assert bars and "started in this app" in bars[0].proto.text, (
            [b.proto.text for b in bars], [e.value for e in again.error], job.error, job.alive)
        cancel = next(b for b in again.button if b.label == "Cancel")
        cancel.click().run()
        assert job.wait(30)
    with store.connect(db) as con:
        runs = store.list_runs(con)
    assert runs["status"].tolist() == ["cancelled"] and 0 < runs["n_outputs"].iloc[0] < 100


def test_an_interrupted_run_is_shown_and_resumes(db, openai_server):
    import socket
    import subprocess
    import sys

    (run_id,) = populate(db, openai_server.base_url, rows=8)[:1]
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    with store.connect(db) as con:  # as a process killed mid-run leaves it: rows missing, still `running`
        con.execute("DELETE FROM outputs WHERE run_id = ? AND row_idx >= 5", [run_id])
        con.execute("UPDATE runs SET status = 'running', owner = ? WHERE id = ?",
                    [f"{socket.gethostname()}:{gone.stdout.strip()}", run_id])
    at = page("run").run()
    no_exceptions(at)
    assert not at.get("progress")  # not shown as running
    assert any(run_id in c.value and "interrupted at 5/8" in c.value for c in at.caption)
    next(b for b in at.button if b.key == f"resume_{run_id}").click().run()
    no_exceptions(at)
    from workbench.app.context import job_registry

    job = next(j for j in job_registry().list() if run_id in j.run_ids)
    assert job.wait(30) and job.error is None
    with store.connect(db) as con:
        run = store.get_run(con, run_id)
        assert run["status"] == "done" and len(store.load_outputs(con, run_id)) == 8
