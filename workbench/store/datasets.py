"""Stored datasets: the list, and the rows of one (as saved by save_dataset)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import duckdb

from workbench.errors import UserError
from workbench.store.db import record

if TYPE_CHECKING:
    import pandas as pd  # only for annotations: importing it costs 0.3-0.5 s on the eval path

Con = duckdb.DuckDBPyConnection


def list_datasets(con: Con) -> pd.DataFrame:
    return con.execute(
        "SELECT hash, name, path, n_rows, columns, reference_field, lang, created_at FROM datasets "
        "ORDER BY created_at DESC, name"
    ).df()


def get_dataset(con: Con, dataset_hash: str, rows: bool = True) -> dict[str, Any]:
    """Metadata and (unless rows=False) the rows, parsed, of a stored dataset."""
    meta = record(con, "SELECT * FROM datasets WHERE hash = ?", [dataset_hash])
    if meta is None:
        raise UserError(f"no stored dataset {dataset_hash!r}", "dataset")
    meta["columns"] = list(meta["columns"] or [])
    if not rows:
        return meta
    data = con.execute("SELECT data FROM dataset_rows WHERE dataset_hash = ? ORDER BY row_idx", [dataset_hash]).fetchall()
    meta["rows"] = [json.loads(d) for (d,) in data]
    return meta
