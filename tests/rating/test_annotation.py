"""Blind rating sessions: blinding, seeded order and sides, k-annotator assignment, resume, concurrency."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import asdict

import pytest

from tests.annotation_runs import ROOT, make_runs
from workbench import store
from workbench.errors import UserError
from workbench.rating import annotation as an

VARIANTS = [("support_zero_shot", "openai:gpt-alpha"), ("support_few_shot", "openai:gpt-beta")]


def variant_answer(v: int, row: dict) -> str:
    return row["reference"] if v == 0 else f"Answer {v}: please contact support about {row['intent']}."


@pytest.fixture
def two_runs(db):
    return make_runs(db, VARIANTS, n_rows=12, answer=variant_answer)


def test_pairwise_items_hide_variants_and_follow_the_seed(db, two_runs):
    with store.connect(db) as con:
        s1 = an.create_session(con, an.SessionSpec(two_runs, pairwise=True, seed=42))
        s2 = an.create_session(con, an.SessionSpec(two_runs, pairwise=True, seed=42))
        s3 = an.create_session(con, an.SessionSpec(two_runs, pairwise=True, seed=43))
        layout = {s: store.item_outputs(con, s)[["row_idx", "run_a", "run_b"]].values.tolist() for s in (s1, s2, s3)}
        item = an.next_item(con, s1, "alice")
        info = store.get_session(con, s1)
    assert layout[s1] == layout[s2]  # same seed, same order and sides
    assert layout[s1] != layout[s3]
    assert info["seed"] == 42 and info["kind"] == "pairwise" and info["n_items"] == 12
    assert sorted(r for r, _, _ in layout[s1]) == list(range(12))
    assert [r for r, _, _ in layout[s1]] != list(range(12))  # shuffled
    sides = [a == two_runs[0] for _, a, _ in layout[s1]]
    assert 0 < sum(sides) < 12  # each run appears on both sides
    shown = repr(asdict(item))
    for secret in [*two_runs, "support_zero_shot", "support_few_shot", "gpt-alpha", "gpt-beta", "openai:"]:
        assert secret not in shown
    assert item.text_a and item.text_b and item.reference and "question" in item.inputs


def test_roster_assignment_deals_each_item_to_k_annotators_evenly(db, two_runs):
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec(two_runs, k=2, seed=1, annotators=["ann", "bob", "cy"]))
        got = con.execute("SELECT item_idx, list(annotator) FROM annotation_assignments WHERE session_id = ? "
                          "GROUP BY 1", [sid]).fetchall()
        per_annotator = dict(con.execute("SELECT annotator, count(*) FROM annotation_assignments "
                                         "WHERE session_id = ? GROUP BY 1", [sid]).fetchall())
        with pytest.raises(UserError, match="roster"):
            an.next_item(con, sid, "mallory")
        with pytest.raises(UserError, match="k=4"):
            an.create_session(con, an.SessionSpec(two_runs, k=4, annotators=["ann", "bob", "cy"]))
    assert len(got) == 24  # 2 runs x 12 rows, single outputs
    assert all(len(set(names)) == 2 for _, names in got)
    assert per_annotator == {"ann": 16, "bob": 16, "cy": 16}


def test_open_session_claims_up_to_k_annotators_per_item(db, two_runs):
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec(two_runs[:1], k=2, seed=5))
        seen = {}
        for name in ("ann", "bob", "cy"):
            seen[name] = []
            while (item := an.next_item(con, sid, name)) is not None:
                an.record_rating(con, sid, item.item_idx, name, 4)
                seen[name].append(item.item_idx)
        counts = con.execute("SELECT item_idx, count(*) FROM ratings WHERE session_id = ? GROUP BY 1",
                             [sid]).fetchall()
    assert seen["ann"] == seen["bob"] == list(range(12))  # stored order
    assert seen["cy"] == []  # every item already has its k=2 annotators
    assert all(n == 2 for _, n in counts) and len(counts) == 12


def test_resume_returns_the_next_unrated_item_and_rerating_upserts(db, two_runs):
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec(two_runs, pairwise=True, k=1, seed=3))
        first = an.next_item(con, sid, "ann")
        an.record_rating(con, sid, first.item_idx, "ann", "A", comment="clearer", tags=["tone", "tone", " "])
        second = an.next_item(con, sid, "ann")
        assert an.next_item(con, sid, "ann").item_idx == second.item_idx  # asking again does not skip
    with store.connect(db) as con:  # a new connection: the state is in the database, not in memory
        assert an.next_item(con, sid, "ann").item_idx == second.item_idx
        assert an.previous_rated(con, sid, "ann", second.item_idx) == first.item_idx
        an.record_rating(con, sid, first.item_idx, "ann", "tie")
        again = an.get_item(con, sid, first.item_idx, "ann")
        ratings = an.session_ratings(con, sid)
        p = an.progress(con, sid, "ann")
    assert again.rating["value"] == "tie" and again.rating["comment"] is None
    assert len(ratings) == 1 and ratings["value"].tolist() == ["tie"]
    assert (p.rated, p.assigned, p.remaining, p.session_target) == (1, 2, 11, 12)


def test_ratings_are_checked(db, two_runs):
    with store.connect(db) as con:
        single = an.create_session(con, an.SessionSpec(two_runs[:1], scale="thumbs", seed=1))
        item = an.next_item(con, single, "ann")
        with pytest.raises(UserError, match="thumbs"):
            an.record_rating(con, single, item.item_idx, "ann", 5)
        with pytest.raises(UserError, match="not assigned"):
            an.record_rating(con, single, item.item_idx + 1, "ann", "up")
        with pytest.raises(UserError, match="annotator name"):
            an.next_item(con, single, "  ")
        with pytest.raises(UserError, match="at least two"):
            an.create_session(con, an.SessionSpec(two_runs[:1], pairwise=True))
        with pytest.raises(UserError, match="does not fit"):
            an.create_session(con, an.SessionSpec(two_runs, pairwise=True, scale="likert"))
        an.record_rating(con, single, item.item_idx, "ann", "up")
        assert an.session_ratings(con, single)["score"].tolist() == [1.0]


WRITER = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, {root!r})
    from workbench import store
    from workbench.rating import annotation as an
    db, sid, name, go, per_connection = sys.argv[1:6]
    with store.connect(db) as con:
        items = store.assigned_items(con, sid, name)[:500]
    open(go + "." + name, "w").close()  # ready: both start writing only when both are ready
    while not os.path.exists(go):
        time.sleep(0.01)
    began = time.time()
    step = int(per_connection)
    for start in range(0, len(items), step):
        with store.connect(db, wait=60) as con:  # a short unit of work, as one click in the app
            for n in range(start, min(start + step, len(items))):
                an.record_rating(con, sid, items[n], name, 1 + n % 5, comment=f"{{name}} {{n}}")
    print(len(items), began, time.time())
""")


