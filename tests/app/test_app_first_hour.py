"""What a newcomer meets in the first hour (issue 11), page by page through Streamlit's AppTest."""

from __future__ import annotations

from tests.app.test_app_pages import app_dirs, no_exceptions, page  # noqa: F401 - app_dirs is autouse
from workbench import store
from workbench.authoring.library import save_prompt
from workbench.authoring.templates import load_prompt


def shown(markdown: str) -> str:
    """What a Markdown-escaped message reads as."""
    return markdown.replace("\\", "")


def test_run_page_filters_rows(db, openai_server):
    at = page("run").run()
    at.multiselect(key="run_prompts").set_value(["support_zero_shot.yaml (file)"])
    at.text_input(key="run_extra_model").set_value(f"openai:test@{openai_server.base_url}")
    at.multiselect(key="run_models").set_value([])
    options = at.selectbox(key="run_dataset").options
    at.selectbox(key="run_dataset").select_index(options.index("support_en.jsonl"))
    at.number_input(key="run_limit").set_value(0)
    at.text_input(key="run_where").set_value("split = 'test'")
    at.button[0].click().run()
    assert any("Row filter: expected ==, !=, in or not in after 'split'" in shown(e.value) for e in at.error)
    at.text_input(key="run_where").set_value("split == 'test'")
    at.button[0].click().run()
    no_exceptions(at)
    assert any("Started 1 run" in s.value for s in at.success), [e.value for e in at.error]
    from workbench.app.context import job_registry

    job = next(j for j in job_registry().list() if j.db == db)
    assert job.wait(30) and job.error is None
    with store.connect(db) as con:
        runs = store.list_runs(con)
        rows = store.get_dataset(con, store.get_run(con, runs["id"][0])["dataset_hash"])["rows"]
    assert runs["n_outputs"].tolist() == [34] and {r["split"] for r in rows} == {"test"}


def test_run_page_lists_a_stored_version_once(db, app_dirs):  # noqa: F811
    prompt = load_prompt(app_dirs / "support_zero_shot.yaml")
    save_prompt(prompt, db, app_dirs)  # the file's version is now stored too
    at = page("run").run()
    no_exceptions(at)
    labels = at.multiselect(key="run_prompts").options
    assert [x for x in labels if x.startswith("support_zero_shot")] == ["support_zero_shot.yaml (file)"]


def test_an_undefined_variable_names_message_and_line_and_blocks_save():
    at = page("prompts").run()
    uid = at.session_state["draft_msgs"][-1]  # message 2 of support_few_shot: the user turn
    at.text_area(key=f"content_{uid}").set_value("Order: {{ order_id }}\nAsked: {{ question }}\nAgain {{ foo }}").run()
    no_exceptions(at)
    errors = [shown(e.value) for e in at.error]
    assert len(errors) == 1, errors
    assert errors[0].startswith("support_few_shot.yaml: message 2, line 1: undefined variables 'foo' in message 2, "
                                "line 3; 'order_id' in message 2, line 1: the dataset has no columns 'foo', "
                                "'order_id' (it has: id, intent, faq_id, question, reference, split)"), errors[0]
    assert any(c.value == "Order: {{ order_id }}" for c in at.code)  # the line itself
    assert next(b for b in at.button if b.label == "Save as new version").disabled


def test_export_says_the_best_is_not_significantly_better_and_drops_a_stale_file(db, openai_server):
    from tests.app.test_app_pages import populate

    populate(db, openai_server.base_url)  # a perfect server: both prompts score the same on every row
    at = page("export").run()
    no_exceptions(at)
    warnings = [shown(w.value) for w in at.warning]
    assert any(w.startswith("Not significantly better than the runner-up") for w in warnings), warnings
    next(b for b in at.button if b.label == "Prepare the file").click().run()
    assert any(d.proto.label.startswith("Download results-") and d.proto.label.endswith(".csv (16 outputs)")
               for d in at.get("download_button"))
    at.radio(key="exp_format").set_value("jsonl").run()
    no_exceptions(at)
    assert not any(".csv" in d.proto.label for d in at.get("download_button")), "a stale CSV button is offered"


def test_compare_summary_fits_the_page_and_variants_have_distinct_colours(db, openai_server):
    from tests.app.test_app_pages import populate

    populate(db, openai_server.base_url)
    at = page("compare").run()
    no_exceptions(at)
    summary = at.table[0].value
    assert list(summary.columns) == ["", "A", "B"] and "bleu" in set(summary[""]) and "None" not in summary.to_string()
    chart = next(m.value for m in at.markdown if "<svg " in m.value)  # the score distribution, one line a variant
    assert chart.count("<path ") == 2 and chart.count('stroke="#1c83e1"') == chart.count('stroke="#ff8700"') == 1
    assert "<title>A · " in chart and "<title>B · " in chart
    legend = shown(at.markdown[0].value)  # the heading, then the legend: one element
    assert legend.startswith("### Summary\n\n:blue[■] **A** · ") and ":orange[■] **B** · " in legend


def test_datasets_page_opens_the_faq_with_its_text_as_reference():
    at = page("datasets").run()
    options = at.selectbox(key="ds_pick").options
    at.selectbox(key="ds_pick").select_index(options.index("faq_en.jsonl")).run()
    no_exceptions(at)
    ref = next(s for s in at.selectbox if s.label.startswith("Reference column"))
    assert ref.value == "text"


def test_try_it_says_the_first_message_loads_the_local_model():
    from tests.conftest import ROOT

    at = page("models").run()
    at.selectbox(key="try_model").set_value("(type a spec)").run()
    at.text_input(key="try_spec").set_value(f"hf:{ROOT / 'models' / 'support-tiny'}")
    at.text_area(key="try_message").set_value("How long does standard shipping take?")
    next(b for b in at.button if b.label == "Send").click().run()
    no_exceptions(at)
    assert any(c.value.startswith("This first message also loaded the model") for c in at.caption)
    next(b for b in at.button if b.label == "Send").click().run()
    assert not any(c.value.startswith("This first message") for c in at.caption)  # loaded now
    assert at.chat_message[-1].children[0].value


def test_no_raw_none_in_the_prompt_overview(db, app_dirs):  # noqa: F811
    save_prompt(load_prompt(app_dirs / "support_zero_shot.yaml"), db, app_dirs)  # one stored, one not
    at = page("prompts").run()
    no_exceptions(at)
    overview = at.dataframe[0].value.set_index("file")
    assert not overview.isna().any().any(), overview
    assert overview.loc["support_few_shot.yaml", "last_stored"] == "not yet"
    assert overview.loc["support_zero_shot.yaml", "last_stored"].startswith("20")
