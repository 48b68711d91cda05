"""Reads behind the Compare page: outputs of several runs side by side, token totals, score values."""

from __future__ import annotations

import duckdb
import pandas as pd

Con = duckdb.DuckDBPyConnection


def grid_outputs(con: Con, run_ids: list[str], metric: str | None) -> pd.DataFrame:
    """run_id, row_idx, text, error, score (the metric, first repeat) for every output of the runs."""
    return con.execute(
        """
        SELECT o.run_id, o.row_idx, o.text, o.error, s.value AS score
        FROM outputs o
        LEFT JOIN scores s ON s.run_id = o.run_id AND s.row_idx = o.row_idx AND s.repeat_idx = o.repeat_idx
                          AND s.metric = ?
        WHERE o.run_id IN (SELECT unnest(?::VARCHAR[])) AND o.repeat_idx = 0
        """,
        [metric or "", run_ids],
    ).df()


def dataset_rows(con: Con, dataset_hash: str, row_idxs: list[int] | None = None) -> pd.DataFrame:
    """row_idx, data (JSON text) of a stored dataset, all rows or the given ones."""
    if row_idxs is None:
        return con.execute("SELECT row_idx, data FROM dataset_rows WHERE dataset_hash = ? ORDER BY row_idx",
                           [dataset_hash]).df()
    return con.execute(
        "SELECT row_idx, data FROM dataset_rows WHERE dataset_hash = ? AND row_idx IN (SELECT unnest(?::INTEGER[])) "
        "ORDER BY row_idx", [dataset_hash, row_idxs]).df()


def token_stats(con: Con, run_ids: list[str]) -> pd.DataFrame:
    """run_id, tokens_in, tokens_out (totals) and their means per successful output."""
    return con.execute(
        """
        SELECT run_id, sum(tokens_in) AS tokens_in, sum(tokens_out) AS tokens_out,
               avg(tokens_in) AS tokens_in_mean, avg(tokens_out) AS tokens_out_mean
        FROM outputs WHERE run_id IN (SELECT unnest(?::VARCHAR[])) AND error IS NULL GROUP BY run_id
        """,
        [run_ids],
    ).df()


def score_values(con: Con, run_ids: list[str], metric: str) -> pd.DataFrame:
    """run_id, value: every score of one metric (all repeats), for distributions."""
    return con.execute(
        "SELECT run_id, value FROM scores WHERE run_id IN (SELECT unnest(?::VARCHAR[])) AND metric = ? "
        "AND value IS NOT NULL", [run_ids, metric]).df()


def run_metrics(con: Con, run_ids: list[str]) -> list[str]:
    """Metrics scored in any of the runs, in first-seen order."""
    rows = con.execute("SELECT metric, min(rowid) FROM scores WHERE run_id IN (SELECT unnest(?::VARCHAR[])) "
                       "GROUP BY metric ORDER BY 2", [run_ids]).fetchall()
    return [m for m, _ in rows]


def run_choices(con: Con) -> pd.DataFrame:
    """Runs newest first with their dataset (hash and name), for picking what to compare."""
    return con.execute(
        """
        SELECT r.id, r.prompt_name, r.prompt_hash, r.model_spec, r.dataset_hash, d.name AS dataset, r.n_rows,
               r.repeats, r.status, r.created_at
        FROM runs r LEFT JOIN datasets d ON d.hash = r.dataset_hash ORDER BY r.created_at DESC, r.id
        """
    ).df()
