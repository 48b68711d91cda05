"""The rating pages and the Compare statistics through Streamlit's AppTest (the browser test covers the keys)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.annotation_runs import ROOT, make_runs
from workbench import store
from workbench.rating import annotation as an

PAGES = ROOT / "workbench" / "app" / "views"


def answer(v: int, row: dict) -> str:
    return row["reference"] if v == 0 else "Please contact support."


def no_exceptions(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


@pytest.mark.parametrize("name", ["annotate", "leaderboard"])
def test_pages_render_on_an_empty_database(name):
    at = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=60).run()
    no_exceptions(at)
    assert "No rating sessions yet" in " ".join(i.value for i in at.info) or name == "leaderboard"


def test_annotate_page_rates_and_moves_on(db):
    runs = make_runs(db, [("support_few_shot", "openai:m1"), ("support_zero_shot", "openai:m2")], n_rows=3,
                     answer=answer)
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec(runs, seed=2))
    at = AppTest.from_file(str(PAGES / "annotate.py"), default_timeout=60)
    at.query_params["session"] = sid
    at.run()
    no_exceptions(at)
    assert "Say who you are" in at.info[0].value
    at.text_input(key="ann_name").input("ann").run()
    assert at.subheader[0].value == "Item 1 of 6"
    at.text_input(key=f"ann_comment_{sid}_0").input("clear and short").run()
    at.button(key="ann_rate_4").click().run()
    no_exceptions(at)
    assert at.subheader[0].value == "Item 2 of 6"
    with store.connect(db) as con:
        rating = store.get_rating(con, sid, 0, "ann", "likert")
    assert rating["value"] == "4" and rating["comment"] == "clear and short"
    assert at.query_params["annotator"] == "ann"  # a reload resumes as this annotator


def test_leaderboard_page_ranks_agrees_and_reports_trust(db):
    runs = make_runs(db, [("support_few_shot", "openai:m1"), ("support_zero_shot", "openai:m2")], n_rows=8,
                     answer=answer)
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec(runs, pairwise=True, k=2, seed=4, annotators=["ann", "bob"]))
        for name in ("ann", "bob"):
            while (item := an.next_item(con, sid, name)) is not None:
                good = "A" if store.item_outputs(con, sid, item.item_idx)["run_a"][0] == runs[0] else "B"
                an.record_rating(con, sid, item.item_idx, name, "both bad" if item.item_idx == 0 and name == "bob"
                                 else good, comment=f"{name} thinks so")
    at = AppTest.from_file(str(PAGES / "leaderboard.py"), default_timeout=120).run()
    no_exceptions(at)
    board = at.dataframe[0].value
    assert board["variant"].tolist() == ["support_few_shot x openai:m1", "support_zero_shot x openai:m2"]
    chart = next(m.value for m in at.markdown if "<svg " in m.value)  # the strengths, drawn as SVG, best first
    assert "Bradley-Terry strength (95% CI)" in chart and chart.count("<circle ") == 2
    assert chart.index(">support_few_shot x openai:m1<") < chart.index(">support_zero_shot x openai:m2<")
    assert at.metric[3].value == "1"  # one disputed item
    assert any("agrees with votes" in df.value.columns for df in at.dataframe)

    # A new single-output session from the form: drawn only once its expander is opened (sessions exist).
    assert not at.toggle and any(e.label == "New rating session" for e in at.expander)
    at.session_state["lb_new_session"] = True  # what a click on the expander sets
    at.run()
    at.toggle[0].set_value(False).run()
    at.button[0].click().run()
    no_exceptions(at)
    assert any("Session" in s.value and "items" in s.value for s in at.success)
    with store.connect(db) as con:
        assert len(store.list_sessions(con)) == 2


def test_leaderboard_draws_each_metrics_correlation_with_the_ratings(db):
    runs = make_runs(db, [("support_few_shot", "openai:m1"), ("support_zero_shot", "openai:m2")], n_rows=6,
                     answer=answer)
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec(runs, scale="likert", k=1, seed=3, annotators=["ann"]))
        for item in range(store.get_session(con, sid)["n_items"]):  # the reference answers rated 5, the others 1
            good = store.item_outputs(con, sid, item)["run_a"][0] == runs[0]
            an.record_rating(con, sid, item, "ann", "5" if good else "1")
    at = AppTest.from_file(str(PAGES / "leaderboard.py"), default_timeout=120).run()
    no_exceptions(at)
    chart = next(m.value for m in at.markdown if "Spearman ρ with human ratings" in m.value)
    assert "<title>bleu · likert · n 12&#10;Spearman 1.000 [1.000, 1.000]&#10;" in chart
    assert chart.count("<circle ") == 6 and chart.count('<circle cx="710.0"') == 6  # ρ = 1: at the right end


def _significance_script(db: str, run_a: str, run_b: str) -> None:
    from workbench.app.significance import render_significance

    render_significance(db, run_a, run_b)


def test_significance_states_the_answer_in_words(db):
    run_a, run_b = make_runs(db, [("support_few_shot", "openai:m1"), ("support_zero_shot", "openai:m2")], n_rows=12,
                             answer=answer)
    at = AppTest.from_function(_significance_script, args=(db, run_a, run_b), default_timeout=60).run()
    no_exceptions(at)
    lines = [m.value for m in at.markdown]
    assert len(lines) <= 2, lines  # one line per verdict, not one per metric: the grid stays near the top
    worse = next(line for line in lines if "**B is significantly worse than A** on" in line)
    assert "bleu (-1, 95% CI [-1, -1])" in worse and "exact (-1, 95% CI [-1, -1])" in worse
    assert set(at.dataframe[0].value["metric"]) == {"exact", "contains", "bleu", "chrf", "rougeL", "length"}
    assert "Wilcoxon p" in at.dataframe[0].value.columns


def test_leaderboard_page_on_a_session_with_no_ratings(db):
    runs = make_runs(db, [("support_few_shot", "openai:m1"), ("support_zero_shot", "openai:m2")], n_rows=3)
    with store.connect(db) as con:
        an.create_session(con, an.SessionSpec(runs, pairwise=True, seed=1))
    at = AppTest.from_file(str(PAGES / "leaderboard.py"), default_timeout=60).run()
    no_exceptions(at)
    assert not at.error, [e.value for e in at.error]
    assert any("No ratings yet" in i.value for i in at.info)


def test_new_session_links_to_the_annotate_page(db):
    make_runs(db, [("support_few_shot", "openai:m1"), ("support_zero_shot", "openai:m2")], n_rows=2)
    at = AppTest.from_file(str(PAGES / "leaderboard.py"), default_timeout=60).run()
    at.button[0].click().run()
    no_exceptions(at)
    with store.connect(db) as con:
        sid = store.list_sessions(con)["id"].iloc[0]
    assert any(f"](annotate?session={sid})" in m.value for m in at.markdown)


def test_leaderboard_page_shows_no_stray_values(db):
    """An expression statement on a page is drawn by Streamlit's magic: a stray `None` under the chart."""
    runs = make_runs(db, [("support_few_shot", "openai:m1"), ("support_zero_shot", "openai:m2")], n_rows=3,
                     answer=answer)
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec(runs, pairwise=True, seed=1, annotators=["ann"]))
        an.record_rating(con, sid, 0, "ann", "A")
    at = AppTest.from_file(str(PAGES / "leaderboard.py"), default_timeout=60).run()
    no_exceptions(at)
    drawn = [getattr(e, "value", None) for e in at.main]
    assert not [v for v in drawn if isinstance(v, str) and v.strip("`") == "None"], drawn
