"""OpenAI-compatible endpoints the user added on the Models page, kept in the file for every session. A spec
may name the environment variable that holds its key (`?key_env=NAME`, see providers/keys.py), never the key."""

from __future__ import annotations

import duckdb

Con = duckdb.DuckDBPyConnection


def list_endpoints(con: Con) -> list[str]:
    return [s for (s,) in con.execute("SELECT spec FROM endpoints ORDER BY added_at, spec").fetchall()]


def add_endpoint(con: Con, spec: str) -> None:
    con.execute("INSERT INTO endpoints (spec) VALUES (?) ON CONFLICT DO NOTHING", [spec])


def remove_endpoint(con: Con, spec: str) -> None:
    con.execute("DELETE FROM endpoints WHERE spec = ?", [spec])
