"""Prompt version history: every saved or run version of a prompt, newest first."""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb

from workbench.errors import UserError
from workbench.store.db import record

if TYPE_CHECKING:
    import pandas as pd  # only for annotations: importing it costs 0.3-0.5 s on the eval path

Con = duckdb.DuckDBPyConnection


def list_prompt_versions(con: Con, name: str | None = None) -> pd.DataFrame:
    """hash, name, path, created_at and how many runs used each version; one prompt's or all."""
    sql = """
        SELECT p.hash, p.name, p.path, p.created_at, count(r.id) AS n_runs
        FROM prompt_versions p LEFT JOIN runs r ON r.prompt_hash = p.hash
        {where} GROUP BY ALL ORDER BY p.created_at DESC, p.hash
    """
    if name is None:
        return con.execute(sql.format(where="")).df()
    return con.execute(sql.format(where="WHERE p.name = ?"), [name]).df()


def get_prompt_version(con: Con, version: str) -> dict:
    """One stored version: hash, name, path, content (the prompt file as YAML), created_at."""
    found = record(con, "SELECT hash, name, path, content, created_at FROM prompt_versions WHERE hash = ?", [version])
    if found is None:
        raise UserError(f"no stored prompt version {version!r}", "prompt version")
    return found
