"""The response cache: model answers keyed by what produced them, kept in the DuckDB file.

A key is the SHA-256 of the provider's identity (kind, model, base URL; never a key), the generation
parameters and the exact rendered messages (see `workbench.engine.runner.cache_key`). Each entry also keeps
the scores its answer got, with a `score_key` naming the references, language, metric list and
metric signatures they were computed against: a re-run over the same rows copies answers and scores
inside DuckDB without touching Python per row; answers reused against other references are
re-scored by the runner, which then stores the new scores here.

Outputs served from the cache are stored with `cached = true`.
"""

from __future__ import annotations

from typing import Any

import duckdb

from workbench.store.db import registered, scan_columns, transaction, upsert_rows
from workbench.store.runs import drop_scores

Con = duckdb.DuckDBPyConnection

CACHE_COLUMNS = ["key", "provider", "text", "finish_reason", "latency_ms", "tokens_in", "tokens_out", "score_key",
                 "score_names", "score_values"]
LOOKUP_COLUMNS = ["run_id", "row_idx", "turn_idx", "repeat_idx", "key", "messages", "score_key"]


def save(con: Con, entries: list[dict[str, Any]]) -> None:
    """Insert or refresh cache entries (CACHE_COLUMNS fields) in one transaction."""
    if not entries:
        return
    with transaction(con):
        upsert_rows(con, "response_cache", entries, CACHE_COLUMNS)


def apply_hits(con: Con, wanted: dict[str, list]) -> tuple[list[tuple], list[tuple]]:
    """Store every cached answer among `wanted` (LOOKUP_COLUMNS columns) as an output with `cached = true`,
    with its stored scores where they were computed for the same `score_key`. Runs inside the caller's
    transaction (several chunks commit together).

    Returns the (run_id, row_idx, turn_idx, repeat_idx) served from the cache, and for those whose scores must be
    computed again: (run_id, row_idx, turn_idx, repeat_idx, key, text, finish_reason, latency_ms, tokens_in, tokens_out).
    """
    if not wanted["key"]:
        return [], []
    table = scan_columns({name: wanted[name] for name in LOOKUP_COLUMNS})
    with registered(con, "_want", table):
        # One pass over the cache per call (it grows with every answer; a join scans all of it): the hits,
        # with what they need, into a temporary table that the statements below read.
        con.execute(
            """CREATE OR REPLACE TEMP TABLE _hit AS
               SELECT w.run_id, w.row_idx, w.turn_idx, w.repeat_idx, w.key, w.messages, c.text, c.finish_reason, c.latency_ms,
                      c.tokens_in, c.tokens_out, c.score_names, c.score_values,
                      c.score_key IS NOT DISTINCT FROM w.score_key AS scores_apply
               FROM _want w JOIN response_cache c ON c.key = w.key""")
        # A new run's outputs exist nowhere yet (a re-run of a whole dataset): a plain INSERT, as write_results does.
        again = con.execute("SELECT count(*) FROM outputs SEMI JOIN _hit USING (run_id, row_idx, turn_idx, repeat_idx)"
                            ).fetchone()[0]
        con.execute(
            f"""{'INSERT OR REPLACE' if again else 'INSERT'} INTO outputs (run_id, row_idx, turn_idx, repeat_idx,
                   messages, text, error, error_kind, finish_reason, latency_ms, tokens_in, tokens_out, cached)
               SELECT run_id, row_idx, turn_idx, repeat_idx, messages, text, NULL, NULL, finish_reason, latency_ms, tokens_in,
                      tokens_out, true
               FROM _hit""")
        drop_scores(con, "_hit")
        con.execute(
            """INSERT INTO scores (run_id, row_idx, turn_idx, repeat_idx, metric, value)
               SELECT run_id, row_idx, turn_idx, repeat_idx, unnest(score_names), unnest(score_values)
               FROM _hit WHERE scores_apply""")
        hits = con.execute("SELECT run_id, row_idx, turn_idx, repeat_idx FROM _hit").fetchall()
        rescore = con.execute(
            """SELECT run_id, row_idx, turn_idx, repeat_idx, key, text, finish_reason, latency_ms, tokens_in, tokens_out
               FROM _hit WHERE NOT scores_apply""").fetchall()
        con.execute("DROP TABLE _hit")
    return hits, rescore


def unscored_outputs(con: Con, run_id: str) -> set[tuple[int, int, int]]:
    """(row_idx, turn_idx, repeat_idx) of successful outputs without any score: a cached answer stored by a
    process that died before its new scores were; resuming scores them."""
    return {(r, t, k) for r, t, k in con.execute(
        """SELECT o.row_idx, o.turn_idx, o.repeat_idx FROM outputs o
           WHERE o.run_id = ? AND o.error IS NULL AND NOT EXISTS (
               SELECT 1 FROM scores s WHERE s.run_id = o.run_id AND s.row_idx = o.row_idx
                                           AND s.turn_idx = o.turn_idx AND s.repeat_idx = o.repeat_idx)""",
        [run_id]).fetchall()}


def stats(con: Con) -> dict[str, int]:
    n, size = con.execute("SELECT count(*), coalesce(sum(length(text)), 0) FROM response_cache").fetchone()
    return {"entries": int(n), "text_chars": int(size)}


def clear(con: Con) -> int:
    n = con.execute("SELECT count(*) FROM response_cache").fetchone()[0]
    con.execute("DELETE FROM response_cache")
    return int(n)


def cached_count(con: Con, run_id: str) -> int:
    """Outputs of a run that were served from the response cache."""
    return int(con.execute("SELECT count(*) FROM outputs WHERE run_id = ? AND cached", [run_id]).fetchone()[0])
