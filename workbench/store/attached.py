"""One in-memory DuckDB per process, with each database file ATTACHed to it while the process uses the file.

Why not `duckdb.connect(path)`: a file opened that way gets DuckDB's row groups of 122,880 rows, and each
checkpoint of a long eval rewrote the run's last, growing row group and merged the small ones before it, in
doubling sizes: at ~64,000 outputs one flush rewrote them all (+171 MB of peak memory for a 100,000-row eval).
DuckDB takes a smaller row group size only through ATTACH (it is not stored in the file), and refuses to attach
a file twice in one process ("Unique file handle conflict"), so every connection of the process is a cursor of
one in-memory database in which the file is attached once, counted, and detached (checkpointed, its lock
released for other processes) when the last connection to it closes.

Callers serialise open_file/close_file (db._open_close); MotherDuck names are opened by DuckDB as written.
"""

from __future__ import annotations

import hashlib
import os

import duckdb

# Rows per row group in files this process writes: a checkpoint rewrites little of a long run. bench_scale_eval.py,
# peak RSS growth from 1,000 to 100,000 rows: +224 to +332 MB before, +156 and +166 MB with it. Queries of the 1M
# bench (bench_store_1m.py) ran as fast as before; the file is 15% bigger (257 MB instead of 223).
ROW_GROUP_SIZE = 4096
_root: duckdb.DuckDBPyConnection | None = None
_files: dict[str, dict] = {}  # absolute path -> {"alias": ..., "users": connections open}


def open_file(path: str) -> duckdb.DuckDBPyConnection:
    """A connection whose default database is the file (created if missing). Close it with close_file."""
    global _root
    key = os.path.abspath(path)
    entry = _files.get(key)
    if entry is None:
        if _root is None:
            _root = duckdb.connect(":memory:")
            # DuckDB's allocator then hands back freed pages within seconds rather than keeping them (the eval's
            # growth +129 -> +116 MB; a server's memory drops back after a big query).
            _root.execute("SET allocator_background_threads = true")
        alias = "wb_" + hashlib.sha1(key.encode()).hexdigest()[:16]
        literal = "'" + key.replace("'", "''") + "'"
        _root.execute(f"ATTACH {literal} AS {alias} (ROW_GROUP_SIZE {ROW_GROUP_SIZE})")
        entry = _files[key] = {"alias": alias, "users": 0}
    con = _root.cursor()
    entry["users"] += 1
    try:
        con.execute(f"USE {entry['alias']}")
    except BaseException:
        close_file(path, con)
        raise
    return con


def close_file(path: str, con: duckdb.DuckDBPyConnection) -> None:
    """Close the connection; the last one of the file detaches it (a checkpoint, then the lock is released)."""
    key = os.path.abspath(path)
    con.close()
    entry = _files[key]
    entry["users"] -= 1
    if not entry["users"]:
        _root.execute(f"DETACH {entry['alias']}")
        del _files[key]  # only once detached: a failed DETACH leaves the entry for the next open to reuse
