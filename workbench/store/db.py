"""Connections to the one DuckDB file.

DuckDB lets one process hold the file read-write and locks everyone else out, even readers. So
every unit of work opens a connection and closes it, and a lock conflict is retried briefly before
failing with a message that says which file is busy. A connection is a cursor of the process's one in-memory
DuckDB in which the file is attached while in use (store/attached.py: it sets the row-group size).

Within one process (the app serves every session and background run from one), opening and closing
are serialised: when two threads open the same file at once, DuckDB's Python client can hand one of
them the database before its `python_arrow_scan` function is registered, and an Arrow write then fails
with "Table Function with name python_arrow_scan does not exist" (reproduced with duckdb 2.0.1; the
work between open and close still runs concurrently).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import random
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from workbench.errors import StoreBusyError, UserError
from workbench.store import attached
from workbench.store.migrations import MIGRATIONS
from workbench.store.schema import BASELINE, BASELINE_VERSION

# What a caller outside store/ catches for a failed statement or a transient error of DuckDB's (its own
# base class, so nothing is wrapped or lost); a file locked for too long is errors.StoreBusyError.
StoreError = duckdb.Error
DEFAULT_DB = "workbench.duckdb"
LOCK_WAIT_SECONDS = 15.0
_migrated: set[str] = set()
_open_close = threading.Lock()
_migrating = threading.Lock()
# connect(linger=...): opening and closing the file costs ~50 ms of CPU (the close checkpoints), more than a rating
# click's whole budget. A lingering connection keeps the file open between clicks. Another process that finds the
# file locked knocks (touches PATH.knock at each retry, see connect) and a lingering hold lets go within KNOCK_POLL
# seconds of a fresh knock (younger than KNOCK_FRESH), then leaves the file free for REST_AFTER_KNOCK seconds
# (lingering callers wait that out; longer than the knocker's longest retry interval). So the CLI gets in at
# once, and a hold lasts until LINGER seconds without a click. For processes that do not knock (another tool on
# the file) a hold still ends after HOLD_AT_MOST seconds in a row, then the file is left free for REST seconds.
HOLD_AT_MOST = 60.0
REST = 0.3
KNOCK_POLL = 0.2
KNOCK_FRESH = 2.0
REST_AFTER_KNOCK = 1.0
RETRY_AT_MOST = 0.5  # seconds between a waiting process's attempts to open the file (a failed one costs ~9 ms CPU)
_holds: dict[str, dict] = {}
_rest_until: dict[str, float] = {}
_holds_lock = threading.Lock()
# kept_open(path): inside it, units of work on the file linger KEEP_LINGER seconds, during the first KEEP_AT_MOST
# seconds after the first of them (a short eval, or a long one's start); never holding it longer than their sum.
KEEP_LINGER = 0.5
KEEP_AT_MOST = 1.0
_kept: dict[str, dict] = {}


REMOTE_PREFIXES = ("md:", "motherduck:")  # MotherDuck: DuckDB opens these itself (its motherduck extension)


def db_path(path: str | os.PathLike | None = None) -> str:
    """--db beats WORKBENCH_DB beats ./workbench.duckdb."""
    return str(path or os.environ.get("WORKBENCH_DB") or DEFAULT_DB)


def is_remote(path: str | os.PathLike | None) -> bool:
    """A MotherDuck database (`md:NAME`, `motherduck:NAME`), passed to DuckDB as written: no folder is made
    for it and it is never made absolute."""
    return str(path or "").lower().startswith(REMOTE_PREFIXES)


def db_location(path: str | os.PathLike | None = None) -> str:
    """Where another process finds this database: a file as an absolute path, a MotherDuck name unchanged."""
    path = db_path(path)
    return path if is_remote(path) else os.path.abspath(path)


def _is_lock_error(e: Exception) -> bool:
    msg = str(e)
    return "lock" in msg.lower() or "Conflicting" in msg or "being used by another" in msg


@contextlib.contextmanager
def connect(path: str | os.PathLike | None = None, wait: float = LOCK_WAIT_SECONDS,
            linger: float = 0.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived read-write connection, schema up to date. Close it soon: others wait on the lock.

    linger: keep the file open up to this many seconds after the work (see HOLD_AT_MOST), so that the
    next unit of work in this process does not pay for opening it again (the Annotate page's clicks).
    """
    path = db_path(path)
    remote = is_remote(path)
    if not remote:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    if not linger and (kept := _kept.get(os.path.abspath(path))):
        if time.monotonic() < kept.setdefault("until", time.monotonic() + KEEP_AT_MOST):
            linger = KEEP_LINGER
    if linger > 0:
        time.sleep(max(0.0, _rest_until.get(path, 0.0) - time.monotonic()))
    deadline = time.monotonic() + wait
    delay = 0.02
    knocked = False
    while True:
        try:
            with _open_close:
                con = _open(path)
            break
        except duckdb.Error as e:
            if remote:  # DuckDB loads its motherduck extension (a download, once) and signs in with motherduck_token
                raise UserError(f"cannot open the MotherDuck database {path!r}: {' '.join(str(e).split())[:300]}",
                                setting="db") from None
            if not isinstance(e, duckdb.IOException):
                raise
            if not _is_lock_error(e) or time.monotonic() > deadline:
                if _is_lock_error(e):
                    raise StoreBusyError(f"{path}: database is locked by another process (waited {wait:g} s)") from None
                # not a DuckDB file, a folder, no permission: the user's --db / WORKBENCH_DB, not our bug
                raise UserError(f"cannot open the database {path}: {' '.join(str(e).split())[:300]}",
                                setting="db") from None
            knocked = _knock(path) or knocked
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, RETRY_AT_MOST)
    if knocked:  # in: this process's knock is answered (another one still waiting knocks again at its next try)
        with contextlib.suppress(OSError):
            os.unlink(knock_path(path))
    try:
        key = os.path.abspath(path)
        if key not in _migrated:
            with _migrating:  # threads of one process share the file: one of them brings it up to date
                if key not in _migrated:
                    migrate(con)
                    _migrated.add(key)
        yield con
        if linger > 0:
            _hold(path, linger)
    finally:
        with _open_close:
            _close(path, con)


