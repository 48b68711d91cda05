"""Annotation sessions, their blind items, who is assigned what, and the ratings.

Every function takes an open connection (see db.connect). Writes that several annotators may race on
(claiming an item, re-rating) run in short transactions that are retried when DuckDB reports a
write conflict between two connections of one process (the app serves every annotator from one).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import duckdb

from workbench.errors import UserError
from workbench.store.db import record, registered, transaction

if TYPE_CHECKING:
    import pandas as pd  # only for annotations: importing it costs 0.3-0.5 s on the eval path

Con = duckdb.DuckDBPyConnection
T = TypeVar("T")

ITEM_COLUMNS = ["session_id", "item_idx", "row_idx", "repeat_idx", "turn_idx", "run_a", "run_b", "n_assigned"]
RATING_COLUMNS = ["session_id", "item_idx", "annotator", "kind", "value", "comment", "tags", "rated_at"]
CONFLICT_RETRIES = 50
# Claims, releases and ratings of held items run one at a time in a process. Another process cannot run
# any transaction meanwhile (DuckDB's file lock), and within the app's process this leaves nothing to
# MVCC's conflict detection: under heavy load, 4 threads racing across 50 ms expiries once ended with two
# live k=1 claims on one item when the transactions were left to conflict. Each is a few small statements.
_claims = threading.Lock()


def _transaction(con: Con, work: Callable[[], T], serial: bool = False) -> T:
    """Run `work` in a transaction; retry it when another connection wrote the same rows first.
    `serial`: one such transaction at a time in this process (claims)."""
    for attempt in range(CONFLICT_RETRIES):
        try:
            with _claims if serial else contextlib.nullcontext(), transaction(con):
                return work()
        except duckdb.TransactionException:
            if attempt == CONFLICT_RETRIES - 1:
                raise
            time.sleep(0.005 * (attempt + 1))
    raise AssertionError("unreachable")


def _insert_frame(con: Con, table: str, df: pd.DataFrame, replace: bool = False) -> None:
    verb = "INSERT OR REPLACE" if replace else "INSERT"
    with registered(con, "_frame", df):
        con.execute(f"{verb} INTO {table} ({', '.join(df.columns)}) SELECT * FROM _frame")


# -- sessions ----------------------------------------------------------------------------------------
def create_session(con: Con, session: dict[str, Any], items: pd.DataFrame, assignments: pd.DataFrame) -> None:
    """Store a session with its items (in their shuffled order) and any up-front assignments, atomically."""
    def work() -> None:
        con.execute(
            "INSERT INTO annotation_sessions (id, name, kind, scale, runs, seed, k, annotators, rubric, tags, "
            "claim_timeout, unit, show_passages, show_fields) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [session["id"], session.get("name"), session["kind"], session["scale"], session["runs"], session["seed"],
             session["k"], session.get("annotators"), session["rubric"], session.get("tags"),
             session["claim_timeout"], session.get("unit"), bool(session.get("show_passages")),
             session.get("show_fields")],
        )
        _insert_frame(con, "annotation_items", items[ITEM_COLUMNS])
        if not assignments.empty:
            _insert_frame(con, "annotation_assignments", assignments[["session_id", "item_idx", "annotator"]])

    _transaction(con, work)


def get_session(con: Con, session_id: str) -> dict[str, Any]:
    out = record(con, "SELECT * FROM annotation_sessions WHERE id = ?", [session_id])
    if out is None:
        raise UserError(f"no annotation session {session_id!r} (see `workbench annotate list`)", "SESSION")
    out["n_items"] = con.execute("SELECT count(*) FROM annotation_items WHERE session_id = ?",
                                 [session_id]).fetchone()[0]
    return out


def resolve_session(con: Con, ref: str) -> str:
    """A session id, or a unique prefix of one."""
    from workbench.store.runs import resolve_id

    return resolve_id(con, "annotation_sessions", ref, "annotation session", "workbench annotate list", "SESSION")


def list_sessions(con: Con) -> pd.DataFrame:
    return con.execute(
        """
        SELECT s.id, s.name, s.kind, s.scale, s.runs, s.k, s.created_at, s.claim_timeout, s.unit,
               (SELECT count(*) FROM annotation_items i WHERE i.session_id = s.id) AS n_items,
               (SELECT count(*) FROM ratings r WHERE r.session_id = s.id AND r.kind = s.scale) AS n_ratings,
               (SELECT count(DISTINCT r.annotator) FROM ratings r WHERE r.session_id = s.id) AS n_annotators
        FROM annotation_sessions s ORDER BY s.created_at, s.id
        """
    ).df()


def usable_outputs(con: Con, run_ids: list[str], by_turn: bool = False) -> pd.DataFrame:
    """(run_id, row_idx, repeat_idx) of outputs that have text to rate (errors are left out); `by_turn`:
    (run_id, row_idx, turn_idx, repeat_idx) of every turn that has."""
    if by_turn:
        return con.execute(
            "SELECT run_id, row_idx, turn_idx, repeat_idx FROM outputs WHERE list_contains(?, run_id) "
            "AND error IS NULL AND text IS NOT NULL ORDER BY run_id, row_idx, turn_idx, repeat_idx", [run_ids]).df()
    # grouped by (run, row, repeat): a conversation (several turns) is one item, usable when every turn is
    return con.execute(
        "SELECT run_id, row_idx, repeat_idx FROM outputs WHERE list_contains(?, run_id) GROUP BY ALL "
        "HAVING count(error) = 0 AND count(text) = count(*) ORDER BY run_id, row_idx, repeat_idx",
        [run_ids],
    ).df()


# -- assignment, claims and progress -------------------------------------------------------------------
# A claim is live while it is not released and (rated, a roster deal, or) its deadline has not passed.
NOW = "CAST(current_timestamp AS TIMESTAMP)"
LIVE = f"a.released_at IS NULL AND (a.expires_at IS NULL OR a.expires_at > {NOW})"


def next_assigned_unrated(con: Con, session_id: str, annotator: str, kind: str) -> int | None:
    """The first item (stored order) this annotator holds live and has not rated."""
    row = con.execute(
        f"""
        SELECT a.item_idx FROM annotation_assignments a
        WHERE a.session_id = ? AND a.annotator = ? AND {LIVE}
          AND NOT EXISTS (SELECT 1 FROM ratings r WHERE r.session_id = a.session_id AND r.item_idx = a.item_idx
                          AND r.annotator = a.annotator AND r.kind = ?)
        ORDER BY a.item_idx LIMIT 1
        """,
        [session_id, annotator, kind],
    ).fetchone()
    return None if row is None else int(row[0])


def _release(con: Con, session_id: str, where: str, params: list) -> list[int]:
    """Release the unrated claims matching `where` (on alias-free columns) and recount their items."""
    items = [int(i) for (i,) in con.execute(
        f"UPDATE annotation_assignments SET released_at = {NOW}, expires_at = NULL "
        f"WHERE session_id = ? AND released_at IS NULL AND expires_at IS NOT NULL AND {where} RETURNING item_idx",
        [session_id, *params]).fetchall()]
    if items:
        con.execute(
            """
            UPDATE annotation_items SET n_assigned = (
                SELECT count(*) FROM annotation_assignments a WHERE a.session_id = annotation_items.session_id
                AND a.item_idx = annotation_items.item_idx AND a.released_at IS NULL)
            WHERE session_id = ? AND list_contains(?, item_idx)
            """, [session_id, sorted(set(items))])
    return items


def claim_item(con: Con, session_id: str, annotator: str, k: int, timeout: float) -> int | None:
    """Give this annotator the first free item: fewer than k live claims and not theirs already.

    Expired claims go back to the pool first. An item this annotator held before (left, expired) comes
    first when it is free again, so a returning rater resumes where they were. Updating n_assigned (and
    the expired claims' rows) makes two annotators racing for a place, or for an expired claim, conflict;
    the loser retries and sees the winner's claim.
    """
    def work() -> int | None:
        _release(con, session_id, f"expires_at <= {NOW}", [])
        row = con.execute(
            """
            SELECT i.item_idx, a.annotator IS NOT NULL FROM annotation_items i
            LEFT JOIN annotation_assignments a ON a.session_id = i.session_id AND a.item_idx = i.item_idx
                 AND a.annotator = ?
            WHERE i.session_id = ? AND i.n_assigned < ? AND (a.annotator IS NULL OR a.released_at IS NOT NULL)
            ORDER BY a.annotator IS NULL, i.item_idx LIMIT 1
            """,
            [annotator, session_id, k],
        ).fetchone()
        if row is None:
            return None
        item, again = int(row[0]), bool(row[1])
        take_item(con, session_id, item, annotator, timeout, again)
        return item

    return _transaction(con, work, serial=True)


def take_item(con: Con, session_id: str, item: int, annotator: str, timeout: float, again: bool) -> None:
    """The claim itself: one more live claim on the item, and the claim's row, new or (`again`) their released
    one back (a plain UPDATE or INSERT: ON CONFLICT costs 3x the CPU)."""
    con.execute("UPDATE annotation_items SET n_assigned = n_assigned + 1 WHERE session_id = ? AND item_idx = ?",
                [session_id, item])
    expires = f"{NOW} + to_microseconds(CAST(? * 1e6 AS BIGINT))"
    if again:
        con.execute(f"UPDATE annotation_assignments SET assigned_at = {NOW}, expires_at = {expires}, "
                    "released_at = NULL WHERE session_id = ? AND item_idx = ? AND annotator = ?",
                    [float(timeout), session_id, item, annotator])
    else:
        con.execute("INSERT INTO annotation_assignments (session_id, item_idx, annotator, assigned_at, expires_at) "
                    f"VALUES (?, ?, ?, {NOW}, {expires})", [session_id, item, annotator, float(timeout)])


def release_claims(con: Con, session_id: str, annotator: str | None = None, item_idx: int | None = None) -> int:
    """Send unrated claims back to the pool now (a rater who left; the owner releasing); how many.

    Roster deals are not claims and stay where they are.
    """
    where, params = "true", []
    if annotator is not None:
        where, params = "annotator = ?", [annotator]
    if item_idx is not None:
        where, params = f"{where} AND item_idx = ?", [*params, item_idx]
    return len(_transaction(con, lambda: _release(con, session_id, where, params), serial=True))


def rate_held_item(con: Con, rating: dict[str, Any], k: int) -> str:
    """Store a rating of an item the annotator holds, in one transaction; what happened (hold_for_rating)."""
    def work() -> str:
        outcome = hold_for_rating(con, rating, k)
        if outcome in ("held", "reclaimed"):
            _upsert_one(con, rating)
        return outcome

    return _transaction(con, work, serial=True)


def hold_for_rating(con: Con, rating: dict[str, Any], k: int) -> str:
    """Inside a transaction, before a rating is stored: whether the annotator holds the item.

    "held": the claim was live (or a roster deal, or already rated). "reclaimed": the claim had lapsed but
    the item is still free, so it is theirs again. "taken": it lapsed and someone else holds it now.
    "not_assigned": it was never theirs. Rating clears the claim's deadline: that write makes a rating
    and a rival releasing the same expired claim conflict, so one of them sees the other's result.
    """
    key = [rating["session_id"], rating["item_idx"], rating["annotator"]]
    held = con.execute(
        "UPDATE annotation_assignments SET expires_at = NULL WHERE session_id = ? AND item_idx = ? "
        "AND annotator = ? AND released_at IS NULL RETURNING 1", key).fetchall()
    if held:
        return "held"
    mine = con.execute("SELECT 1 FROM annotation_assignments WHERE session_id = ? AND item_idx = ? "
                       "AND annotator = ?", key).fetchone()
    if mine is None:
        return "not_assigned"
    free = con.execute(
        "UPDATE annotation_items SET n_assigned = n_assigned + 1 WHERE session_id = ? AND item_idx = ? "
        "AND n_assigned < ? RETURNING 1", [*key[:2], k]).fetchall()
    if not free:
        return "taken"
    con.execute("UPDATE annotation_assignments SET released_at = NULL, expires_at = NULL, "
                f"assigned_at = {NOW} WHERE session_id = ? AND item_idx = ? AND annotator = ?", key)
    return "reclaimed"


def open_claims(con: Con, session_id: str) -> pd.DataFrame:
    """Claimed but unrated items: who holds each, since when, until when, and whether it has expired."""
    return con.execute(
        f"""
        SELECT a.item_idx, a.annotator, a.assigned_at AS claimed_at, a.expires_at,
               date_diff('second', a.assigned_at, {NOW}) AS age_s, a.expires_at <= {NOW} AS expired
        FROM annotation_assignments a
        WHERE a.session_id = ? AND a.released_at IS NULL AND a.expires_at IS NOT NULL
        ORDER BY a.assigned_at, a.item_idx
        """, [session_id]).df()


def progress_counts(con: Con, session_id: str, annotator: str, kind: str, k: int,
                    before: int | None = None) -> dict[str, Any]:
    """One read for the Annotate page: this annotator's rated and live items, what they can still claim,
    the session's ratings, and their last rated item before `before` (None: their last rated item)."""
    row = con.execute(
        f"""
        WITH mine AS (
            SELECT a.item_idx, r.item_idx IS NOT NULL AS rated FROM annotation_assignments a
            LEFT JOIN ratings r ON r.session_id = a.session_id AND r.item_idx = a.item_idx
                 AND r.annotator = a.annotator AND r.kind = $kind
            WHERE a.session_id = $sid AND a.annotator = $who AND {LIVE}),
        live AS (
            SELECT a.item_idx, count(*) AS n FROM annotation_assignments a
            WHERE a.session_id = $sid AND {LIVE} GROUP BY a.item_idx)
        SELECT
            (SELECT count(*) FILTER (WHERE rated) FROM mine),
            (SELECT count(*) FROM mine),
            (SELECT count(*) FROM annotation_items i LEFT JOIN live ON live.item_idx = i.item_idx
             WHERE i.session_id = $sid AND coalesce(live.n, 0) < $k
               AND i.item_idx NOT IN (SELECT item_idx FROM mine)),
            (SELECT count(*) FROM ratings WHERE session_id = $sid AND kind = $kind),
            (SELECT max(item_idx) FROM ratings WHERE session_id = $sid AND annotator = $who AND kind = $kind
               AND ($before IS NULL OR item_idx < $before))
        """,
        {"sid": session_id, "who": annotator, "kind": kind, "k": k, "before": before}).fetchone()
    rated, assigned, claimable, session_ratings, previous = row
    return {"rated": int(rated), "assigned": int(assigned), "claimable": int(claimable),
            "session_ratings": int(session_ratings), "previous": None if previous is None else int(previous)}


def claimable_count(con: Con, session_id: str, annotator: str, k: int) -> int:
    """Items this annotator could still claim: fewer than k live claims and none of them theirs."""
    return int(con.execute(
        f"""
        SELECT count(*) FROM annotation_items i
        WHERE i.session_id = ?
          AND (SELECT count(*) FROM annotation_assignments a WHERE a.session_id = i.session_id
               AND a.item_idx = i.item_idx AND {LIVE}) < ?
          AND NOT EXISTS (SELECT 1 FROM annotation_assignments a WHERE a.session_id = i.session_id
                          AND a.item_idx = i.item_idx AND a.annotator = ? AND {LIVE})
        """,
        [session_id, k, annotator]).fetchone()[0])


def assigned_items(con: Con, session_id: str, annotator: str) -> list[int]:
    """Items assigned to this annotator (not released), in the stored order."""
    return [int(i) for (i,) in con.execute(
        "SELECT item_idx FROM annotation_assignments WHERE session_id = ? AND annotator = ? AND released_at IS NULL "
        "ORDER BY item_idx",
        [session_id, annotator]).fetchall()]


def is_assigned(con: Con, session_id: str, item_idx: int, annotator: str) -> bool:
    """The annotator holds the item (a live or rated claim, or a roster deal); a released claim is not theirs."""
    return con.execute("SELECT 1 FROM annotation_assignments WHERE session_id = ? AND item_idx = ? AND annotator = ? "
                       "AND released_at IS NULL", [session_id, item_idx, annotator]).fetchone() is not None


def annotator_progress(con: Con, session_id: str, annotator: str, kind: str) -> tuple[int, int]:
    """(items this annotator rated, items assigned to them so far)."""
    rated, assigned = con.execute(
        """
        SELECT count(r.item_idx), count(*) FROM annotation_assignments a
        LEFT JOIN ratings r ON r.session_id = a.session_id AND r.item_idx = a.item_idx
             AND r.annotator = a.annotator AND r.kind = ?
        WHERE a.session_id = ? AND a.annotator = ? AND a.released_at IS NULL
        """,
        [kind, session_id, annotator],
    ).fetchone()
    return int(rated), int(assigned)


def session_rating_count(con: Con, session_id: str, kind: str) -> int:
    return int(con.execute("SELECT count(*) FROM ratings WHERE session_id = ? AND kind = ?",
                           [session_id, kind]).fetchone()[0])


def rated_items(con: Con, session_id: str, annotator: str, kind: str) -> list[int]:
    return [int(i) for (i,) in con.execute(
        "SELECT item_idx FROM ratings WHERE session_id = ? AND annotator = ? AND kind = ? ORDER BY item_idx",
        [session_id, annotator, kind]).fetchall()]


# -- ratings -----------------------------------------------------------------------------------------
def upsert_ratings(con: Con, ratings: list[dict[str, Any]]) -> None:
    """Insert or replace ratings (primary key: session, item, annotator, kind): re-rating overwrites."""
    if not ratings:
        return
    cols = RATING_COLUMNS[:-1]
    if len(ratings) == 1:  # one click in the app: a plain statement is several times faster than a frame
        _transaction(con, lambda: _upsert_one(con, ratings[0]))
        return
    import pandas as pd

    df = pd.DataFrame(ratings, columns=cols)
    df["rated_at"] = pd.Timestamp.now(tz="UTC").tz_localize(None)
    _transaction(con, lambda: _insert_frame(con, "ratings", df, replace=True))


def _upsert_one(con: Con, r: dict[str, Any], exists: bool | None = None) -> None:
    """Run inside a transaction. An UPDATE, then an INSERT when there was nothing to update: a first rating
    (the usual click) costs a third of the CPU of INSERT OR REPLACE, which goes through the key's index twice.
    `exists`: whether the caller knows (from this transaction) that the rating is there, which saves the
    UPDATE of a first rating too."""
    key = [r["session_id"], r["item_idx"], r["annotator"], r["kind"]]
    if exists is not False and con.execute(
            "UPDATE ratings SET value = ?, comment = ?, tags = ?::VARCHAR[], rated_at = current_timestamp "
            "WHERE session_id = ? AND item_idx = ? AND annotator = ? AND kind = ? RETURNING 1",
            [r["value"], r.get("comment"), r.get("tags"), *key]).fetchall():
        return
    cols = RATING_COLUMNS[:-1]
    con.execute(f"INSERT INTO ratings ({', '.join(cols)}, rated_at) VALUES (?, ?, ?, ?, ?, ?, ?::VARCHAR[], "
                "current_timestamp)", [r.get(c) for c in cols])


def get_rating(con: Con, session_id: str, item_idx: int, annotator: str, kind: str) -> dict[str, Any] | None:
    return record(con, "SELECT * FROM ratings WHERE session_id = ? AND item_idx = ? AND annotator = ? AND kind = ?",
                  [session_id, item_idx, annotator, kind])


def load_ratings(con: Con, session_ids: list[str]) -> pd.DataFrame:
    """Every rating of the sessions with its item (row, repeat, the run on each side)."""
    return con.execute(
        """
        SELECT r.session_id, r.item_idx, r.annotator, r.kind, r.value, r.comment, r.tags, r.rated_at,
               i.row_idx, i.repeat_idx, i.turn_idx, i.run_a, i.run_b
        FROM ratings r JOIN annotation_items i ON i.session_id = r.session_id AND i.item_idx = r.item_idx
        WHERE list_contains(?, r.session_id)
        ORDER BY r.session_id, r.item_idx, r.annotator, r.kind
        """,
        [session_ids],
    ).df()


# -- item contents -----------------------------------------------------------------------------------
def item_outputs(con: Con, session_id: str, item_idx: int | None = None, items: list[int] | None = None) -> pd.DataFrame:
    """Items with the dataset row, the rendered messages and output text of each side, and each run's variant:
    every item of the session, one (`item_idx`) or those listed (`items`: a page of a 100,000-item session).

    Callers that show an item to an annotator must drop the variant columns (blind rating).
    """
    sql = """
        SELECT i.item_idx, i.row_idx, i.repeat_idx, i.turn_idx, i.run_a, i.run_b,
               dr.data AS row_data, d.reference_field,
               oa.messages AS messages_a, oa.text AS text_a, ob.messages AS messages_b, ob.text AS text_b,
               ra.prompt_name AS prompt_a, ra.model_spec AS model_a, rb.prompt_name AS prompt_b, rb.model_spec AS model_b
        FROM annotation_items i
        JOIN runs ra ON ra.id = i.run_a
        LEFT JOIN runs rb ON rb.id = i.run_b
        JOIN outputs oa ON oa.run_id = i.run_a AND oa.row_idx = i.row_idx AND oa.repeat_idx = i.repeat_idx
             AND oa.turn_idx = coalesce(i.turn_idx, 0)  -- a whole conversation: its first turn here, the
        LEFT JOIN outputs ob ON ob.run_id = i.run_b AND ob.row_idx = i.row_idx  -- rest from conversation_answers
             AND ob.repeat_idx = i.repeat_idx AND ob.turn_idx = coalesce(i.turn_idx, 0)
        LEFT JOIN datasets d ON d.hash = ra.dataset_hash
        LEFT JOIN dataset_rows dr ON dr.dataset_hash = ra.dataset_hash AND dr.row_idx = i.row_idx
        WHERE i.session_id = ?"""
    params: list[Any] = [session_id]
    if item_idx is not None:
        sql += " AND i.item_idx = ?"
        params.append(item_idx)
    if items is not None:
        sql += " AND list_contains(?::INTEGER[], i.item_idx)"
        params.append([int(i) for i in items])
    df = con.execute(sql + " ORDER BY i.item_idx", params).df()
    for col in ("messages_a", "messages_b"):
        df[col] = [json.loads(m) if isinstance(m, str) else None for m in df[col]]
    df["row_data"] = [json.loads(d) if isinstance(d, str) else {} for d in df["row_data"]]
    return df


def output_scores(con: Con, run_ids: list[str], rated_in: list[str] | None = None) -> pd.DataFrame:
    """Automatic scores of the runs' outputs, one row per (run, row, turn, repeat, metric); with `rated_in` (session
    ids) only those of outputs rated in these sessions, on either side: a few hundred rated outputs of runs with
    100,000 rows each, not every score of those runs."""
    if rated_in is None:
        return con.execute(
            "SELECT run_id, row_idx, turn_idx, repeat_idx, metric, value FROM scores WHERE list_contains(?, run_id) "
            "ORDER BY run_id, row_idx, turn_idx, repeat_idx, metric",
            [run_ids],
        ).df()
    return con.execute(
        """
        WITH rated AS (SELECT DISTINCT i.run_a, i.run_b, i.row_idx, i.repeat_idx FROM ratings r
                       JOIN annotation_items i ON i.session_id = r.session_id AND i.item_idx = r.item_idx
                       WHERE list_contains(?, r.session_id)),
             outs AS (SELECT run_a AS run_id, row_idx, repeat_idx FROM rated
                      UNION SELECT run_b, row_idx, repeat_idx FROM rated WHERE run_b IS NOT NULL)
        SELECT s.run_id, s.row_idx, s.turn_idx, s.repeat_idx, s.metric, s.value FROM scores s
        SEMI JOIN outs o ON o.run_id = s.run_id AND o.row_idx = s.row_idx AND o.repeat_idx = s.repeat_idx
        WHERE list_contains(?, s.run_id)
        ORDER BY s.run_id, s.row_idx, s.turn_idx, s.repeat_idx, s.metric
        """,
        [rated_in, run_ids],
    ).df()
