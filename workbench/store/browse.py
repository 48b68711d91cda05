"""Reads behind the Compare page: outputs of runs, token totals, score values, the runs to pick from."""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb

from workbench.store.db import one_of
from workbench.store.runs import live_status

if TYPE_CHECKING:
    import pandas as pd  # only for annotations: importing it costs 0.3-0.5 s on the eval path

Con = duckdb.DuckDBPyConnection


def grid_outputs(con: Con, run_ids: list[str], metric: str | None) -> pd.DataFrame:
    """run_id, row_idx, text, error, score (the metric, first repeat) for every output of the runs."""
    return con.execute(
        f"""
        SELECT o.run_id, o.row_idx, o.text, o.error, s.value AS score
        FROM outputs o
        LEFT JOIN scores s ON s.run_id = o.run_id AND s.row_idx = o.row_idx AND s.turn_idx = o.turn_idx AND s.repeat_idx = o.repeat_idx
                          AND s.metric = ?
        WHERE {one_of("o.run_id", run_ids)} AND o.repeat_idx = 0
        """,
        [metric or "", *run_ids],
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
        f"""
        SELECT run_id, sum(tokens_in) AS tokens_in, sum(tokens_out) AS tokens_out,
               avg(tokens_in) AS tokens_in_mean, avg(tokens_out) AS tokens_out_mean
        FROM outputs WHERE {one_of("run_id", run_ids)} AND error IS NULL GROUP BY run_id
        """,
        run_ids,
    ).df()


def score_values(con: Con, run_ids: list[str], metric: str) -> pd.DataFrame:
    """run_id, value: every score of one metric (all repeats), for distributions."""
    return con.execute(
        f"SELECT run_id, value FROM scores WHERE {one_of('run_id', run_ids)} AND metric = ? "
        "AND value IS NOT NULL", [*run_ids, metric]).df()


def run_metrics(con: Con, run_ids: list[str]) -> list[str]:
    """Metrics scored in any of the runs, in the order the runs asked for them."""
    declared: list[str] = []
    for (names,) in con.execute("SELECT json_extract_string(metrics, '$[*].name') FROM runs "
                                "WHERE id IN (SELECT unnest(?::VARCHAR[])) ORDER BY created_at", [run_ids]).fetchall():
        declared += names
    scored = {m for (m,) in con.execute(f"SELECT DISTINCT metric FROM scores WHERE {one_of('run_id', run_ids)}",
                                        run_ids).fetchall()}
    order = list(dict.fromkeys(declared))
    return [m for m in order if m in scored] + sorted(scored - set(order))


def run_choices(con: Con) -> pd.DataFrame:
    """Runs newest first with their dataset (hash and name), for picking what to compare."""
    df = con.execute(
        """
        SELECT r.id, r.prompt_name, r.prompt_hash, r.model_spec, r.dataset_hash, d.name AS dataset, r.n_rows,
               r.repeats, r.status, r.created_at, r.owner
        FROM runs r LEFT JOIN datasets d ON d.hash = r.dataset_hash
        WHERE r.judge_of IS NULL ORDER BY r.created_at DESC, r.id
        """
    ).df()
    df["status"] = [live_status(s, o) for s, o in zip(df["status"], df["owner"])]
    return df.drop(columns="owner")


def run_stamp(con: Con, run_ids: list[str]) -> tuple:
    """Changes whenever one of the runs stores an output or changes status (for caches)."""
    rows = con.execute(
        "SELECT r.id, r.status, (SELECT count(*) FROM outputs o WHERE o.run_id = r.id) FROM runs r "
        "WHERE r.id IN (SELECT unnest(?::VARCHAR[])) ORDER BY r.id", [run_ids]).fetchall()
    return tuple(rows)
