"""Knowledge bases: immutable versions of chunks, the name that points at the current one, and the
passages each output was given.

Chunks arrive in batches from a streaming reader, so a big file is written without holding it whole.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import duckdb

from workbench.errors import UserError
from workbench.store.db import insert_rows, record, registered, scan_rows, transaction

if TYPE_CHECKING:
    import pandas as pd

Con = duckdb.DuckDBPyConnection

CHUNK_COLUMNS = ["version", "idx", "id", "title", "text", "source"]
PASSAGE_COLUMNS = ["run_id", "row_idx", "repeat_idx", "rank", "version", "chunk_idx", "chunk_id", "score"]


def knowledge_version_exists(con: Con, version: str) -> bool:
    return con.execute("SELECT 1 FROM knowledge_versions WHERE hash = ?", [version]).fetchone() is not None


def save_knowledge_version(con: Con, name: str, version: str, signature: dict, sources: list[dict],
                           chunk_batches: Iterable[list[dict[str, Any]]]) -> int:
    """Store a new version from batches of chunks {idx, id, title, text, source}, and point `name` at it.
    All or nothing: a bad row half-way through leaves the database as it was. Returns the chunk count."""
    n = 0
    with transaction(con):
        for batch in chunk_batches:
            for c in batch:
                c["version"] = version
            insert_rows(con, "knowledge_chunks", batch, CHUNK_COLUMNS)
            n += len(batch)
        con.execute(
            "INSERT INTO knowledge_versions (hash, base, signature, sources, n_chunks) VALUES (?, ?, ?, ?, ?)",
            [version, name, json.dumps(signature, sort_keys=True), json.dumps(sources, ensure_ascii=False), n])
        _point(con, name, version)
    return n


def set_knowledge_base(con: Con, name: str, version: str) -> None:
    """Point `name` at an existing version (re-adding unchanged files)."""
    with transaction(con):
        _point(con, name, version)


def _point(con: Con, name: str, version: str) -> None:
    con.execute("INSERT OR REPLACE INTO knowledge_bases (name, version, updated_at) VALUES (?, ?, current_timestamp)",
                [name, version])


def list_knowledge_bases(con: Con) -> pd.DataFrame:
    """name, current version, chunks, signature, updated_at and how many versions each base has had."""
    return con.execute(
        """
        SELECT b.name, b.version, v.n_chunks, v.signature, v.sources, b.updated_at,
               (SELECT count(*) FROM knowledge_versions w WHERE w.base = b.name) AS n_versions
        FROM knowledge_bases b JOIN knowledge_versions v ON v.hash = b.version
        ORDER BY b.name
        """
    ).df()


def get_knowledge_base(con: Con, name: str, where: str = "knowledge base") -> dict[str, Any]:
    """The current version of base `name`: name, version, signature, sources (parsed), n_chunks, created_at."""
    found = record(
        con,
        """SELECT b.name, b.version, v.signature, v.sources, v.n_chunks, v.created_at
           FROM knowledge_bases b JOIN knowledge_versions v ON v.hash = b.version WHERE b.name = ?""",
        [name])
    if found is None:
        known = [n for (n,) in con.execute("SELECT name FROM knowledge_bases ORDER BY name").fetchall()]
        hint = f" (known: {', '.join(known[:10])})" if known else " (none yet: workbench kb add NAME FILE...)"
        raise UserError(f"no knowledge base {name!r}{hint}", where)
    return _parsed(found)


def get_knowledge_version(con: Con, version: str) -> dict[str, Any]:
    found = record(con, "SELECT hash AS version, base AS name, signature, sources, n_chunks, created_at "
                        "FROM knowledge_versions WHERE hash = ?", [version])
    if found is None:
        raise UserError(f"no stored knowledge version {version!r}", "knowledge version")
    return _parsed(found)


def _parsed(meta: dict[str, Any]) -> dict[str, Any]:
    meta["signature"] = json.loads(meta["signature"])
    meta["sources"] = json.loads(meta["sources"])
    return meta


def knowledge_chunks(con: Con, version: str, idxs: list[int] | None = None, limit: int | None = None,
                     offset: int = 0) -> list[dict[str, Any]]:
    """Chunks of a version as dicts (idx, id, title, text, source): the ones at `idxs`, or a page in order."""
    cols = "idx, id, title, text, source"
    if idxs is not None:
        if not idxs:
            return []
        cur = con.execute(f"SELECT {cols} FROM knowledge_chunks WHERE version = ? AND idx IN (SELECT unnest(?))",
                          [version, list(idxs)])
    else:
        sql = f"SELECT {cols} FROM knowledge_chunks WHERE version = ? ORDER BY idx"
        params: list = [version]
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params += [limit, offset]
        cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def iter_chunk_texts(con: Con, version: str, batch: int = 5000) -> Iterator[tuple[int, str]]:
    """(idx, title + text) of every chunk in order, fetched in batches: what an index is built from."""
    cur = con.execute("SELECT idx, coalesce(title || '\n', '') || text FROM knowledge_chunks WHERE version = ? "
                      "ORDER BY idx", [version])
    while rows := cur.fetchmany(batch):
        yield from rows


def remove_knowledge_base(con: Con, name: str) -> int:
    """Forget the name and the chunks of its versions that no stored output used; returns versions dropped.
    Versions that runs used stay, so those runs still show their passages."""
    get_knowledge_base(con, name, "kb remove")
    with transaction(con):
        unused = [v for (v,) in con.execute(
            """SELECT hash FROM knowledge_versions WHERE base = ?
               AND hash NOT IN (SELECT DISTINCT version FROM output_passages)
               AND hash NOT IN (SELECT version FROM knowledge_bases WHERE name <> ?)""", [name, name]).fetchall()]
        if unused:
            con.execute("DELETE FROM knowledge_chunks WHERE version IN (SELECT unnest(?))", [unused])
            con.execute("DELETE FROM knowledge_versions WHERE hash IN (SELECT unnest(?))", [unused])
        con.execute("DELETE FROM knowledge_bases WHERE name = ?", [name])
    return len(unused)


def write_passages(con: Con, passages: list[dict[str, Any]]) -> None:
    """Replace the passages of the outputs named in `passages` (run_id, row_idx, repeat_idx, rank, version,
    chunk_idx, chunk_id, score). Call inside the transaction that writes the outputs."""
    if not passages:
        return
    with registered(con, "_passages_in", scan_rows(passages, PASSAGE_COLUMNS)):
        con.execute("""DELETE FROM output_passages p USING (SELECT DISTINCT run_id, row_idx, repeat_idx
                       FROM _passages_in) w
                       WHERE p.run_id = w.run_id AND p.row_idx = w.row_idx AND p.repeat_idx = w.repeat_idx""")
        insert_rows(con, "output_passages", passages, PASSAGE_COLUMNS)


def load_passages(con: Con, run_id: str, rows: list[int] | None = None) -> pd.DataFrame:
    """Every passage a run's outputs were given (of `rows` only, when given), with the chunk's text and
    title, in (row, repeat, rank) order."""
    only = "" if rows is None else "AND list_contains(?::INTEGER[], p.row_idx)"
    return con.execute(
        f"""SELECT p.row_idx, p.repeat_idx, p.rank, p.chunk_id, p.score, c.title, c.text, p.version
           FROM output_passages p
           LEFT JOIN knowledge_chunks c ON c.version = p.version AND c.idx = p.chunk_idx
           WHERE p.run_id = ? {only} ORDER BY p.row_idx, p.repeat_idx, p.rank""",
        [run_id] + ([] if rows is None else [[int(r) for r in rows]])).df()


def set_run_knowledge(con: Con, run_id: str, knowledge: dict[str, Any]) -> None:
    con.execute("UPDATE runs SET knowledge = ? WHERE id = ?", [json.dumps(knowledge, sort_keys=True), run_id])


def run_knowledge(con: Con, run_id: str) -> dict[str, Any] | None:
    """{base, version, method, k} a run retrieved with, or None."""
    row = con.execute("SELECT knowledge FROM runs WHERE id = ?", [run_id]).fetchone()
    return json.loads(row[0]) if row and row[0] else None
