"""What Compare and Leaderboard read before their main part is on screen (issue 20: first paint at 100,000 items).

Compare reads one page of the grid before the runs' summaries and the score bins, and the summary table and
chart still land in their places above the grid; the Leaderboard reads the disputed items' outputs only once
its Adjudicate section is opened.
"""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.annotation_runs import make_runs
from tests.app.test_app_pages import page, populate
from tests.conftest import ROOT
from workbench import store
from workbench.evaluation import analysis
from workbench.rating import annotation as an


def no_exceptions(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def recording(monkeypatch, module, name: str, calls: list, tag: str) -> None:
    """Replace module.name by a wrapper that appends (tag, its keyword arguments) to `calls`."""
    real = getattr(module, name)

    def wrapper(*args, **kwargs):
        calls.append((tag, kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)


def test_compare_reads_the_grid_before_the_summaries_and_bins(db, openai_server, monkeypatch):
    populate(db, openai_server.base_url, rows=6)
    calls: list = []
    recording(monkeypatch, store, "grid_page", calls, "grid")
    recording(monkeypatch, analysis, "summarize", calls, "summary")
    recording(monkeypatch, store, "score_histogram", calls, "bins")
    at = page("compare").run()
    no_exceptions(at)
    order = [tag for tag, _ in calls]
    assert order[0] == "grid" and {"summary", "bins"} <= set(order), order
    # ... and both are drawn in their places, which held only a space until then
    assert at.get("html")[0].proto.body.count("<td class='idx'>") == 6
    assert "bleu" in set(at.table[0].value[""]) and any(m.value.startswith("<div><svg ") for m in at.markdown)
    assert not at.get("space")


def test_leaderboard_reads_disputed_items_only_when_adjudicate_is_opened(db, monkeypatch):
    runs = make_runs(db, [("support_few_shot", "openai:m1"), ("support_zero_shot", "openai:m2")], n_rows=3)
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec(runs, scale="likert", k=2, seed=1))
        store.upsert_ratings(con, [{"session_id": sid, "item_idx": 0, "annotator": who, "kind": "likert",
                                    "value": value} for who, value in (("ann", "1"), ("bob", "5"))])
    calls: list = []
    recording(monkeypatch, store, "item_outputs", calls, "items")
    at = AppTest.from_file(str(ROOT / "workbench" / "app" / "views" / "leaderboard.py"), default_timeout=60).run()
    no_exceptions(at)
    assert any(e.label == f"Adjudicate: 1 disputed items in {sid}" for e in at.expander)
    assert not [kw for _, kw in calls if "items" in kw], "the closed section read the items"
    assert not any("**Item 1**" in m.value for m in at.markdown)
    at.session_state[f"lb_adjudicate_{sid}"] = True  # what a click on the section sets
    at.run()
    no_exceptions(at)
    assert [kw["items"] for _, kw in calls if "items" in kw] == [[0]]
    assert any("**Item 1** · spread 4" in m.value for m in at.markdown)


def drawn(node) -> list[str]:
    """The types of every element and block under `node` (AppTest's tree), depth first: each is a message the
    browser renders (React and its styling, ~10-20 ms of Chromium's CPU each while the page is drawn)."""
    found = []
    for child in (node.children.values() if isinstance(getattr(node, "children", None), dict) else []):
        found.append(getattr(child, "type", type(child).__name__))
        found += drawn(child)
    return found


def test_compare_sends_few_elements(db, openai_server):
    """The page's controls sit in rows of one horizontal block each (columns made a block per control) and the
    summary's heading and legend are one element: 35 elements and blocks, 46 before; the grid's part, which a
    page switch sends again whole, 13 (22 before)."""
    populate(db, openai_server.base_url, rows=6)
    at = page("compare").run()
    no_exceptions(at)
    nodes = drawn(at.main)
    grid_part = nodes[len(nodes) - nodes[::-1].index("subheader") - 1:]  # the grid's heading to its table
    assert grid_part[-1] == "html" and "column" not in grid_part and len(grid_part) <= 13, grid_part
    assert len(nodes) <= 35, nodes