def _open(path: str) -> duckdb.DuckDBPyConnection:
    """A connection to the database: a file through attached.open_file, a MotherDuck name as DuckDB takes it."""
    return duckdb.connect(path) if is_remote(path) else attached.open_file(path)


def _close(path: str, con: duckdb.DuckDBPyConnection) -> None:
    con.close() if is_remote(path) else attached.close_file(path, con)


def _hold(path: str, linger: float) -> None:
    """Keep the file's database open (by a connection of its own) until `linger` seconds without use."""
    now = time.monotonic()
    with _holds_lock:
        hold = _holds.get(path)
        if hold is not None:
            hold["last"] = max(hold["last"], now)
            hold["linger"] = max(hold["linger"], linger)
            return
        if now < _rest_until.get(path, 0.0):
            return
        with _open_close:  # the file is open in this process: this only adds a connection
            con = _open(path)
        hold = _holds[path] = {"con": con, "since": now, "last": now, "linger": linger}
    threading.Thread(target=_let_go, args=(path, hold), daemon=True, name="workbench-db-linger").start()


def _let_go(path: str, hold: dict) -> None:
    while True:
        with _holds_lock:
            if _holds.get(path) is not hold:
                return  # released by kept_open, or at exit
            now = time.monotonic()
            capped = hold["since"] + HOLD_AT_MOST
            due = min(hold["last"] + hold["linger"], capped)
            knocked = _knocked(path)
            if now >= due or knocked:
                del _holds[path]
                if knocked or due == capped:  # let go while clicks kept coming: leave the file free for a moment
                    _rest_until[path] = now + (REST_AFTER_KNOCK if knocked else REST)
                with _open_close:  # still under _holds_lock: _close_held at exit waits for this close
                    _close(path, hold["con"])
                return
        time.sleep(max(0.01, min(due - now, KNOCK_POLL)))


def knock_path(path: str) -> str:
    """The file another process touches while it waits for this database file (a lingering hold lets go)."""
    return path + ".knock"


def _knock(path: str) -> bool:
    """Touch PATH.knock (made with the umask's mode), never through a link nor on a device or pipe found there.
    False when it cannot be: the holder then lets go after HOLD_AT_MOST anyway (e.g. a folder we cannot write)."""
    if is_remote(path):
        return False
    try:
        fd = os.open(knock_path(path), os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o666)
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        os.utime(fd)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _knocked(path: str) -> bool:
    """Someone waits for the file now: a knock younger than KNOCK_FRESH (a waiter knocks at every try, every
    RETRY_AT_MOST seconds at most; an older one was left by a process that got in or gave up)."""
    try:
        return time.time() - os.lstat(knock_path(path)).st_mtime < KNOCK_FRESH
    except OSError:
        return False


@atexit.register
def _close_held() -> None:
    """Close the lingering connections before the interpreter stops its daemon threads: a linger thread stopped
    inside DuckDB's close (C++) aborts the process at exit ("FATAL: exception not rethrown", seen in a test run)."""
    with _holds_lock:
        held = list(_holds.items())
        _holds.clear()
        for path, hold in held:
            with _open_close:
                _close(path, hold["con"])


@contextlib.contextmanager
def kept_open(path: str | os.PathLike | None = None) -> Iterator[None]:
    """Inside the block, units of work on the file in this process linger (connect(linger=KEEP_LINGER)) during
    KEEP_AT_MOST seconds from the first one, and at its end the file is closed: a short eval's five or so units
    (create the runs, serve the cache, store the outputs, score the row checks, summarize) open and close the
    file once instead of each (~30 ms of CPU and a checkpoint each). A long eval holds the file only at its
    start, so other processes (the app) still get in between its flushes."""
    key = os.path.abspath(db_path(path))
    with _holds_lock:
        _kept.setdefault(key, {"count": 0})["count"] += 1
    try:
        yield
    finally:
        with _holds_lock:
            _kept[key]["count"] -= 1
            last = not _kept[key]["count"]
            if last:
                del _kept[key]
            held = [(p, _holds.pop(p)) for p in list(_holds) if last and os.path.abspath(p) == key]
        for path, hold in held:
            with _open_close:
                _close(path, hold["con"])


