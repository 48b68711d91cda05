"""One step of a rater through a session, in one transaction: store their rating (if any), hand them their
next item (claiming one when they hold none) and count their progress.

The Annotate page's click is this step. DuckDB spends one to two milliseconds of CPU on even the smallest
statement (and more per table it scans), so the step is kept to eight: one read of this rater's claims and
ratings with the session's count of ratings and of expired claims, the rating (two), what is free (one read,
which also picks the item to claim), the claim (two), BEGIN and COMMIT; the counts are then kept up to date
in Python. Rating, then next_assigned_unrated + claim_item, then progress_counts took about twenty
statements in three transactions.
"""

from __future__ import annotations

from typing import Any

from workbench.store.ratings import NOW, Con, _release, _transaction, _upsert_one, hold_for_rating, take_item

LIVE = f"released_at IS NULL AND (expires_at IS NULL OR expires_at > {NOW})"
# Two scans: the session's ratings (how many; which are this rater's) and its claims (this rater's; how many
# have expired).
STATE = f"""
SELECT
    (SELECT {{'n': count(*), 'mine': list(item_idx) FILTER (WHERE annotator = $who)}} FROM ratings
     WHERE session_id = $sid AND kind = $kind),
    (SELECT {{'mine': list([item_idx, (released_at IS NULL)::INT, ({LIVE})::INT]) FILTER (WHERE annotator = $who),
              'expired': count(*) FILTER (WHERE released_at IS NULL AND expires_at <= {NOW})}}
     FROM annotation_assignments WHERE session_id = $sid)
"""
# What this rater can claim (items with fewer than k live claims, none of them theirs), with the first such
# item and the first they held before (a returning rater resumes where they were), as claim_item chooses.
FREE = """
SELECT count(*), min(item_idx), min(item_idx) FILTER (WHERE list_contains($released, item_idx))
FROM annotation_items WHERE session_id = $sid AND n_assigned < $k AND NOT list_contains($held, item_idx)
"""


def rate_and_next(con: Con, session: dict[str, Any], annotator: str,
                  rating: dict[str, Any] | None = None) -> dict[str, Any]:
    """The rating (when given: outcome as store.rate_held_item) and the next item with the progress counts.

    Returns {"outcome", "item" (None: nothing left for them), "rated", "assigned", "claimable",
    "session_ratings", "previous" (their last rated item before `item`, or their last one)}; only
    {"outcome"} when the rating was refused ("not_assigned", "taken").
    """
    def work() -> dict[str, Any]:
        state = _state(con, session, annotator)
        outcome = None
        if rating is not None:
            outcome = hold_for_rating(con, rating, session["k"])
            if outcome in ("not_assigned", "taken"):
                return {"outcome": outcome}
            _rate(con, rating, outcome, state)
        if session["annotators"] is None and state["expired"]:  # expired claims go back to the pool first
            _release(con, session["id"], f"expires_at <= {NOW}", [])
            state = _state(con, session, annotator)
        step = _next(con, session, annotator, state)
        item, rated = step["item"], state["rated"]
        step.update(outcome=outcome, session_ratings=state["session_ratings"],
                    previous=max((i for i in rated if item is None or i < item), default=None))
        return step

    return _transaction(con, work, serial=True)


def _state(con: Con, session: dict[str, Any], annotator: str) -> dict[str, Any]:
    """What a step needs to know of this rater's claims and ratings, in one statement."""
    ratings, claims = con.execute(STATE, {"sid": session["id"], "kind": session["scale"], "who": annotator}).fetchone()
    mine = claims["mine"] or []
    return {"session_ratings": int(ratings["n"]), "rated": {int(i) for i in ratings["mine"] or []},
            "held": {int(i) for i, kept, _live in mine if kept},  # not released (live, or lapsing right now)
            "live": {int(i) for i, _kept, live in mine if live},
            "released": {int(i) for i, kept, _live in mine if not kept}, "expired": int(claims["expired"])}


def _rate(con: Con, rating: dict[str, Any], outcome: str, state: dict[str, Any]) -> None:
    """Store a rating the rater holds (after hold_for_rating) and count it in `state`."""
    item = int(rating["item_idx"])
    _upsert_one(con, rating, exists=item in state["rated"])
    if item not in state["rated"]:
        state["session_ratings"] += 1
    state["rated"].add(item)
    state["released"].discard(item)  # reclaimed: their lapsed claim, free again, is theirs again
    state["held"].add(item)
    state["live"].add(item)


def _next(con: Con, session: dict[str, Any], annotator: str, state: dict[str, Any]) -> dict[str, Any]:
    """Inside rate_and_next's transaction: the first live unrated item this rater holds, else a new claim."""
    live = set(state["live"])
    item = min(live - state["rated"], default=None)
    claimable = 0
    if session["annotators"] is None:
        claimable, first, again = con.execute(FREE, {"sid": session["id"], "k": session["k"],
                                                     "held": sorted(state["held"]),
                                                     "released": sorted(state["released"])}).fetchone()
        pick = again if again is not None else first
        if item is None and pick is not None:
            item = int(pick)
            take_item(con, session["id"], item, annotator, session["claim_timeout"], item in state["released"])
            live.add(item)
            claimable -= 1
    return {"item": item, "rated": len(live & state["rated"]), "assigned": len(live), "claimable": int(claimable)}

