"""Claims that do not strand work: expiry, leaving, returning, the owner's release, and races across expiry."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time

import duckdb
import pytest

from tests.annotation_runs import ROOT, make_runs
from workbench import store
from workbench.errors import UserError
from workbench.rating import annotation as an
from workbench.store.migrations import MIGRATIONS

VARIANTS = [("support_zero_shot", "openai:gpt-alpha"), ("support_few_shot", "openai:gpt-beta")]


def rate_all(con, sid: str, name: str) -> list[int]:
    done = []
    while (item := an.next_item(con, sid, name)) is not None:
        an.record_rating(con, sid, item.item_idx, name, 3)
        done.append(item.item_idx)
    return done


def live_claims_per_item(con, sid: str) -> dict[int, int]:
    return dict(con.execute("SELECT item_idx, count(*) FROM annotation_assignments WHERE session_id = ? "
                            "AND released_at IS NULL GROUP BY 1", [sid]).fetchall())


def test_a_rater_who_walks_away_does_not_strand_their_item(db):
    runs = make_runs(db, VARIANTS[:1], n_rows=6)
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec(runs, k=1, seed=2, claim_timeout=3))
        claimed = time.monotonic()
        left_behind = an.next_item(con, sid, "ann").item_idx  # ann sees an item and closes the tab
        bob = rate_all(con, sid, "bob")
        assert time.monotonic() - claimed < 3, "too slow to see the claim live"
        assert left_behind not in bob and len(bob) == 5
        p = an.progress(con, sid, "bob")
        assert (p.session_ratings, p.remaining) == (5, 0)  # 5 of 6: the last one is ann's, still live
        time.sleep(max(0.0, claimed + 3.2 - time.monotonic()))
        assert an.progress(con, sid, "bob").remaining == 1  # expired: claimable again
        assert rate_all(con, sid, "bob") == [left_behind]
        p = an.progress(con, sid)
        assert (p.session_ratings, p.session_target) == (6, 6)
        assert live_claims_per_item(con, sid) == {i: 1 for i in range(6)}
        # ann comes back: nothing left for her, and her late rating is refused (bob has the item)
        assert an.next_item(con, sid, "ann") is None
        with pytest.raises(UserError, match="another rater has it now"):
            an.record_rating(con, sid, left_behind, "ann", 5)
        values = con.execute("SELECT annotator, value FROM ratings WHERE session_id = ? AND item_idx = ?",
                             [sid, left_behind]).fetchall()
    assert values == [("bob", "3")]


def test_stopping_releases_at_once_and_the_rater_resumes_where_they_were(db):
    runs = make_runs(db, VARIANTS[:1], n_rows=5)
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec(runs, k=1, seed=4))  # default timeout: 15 minutes
        assert store.get_session(con, sid)["claim_timeout"] == 900
        first = an.next_item(con, sid, "ann").item_idx
        an.record_rating(con, sid, first, "ann", 4)
        held = an.next_item(con, sid, "ann").item_idx
        assert an.leave(con, sid, "ann") == 1  # "Stop rating": the unrated claim goes back now, the rated stays
        assert an.leave(con, sid, "ann") == 0
        assert an.progress(con, sid, "bob").remaining == 4
        assert an.next_item(con, sid, "ann").item_idx == held  # back again: her item, since it is still free
        assert an.progress(con, sid, "ann").rated == 1
        an.leave(con, sid, "ann")
        assert an.next_item(con, sid, "bob").item_idx == held  # the pool's first free item goes to bob
        resumed = an.next_item(con, sid, "ann").item_idx
        assert resumed not in (first, held)
        assert live_claims_per_item(con, sid) == {first: 1, held: 1, resumed: 1}


def test_a_lapsed_claim_nobody_took_still_takes_its_rating(db):
    runs = make_runs(db, VARIANTS[:1], n_rows=3)
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec(runs, k=1, seed=1, claim_timeout=0.2))
        item = an.next_item(con, sid, "ann").item_idx
        time.sleep(0.3)  # expired, but nobody has asked for an item since
        assert an.record_rating(con, sid, item, "ann", 2) == "held"
        second = an.next_item(con, sid, "ann").item_idx
        an.leave(con, sid, "ann")  # released, and still free when her rating arrives
        assert an.record_rating(con, sid, second, "ann", 5) == "reclaimed"
        assert an.record_rating(con, sid, second, "ann", 4) == "held"  # re-rating her own rated item
        assert an.progress(con, sid, "ann").rated == 2
        assert live_claims_per_item(con, sid) == {item: 1, second: 1}


def test_roster_deals_never_expire_and_the_owner_releases_claims(db):
    runs = make_runs(db, VARIANTS[:1], n_rows=4)
    with store.connect(db) as con:
        roster = an.create_session(con, an.SessionSpec(runs, k=1, seed=1, annotators=["ann"], claim_timeout=0.1))
        time.sleep(0.2)
        assert an.leave(con, roster, "ann") == 0
        assert an.progress(con, roster, "ann").remaining == 4
        sid = an.create_session(con, an.SessionSpec(runs, k=1, seed=1))
        a = an.next_item(con, sid, "ann").item_idx
        an.record_rating(con, sid, a, "ann", 1)
        b = an.next_item(con, sid, "ann").item_idx
        c = an.next_item(con, sid, "cy").item_idx
        claims = an.open_claims(con, sid)
        assert sorted(zip(claims["item_idx"], claims["annotator"])) == sorted([(b, "ann"), (c, "cy")])
        assert (claims["age_s"] >= 0).all() and not claims["expired"].any()
        assert an.release(con, sid, c, "cy") == 1
        assert an.release(con, sid, a, "ann") == 0  # rated: not a claim any more
        assert an.open_claims(con, sid)["item_idx"].tolist() == [b]
        assert an.next_item(con, sid, "dee").item_idx == c
        with pytest.raises(UserError, match="claim_timeout"):
            an.create_session(con, an.SessionSpec(runs, claim_timeout=0))


def test_claims_made_before_migration_11_expire_with_the_default_timeout(tmp_path):
    path = str(tmp_path / "old.duckdb")
    con = duckdb.connect(path)
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)")
    for version, name, sql in MIGRATIONS:
        if version <= 6:
            con.execute(sql)
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [version, name])
    con.execute("INSERT INTO annotation_sessions (id, kind, scale, runs, seed, k, rubric) "
                "VALUES ('s1', 'single', 'likert', ['r'], 1, 1, 'x')")
    con.execute("INSERT INTO annotation_items VALUES ('s1', 0, 0, 0, 'r', NULL, 1), ('s1', 1, 1, 0, 'r', NULL, 1)")
    con.execute("INSERT INTO annotation_assignments VALUES ('s1', 0, 'ann', TIMESTAMP '2026-01-01 10:00:00'), "
                "('s1', 1, 'ann', TIMESTAMP '2026-01-01 10:00:00')")
    con.execute("INSERT INTO ratings (session_id, item_idx, annotator, kind, value) VALUES ('s1', 0, 'ann', 'likert', '4')")
    con.close()
    with store.connect(path) as con:
        rows = con.execute("SELECT item_idx, expires_at FROM annotation_assignments ORDER BY 1").fetchall()
        timeout = store.get_session(con, "s1")["claim_timeout"]
        assert store.claimable_count(con, "s1", "bob", 1) == 1  # the stranded item is free again
    assert timeout == 900 and rows[0][1] is None and str(rows[1][1]) == "2026-01-01 10:15:00"


def test_threads_racing_across_expiry_never_share_an_item(db):
    """Raters of one process (the app) who sometimes walk away: claims expire under them while rivals race
    for them. Every item ends rated exactly once; a late rating of a taken item is refused, never stored twice."""
    runs = make_runs(db, VARIANTS, n_rows=15)
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec(runs, k=1, seed=6, claim_timeout=0.05))
    errors, refused = [], []

    def annotate(n: int) -> None:
        name, turn = f"rater-{n}", 0
        try:
            while True:
                with store.connect(db, linger=1.0) as con:  # as the app does
                    item = an.next_item(con, sid, name)
                if item is None:
                    return
                turn += 1
                if turn % 3 == n % 3:
                    time.sleep(0.08)  # dawdles past the timeout: a rival may take the item meanwhile
                with store.connect(db, linger=1.0) as con:
                    try:
                        an.record_rating(con, sid, item.item_idx, name, "3")
                    except UserError as e:
                        refused.append(str(e))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=annotate, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    assert not any(t.is_alive() for t in threads) and errors == []
    assert all("another rater has it now" in r for r in refused)
    with store.connect(db) as con:
        per_item = con.execute("SELECT item_idx, count(*) FROM ratings WHERE session_id = ? GROUP BY 1",
                               [sid]).fetchall()
        assert live_claims_per_item(con, sid) == {i: 1 for i in range(30)}
    assert sorted(per_item) == [(i, 1) for i in range(30)]


RACER = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, {root!r})
    from workbench import store
    from workbench.errors import UserError
    from workbench.rating import annotation as an
    db, sid, name, go, dawdle_every = sys.argv[1:6]
    open(go + "." + name, "w").close()
    while not os.path.exists(go):
        time.sleep(0.01)
    turn = stored = refused = 0
    while True:
        with store.connect(db, wait=60) as con:
            item = an.next_item(con, sid, name)
        if item is None:
            break
        turn += 1
        if turn % int(dawdle_every) == 0:
            time.sleep(0.15)  # past the timeout: the other process may release and take this item
        try:
            with store.connect(db, wait=60) as con:
                an.record_rating(con, sid, item.item_idx, name, "A")
            stored += 1
        except UserError as e:
            assert "another rater has it now" in str(e), e
            refused += 1
    print(stored, refused)
""")


