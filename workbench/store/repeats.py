"""Prompt stability over repeated runs (`eval --repeat N`): how much each row's scores and text vary."""

from __future__ import annotations

from typing import Any

import duckdb

Con = duckdb.DuckDBPyConnection


def repeat_stability(con: Con, run_id: str) -> dict[str, Any]:
    """Over rows with at least two successful repeats: the share whose output text changed, and per
    metric the mean (and largest) per-row sample variance of the score across repeats."""
    rows, changed = con.execute(
        """SELECT count(*), count(*) FILTER (WHERE n_texts > 1) FROM (
               SELECT row_idx, count(DISTINCT text) AS n_texts FROM outputs
               WHERE run_id = ? AND error IS NULL GROUP BY row_idx HAVING count(*) >= 2)""", [run_id]).fetchone()
    per_metric = con.execute(
        """SELECT metric, count(*)::INTEGER, avg(v), max(v), avg(sqrt(v)) FROM (
               SELECT metric, row_idx, var_samp(value) AS v FROM scores
               WHERE run_id = ? AND value IS NOT NULL AND NOT isnan(value)
               GROUP BY metric, row_idx HAVING count(value) >= 2)
           GROUP BY metric ORDER BY metric""", [run_id]).fetchall()
    return {
        "rows": int(rows),
        "changed_rows": int(changed),
        "changed_share": (changed / rows) if rows else None,
        "metrics": {m: {"rows": n, "mean_row_variance": mean_v, "max_row_variance": max_v, "mean_row_sd": mean_sd}
                    for m, n, mean_v, max_v, mean_sd in per_metric},
    }
