"""rate_and_next, the Annotate click's one transaction: the same items and progress as record_rating +
next_item + progress, also for rosters, k > 1, leaving, the owner's release, expiry and racing raters."""

from __future__ import annotations

import random
import shutil
import threading
import time

import pytest

from tests.annotation_runs import make_runs
from workbench import store
from workbench.errors import UserError
from workbench.rating import annotation as an

VARIANTS = [("support_zero_shot", "openai:gpt-alpha"), ("support_few_shot", "openai:gpt-beta")]
NAMES = ["ann", "bob", "cy"]


def old_step(con, sid: str, name: str, rating: tuple[int, str] | None):
    """The click as the page made it before: three units of work."""
    if rating is not None:
        an.record_rating(con, sid, rating[0], name, rating[1])
    item = an.next_item(con, sid, name)
    return item, an.progress(con, sid, name, before=item.item_idx if item else None)


def new_step(con, data: an.SessionData, name: str, rating: tuple[int, str] | None):
    if rating is None:
        return an.rate_and_next(con, data, name)
    return an.rate_and_next(con, data, name, rating[0], rating[1])


@pytest.mark.parametrize("spec", [dict(k=1), dict(k=2), dict(k=2, annotators=NAMES), dict(k=1, pairwise=True)],
                         ids=["k1", "k2", "roster", "pairwise"])
def test_the_one_transaction_step_matches_the_three_it_replaces(db, tmp_path, spec):
    """Two copies of one session, one driven the old way and one the new, through the same random walk of
    ratings, re-ratings, leaving and the owner's releases: every item and progress count agrees."""
    runs = make_runs(db, VARIANTS, n_rows=6)
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec(runs, seed=5, **spec))
    twin = str(tmp_path / "twin.duckdb")
    shutil.copy(db, twin)
    with store.connect(twin) as con:
        data = an.load_session(con, sid)
    shown: dict[str, int | None] = {}
    rng = random.Random(7)
    for turn in range(60):
        name = rng.choice(NAMES)
        action = rng.random()
        if action < 0.1 and shown.get(name) is not None:  # the rater stops; the owner releases their item
            with store.connect(db) as old, store.connect(twin) as new:
                assert an.leave(old, sid, name) == an.leave(new, sid, name)
            shown[name] = None
            continue
        rating = None
        if shown.get(name) is not None:
            rating = (shown[name], rng.choice(an.SCALES[data.info["scale"]]))
        elif action < 0.2 and (done := previous(db, sid, name)) is not None:
            rating = (done, rng.choice(an.SCALES[data.info["scale"]]))  # re-rates an earlier item
        with store.connect(db) as con:
            before = old_step(con, sid, name, rating)
        with store.connect(twin) as con:
            after = new_step(con, data, name, rating)
        assert (after[0] and after[0].item_idx) == (before[0] and before[0].item_idx), (turn, name)
        assert after[0] == before[0] and after[1] == before[1], (turn, name)
        shown[name] = after[0] and after[0].item_idx
    with store.connect(db) as old, store.connect(twin) as new:
        query = "SELECT item_idx, annotator, value FROM ratings ORDER BY ALL"
        assert old.execute(query).fetchall() == new.execute(query).fetchall()
        query = "SELECT item_idx, annotator, released_at IS NULL, expires_at IS NULL FROM annotation_assignments ORDER BY ALL"
        assert old.execute(query).fetchall() == new.execute(query).fetchall()
        query = "SELECT item_idx, n_assigned FROM annotation_items ORDER BY ALL"
        assert old.execute(query).fetchall() == new.execute(query).fetchall()


def previous(db: str, sid: str, name: str) -> int | None:
    with store.connect(db) as con:
        return an.previous_rated(con, sid, name, None)


def test_expired_claims_go_back_and_a_lapsed_rating_is_kept_or_refused(db):
    runs = make_runs(db, VARIANTS[:1], n_rows=4)
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec(runs, k=1, seed=1, claim_timeout=0.2))
        data = an.load_session(con, sid)
        ann, _ = an.rate_and_next(con, data, "ann")
        time.sleep(0.3)  # ann's claim lapses; bob's step releases it and, first in the pool, takes it
        bob, progress = an.rate_and_next(con, data, "bob")
        assert bob.item_idx == ann.item_idx and progress.remaining == 4
        with pytest.raises(UserError, match="another rater has it now"):
            an.rate_and_next(con, data, "ann", ann.item_idx, "3")
        item, progress = an.rate_and_next(con, data, "bob", bob.item_idx, "4")
        time.sleep(0.3)
        # lapsed, and nobody took it: the rating is stored (the claim is hers again) and the next one comes
        after, progress = an.rate_and_next(con, data, "bob", item.item_idx, "5")
        assert (progress.rated, progress.session_ratings, progress.previous) == (2, 2, item.item_idx)
        assert after.item_idx not in (bob.item_idx, item.item_idx)


def test_threads_racing_across_expiry_never_share_an_item(db):
    """The click's transaction under the race test_claims runs on the three units of work it replaces."""
    runs = make_runs(db, VARIANTS, n_rows=12)
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec(runs, k=1, seed=6, claim_timeout=0.05))
        data = an.load_session(con, sid)
    errors, refused = [], []

    def annotate(n: int) -> None:
        name, turn = f"rater-{n}", 0
        try:
            with store.connect(db, linger=1.0) as con:
                item, _ = an.rate_and_next(con, data, name)
            while item is not None:
                turn += 1
                if turn % 3 == n % 3:
                    time.sleep(0.08)  # dawdles past the timeout: a rival may take the item meanwhile
                with store.connect(db, linger=1.0) as con:
                    try:
                        item, _ = an.rate_and_next(con, data, name, item.item_idx, "3")
                    except UserError as e:
                        refused.append(str(e))
                        item, _ = an.rate_and_next(con, data, name)
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
        live = con.execute("SELECT item_idx, count(*) FROM annotation_assignments WHERE session_id = ? "
                           "AND released_at IS NULL GROUP BY 1", [sid]).fetchall()
    assert sorted(per_item) == [(i, 1) for i in range(24)] and sorted(live) == [(i, 1) for i in range(24)]