@pytest.mark.slow
def test_two_processes_racing_across_expiry_never_share_an_item(db, tmp_path):
    """Two processes claim, dawdle past a 0.1 s timeout now and then, and rate: each k=1 item is rated once,
    the session completes, and what one process stored plus refused adds up with the other's."""
    runs = make_runs(db, VARIANTS, n_rows=40)
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec(runs, pairwise=True, k=1, seed=9, claim_timeout=0.1))
    script = tmp_path / "racer.py"
    script.write_text(RACER.format(root=str(ROOT)))
    go = tmp_path / "go"
    names = [("ann", "3"), ("bob", "4")]
    procs = [subprocess.Popen([sys.executable, str(script), db, sid, n, str(go), d], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for n, d in names]
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"go.{n}").exists() for n, _ in names) and time.monotonic() < deadline:
        time.sleep(0.05)
    go.touch()
    results = [p.communicate(timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-2000:] for _, err in results]
    stored = [int(out.split()[0]) for out, _ in results]
    with store.connect(db) as con:
        per_item = con.execute("SELECT item_idx, count(*) FROM ratings WHERE session_id = ? GROUP BY 1",
                               [sid]).fetchall()
        by_rater = dict(con.execute("SELECT annotator, count(*) FROM ratings WHERE session_id = ? GROUP BY 1",
                                    [sid]).fetchall())
        assert live_claims_per_item(con, sid) == {i: 1 for i in range(40)}
    assert sorted(per_item) == [(i, 1) for i in range(40)]
    assert [by_rater.get(n, 0) for n, _ in names] == stored and sum(stored) == 40