@pytest.mark.slow
def test_two_processes_rating_at_once_lose_nothing(db, tmp_path):
    """Each process writes 500 ratings in short units of work (5 ratings per connection, as a fast annotator's
    clicks); the two fight for DuckDB's file lock the whole time and store.connect's retry must win every fight."""
    variants = [*VARIANTS, ("support_persona", "openai:gpt-gamma")]
    runs = make_runs(db, variants, n_rows=167)
    with store.connect(db) as con:  # 501 outputs, each dealt to both annotators
        sid = an.create_session(con, an.SessionSpec(runs, k=2, seed=11, annotators=["ann", "bob"]))
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(root=str(ROOT)))
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, str(script), db, sid, name, str(go), "5"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for name in ("ann", "bob")]
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"go.{n}").exists() for n in ("ann", "bob")) and time.monotonic() < deadline:
        time.sleep(0.05)
    go.touch()
    results = [p.communicate(timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-2000:] for _, err in results]
    reports = [out.split() for out, _ in results]
    assert [r[0] for r in reports] == ["500", "500"]
    with store.connect(db) as con:
        per_annotator = dict(con.execute("SELECT annotator, count(*) FROM ratings WHERE session_id = ? GROUP BY 1",
                                         [sid]).fetchall())
    assert per_annotator == {"ann": 500, "bob": 500}
    # Both were writing at the same time: each began before the other finished (DuckDB's file lock may still
    # let one win most fights; the point is that every rating survives them).
    spans = [(float(r[1]), float(r[2])) for r in reports]
    assert max(b for b, _ in spans) < min(e for _, e in spans)


def test_annotators_claiming_at_once_in_one_process_never_overfill_an_item(db):
    """The app serves everyone from one process: rival claims on an item's last place conflict and retry."""
    runs = make_runs(db, VARIANTS, n_rows=15)
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec(runs, k=2, seed=6))
    errors = []

    def annotate(name: str) -> None:
        try:
            while True:
                with store.connect(db) as con:
                    item = an.next_item(con, sid, name)
                    if item is None:
                        return
                    an.record_rating(con, sid, item.item_idx, name, "3")
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=annotate, args=(f"annotator-{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    with store.connect(db) as con:
        per_item = con.execute("SELECT item_idx, count(*), count(DISTINCT annotator) FROM ratings "
                               "WHERE session_id = ? GROUP BY 1", [sid]).fetchall()
        assigned = con.execute("SELECT count(*) FROM annotation_assignments WHERE session_id = ?", [sid]).fetchone()
    assert len(per_item) == 30 and all(n == 2 and d == 2 for _, n, d in per_item)
    assert assigned == (60,)


def test_raters_see_the_prompts_variables_unless_the_session_chooses_fields(db, two_runs, cli):
    with store.connect(db) as con:
        default = an.create_session(con, an.SessionSpec(two_runs, pairwise=True, seed=1))
        chosen = an.create_session(con, an.SessionSpec(two_runs[:1], seed=1, show_fields=["question", "intent"]))
        assert an.field_choices(con, two_runs) == (["id", "intent", "faq_id", "question", "split"], ["question"])
        hidden = an.next_item(con, default, "alice")
        shown = an.next_item(con, chosen, "alice")
        with pytest.raises(UserError, match="no field 'intnet' in the dataset"):
            an.create_session(con, an.SessionSpec(two_runs[:1], show_fields=["intnet"]))
    assert hidden.inputs.keys() == {"question"}  # intent hints at the answer: not shown by default
    assert shown.inputs.keys() == {"question", "intent"}
    res = cli("annotate", "create", "--runs", two_runs[0], "--show-fields", "intent", "--json")
    assert res.code == 0, res.err
    assert res.json()["show_fields"] == ["intent"]
    res = cli("annotate", "create", "--runs", two_runs[0], "--show-fields", "nope")
    assert res.code == 2 and "--show-fields: no field 'nope'" in res.err
