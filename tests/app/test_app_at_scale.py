"""The app on a million stored outputs: Compare and Leaderboard read pages, never whole tables.

One database of 50 runs x 20,000 rows (1,000,000 outputs, 3 scores each) and two rating sessions over four of
those runs (a pairwise one of 120,000 items and a Likert one of 80,000); each page is run by AppTest while
every DuckDB connection counts the rows it hands to Python. A page that loaded a run's outputs or scores
whole (20,000 rows and more) fails here.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.big_store import counting_fetches, fill
from tests.conftest import ROOT
from workbench import store
from workbench.rating import annotation

APP = ROOT / "workbench" / "app"
MOST_ROWS = 5_000  # per statement: a page of items, bins of a chart, what was rated; one run alone has 20,000
RUNS, ROWS = 50, 20_000

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    db = str(tmp_path_factory.mktemp("big") / "million.duckdb")
    ids = fill(db, RUNS, ROWS)
    four = ids[-4:]  # what the pages open on: the newest four runs
    with store.connect(db) as con:
        pair = annotation.create_session(con, annotation.SessionSpec(four, pairwise=True, k=1, seed=1))
        likert = annotation.create_session(con, annotation.SessionSpec(four, pairwise=False, scale="likert", k=2,
                                                                      seed=2))
        ratings = [{"session_id": pair, "item_idx": i, "annotator": "ann", "kind": "pairwise",
                    "value": "AB"[i % 3 == 0]} for i in range(300)]
        ratings += [{"session_id": likert, "item_idx": i, "annotator": who, "kind": "likert",
                     "value": str(v), "comment": None} for i in range(200)
                    for who, v in (("ann", 1 + i % 5), ("bob", 5 - i % 5))]  # many 2+ apart: disputed
        store.upsert_ratings(con, ratings)
        assert con.execute("SELECT count(*) FROM outputs").fetchone()[0] == RUNS * ROWS
    return db, four, (pair, likert)


def check_fetches(fetched: list[tuple[int, str]]) -> None:
    assert fetched, "the page read nothing: the guard saw no connection"
    most = max(fetched)
    assert most[0] <= MOST_ROWS, f"a statement fetched {most[0]:,} rows: {most[1]}"


def test_compare_reads_one_page_at_a_time(big, monkeypatch):
    db, four, _ = big
    monkeypatch.setenv("WORKBENCH_DB", db)
    with counting_fetches(monkeypatch) as fetched:
        at = AppTest.from_file(str(APP / "views" / "compare.py"), default_timeout=120).run()
        assert not at.exception, [e.value for e in at.exception]
        assert at.multiselect(key="cmp_runs").value == four[::-1]  # newest first
        assert at.get("html")[0].proto.body.count("<td class='idx'>") == 25
        assert at.number_input(key="cmp_page").max == ROWS // 25
        at.selectbox(key="cmp_sort").set_value("worst").run()
        at.button(key="cmp_next").click().run()
        at.text_input(key="cmp_search").set_value("answer 1234 of").run()
        assert not at.exception, [e.value for e in at.exception]
        assert at.get("html")[0].proto.body.count("<td class='idx'>") == 1  # item 1234, all four runs
    check_fetches(fetched)


def test_leaderboard_reads_what_it_shows(big, monkeypatch):
    db, _, sessions = big
    monkeypatch.setenv("WORKBENCH_DB", db)
    with counting_fetches(monkeypatch) as fetched:
        at = AppTest.from_file(str(APP / "views" / "leaderboard.py"), default_timeout=120)
        at.session_state["lb_sessions"] = list(sessions)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert any("300 votes" in c.value for c in at.caption)  # the board, from the pairwise votes
        assert any("Adjudicate: 160 disputed items" in e.label for e in at.expander)
        assert any("Rank correlation" in c.value for c in at.caption)  # trust, from the rated outputs' scores
        # the strengths as SVG; no chart of correlations: each output's two ratings average 3, so Spearman is undefined
        charts = [m.value for m in at.markdown if "<svg " in m.value]
        assert len(charts) == 1 and "Bradley-Terry strength" in charts[0]
    check_fetches(fetched)