def scan_columns(columns: dict[str, list]) -> dict:
    """Columns as NumPy object arrays, a form DuckDB scans directly (`con.register(name, columns)`).

    Not Arrow or pandas: registering either makes DuckDB import pandas, 0.4 s and ~40 MB on every
    `workbench eval`. Types come from the target table (None is NULL).
    """
    import numpy as np

    out = {}
    for name, values in columns.items():
        array = np.empty(len(values), dtype=object)
        array[:] = values
        out[name] = array
    return out


def scan_rows(rows: list[dict], names: list[str]) -> dict:
    """Records as scan_columns (a missing key is NULL)."""
    return scan_columns({name: [r.get(name) for r in rows] for name in names})


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN ... COMMIT, or ROLLBACK and re-raise: a unit of work lands whole or not at all."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
        con.execute("COMMIT")
    except BaseException:
        try:
            con.execute("ROLLBACK")
        except duckdb.Error:  # a failed COMMIT has already ended the transaction: keep its error
            pass
        raise


def upsert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict], names: list[str]) -> None:
    """INSERT OR REPLACE the records into `table` (columns `names`) in one statement."""
    _insert(con, "INSERT OR REPLACE", table, rows, names)


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict], names: list[str]) -> None:
    """INSERT the records into `table` (columns `names`) in one statement."""
    _insert(con, "INSERT", table, rows, names)


def _insert(con: duckdb.DuckDBPyConnection, verb: str, table: str, rows: list[dict], names: list[str]) -> None:
    cols = ", ".join(names)
    with registered(con, "_rows_in", scan_rows(rows, names)):
        con.execute(f"{verb} INTO {table} ({cols}) SELECT {cols} FROM _rows_in")


def one_of(column: str, values: list) -> str:
    """`column IN (?, ?, ...)` with a placeholder per value (FALSE for none). DuckDB filters the scan with such a
    list, its zone maps skipping the row groups of other runs; `IN (SELECT unnest(?))` is a join after the scan,
    which read every row of the row groups it kept (a third more CPU for 4 runs of a 1M-output file)."""
    return f"{column} IN ({', '.join('?' * len(values))})" if values else "FALSE"


def record(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> dict[str, Any] | None:
    """The first row of a query as {column: value}, or None when there is none."""
    cur = con.execute(sql, params)
    rows = cur.fetchall()  # all of them: a half-read result would block the connection's next statement
    return dict(zip([d[0] for d in cur.description], rows[0])) if rows else None


@contextlib.contextmanager
def registered(con: duckdb.DuckDBPyConnection, name: str, data) -> Iterator[None]:
    """`data` (scan_columns, a DataFrame) visible to SQL as `name` inside the block.

    After a failed statement in a transaction DuckDB refuses even to unregister until ROLLBACK; that
    refusal ("transaction is aborted") must not replace the error that explains what went wrong.
    """
    con.register(name, data)
    try:
        yield
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.unregister(name)
        raise
    con.unregister(name)


def migrate(con: duckdb.DuckDBPyConnection, one_step: bool = True) -> list[int]:
    """Apply pending migrations; each one and its record commit together or not at all.

    A new file gets the schema of the first BASELINE_VERSION migrations in one step (store/schema.py) and the
    later ones on top, all in one transaction: one commit instead of one per migration. `one_step=False`, or a
    migration list without all of those (a test making an old file), migrates it step by step."""
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, "
            "applied_at TIMESTAMP DEFAULT current_timestamp)"
        )
        done = {v for (v,) in con.execute("SELECT version FROM schema_migrations").fetchall()}
        new = one_step and not done and _empty(con) and {v for v, _, _ in MIGRATIONS} >= set(
            range(1, BASELINE_VERSION + 1))
        applied = []
        if new:
            con.execute(BASELINE)
            applied = [v for v, _, _ in MIGRATIONS if v <= BASELINE_VERSION]
            done = set(applied)
        for version, name, sql in MIGRATIONS:
            if version in done:
                continue
            con.execute(sql)
            applied.append(version)
            if not new:  # an existing file keeps each migration that succeeded
                con.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", [version, name])
                con.execute("COMMIT")
                con.execute("BEGIN TRANSACTION")
        if new:
            names = {v: name for v, name, _ in MIGRATIONS}
            con.execute("INSERT INTO schema_migrations (version, name) SELECT * FROM (VALUES "
                        + ", ".join("(?, ?)" for _ in applied) + ")", [x for v in applied for x in (v, names[v])])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return applied


def _empty(con: duckdb.DuckDBPyConnection) -> bool:
    """No table but schema_migrations: a new file."""
    return not con.execute("SELECT 1 FROM duckdb_tables() WHERE database_name = current_database() "
                           "AND table_name <> 'schema_migrations' LIMIT 1").fetchall()
