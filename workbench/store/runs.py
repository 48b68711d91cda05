"""Prompt versions, datasets, runs, outputs and scores.

Every function takes an open connection (see db.connect) so callers choose the unit of work.
Bulk writes hand DuckDB whole columns (db.scan_columns), never executemany.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import uuid
from typing import TYPE_CHECKING, Any

import duckdb

if TYPE_CHECKING:
    import pandas as pd

from workbench.errors import UserError
from workbench.store.db import insert_rows, record, registered, scan_rows, transaction, upsert_rows

Con = duckdb.DuckDBPyConnection

OUTPUT_COLUMNS = ["run_id", "row_idx", "turn_idx", "repeat_idx", "messages", "text", "error", "error_kind", "finish_reason",
                  "latency_ms", "tokens_in", "tokens_out", "cached"]
SCORE_COLUMNS = ["run_id", "row_idx", "turn_idx", "repeat_idx", "metric", "value"]


# Prompt versions and datasets are recorded one thread at a time: two runs of one process (two app jobs,
# a notebook's) on the same prompt or rows would otherwise both insert them, and DuckDB fails the second
# on the primary key even with ON CONFLICT DO NOTHING while the first is uncommitted. Other processes
# cannot have the file open meanwhile (DuckDB's lock), so a lock in this process is enough.
_recording = threading.Lock()


def save_prompt_version(con: Con, name: str, path: str | None, version: str, content_yaml: str) -> None:
    with _recording:
        con.execute(
            "INSERT INTO prompt_versions (hash, name, path, content) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [version, name, path, content_yaml],
        )


def save_dataset(con: Con, ds) -> str:
    """Store a dataset and its rows once per content hash."""
    h = ds.hash
    with _recording:
        if not con.execute("SELECT 1 FROM datasets WHERE hash = ?", [h]).fetchone():
            _insert_dataset(con, ds, h)
    return h


DATASET_CHUNK = 5000  # rows encoded and inserted at a time: a 100,000-row dataset is never all JSON at once


def _insert_dataset(con: Con, ds, h: str) -> None:
    """The rows a chunk per transaction (DuckDB holds a transaction's rows in memory until it commits: ~1 KB a
    row), then the `datasets` record, which is what makes the dataset exist: rows left by a process that died
    in between are deleted first. A big dataset is checkpointed after each chunk: DuckDB's allocator keeps what
    one checkpoint of all its rows used (a 100,000-row dataset: +110 MB of peak memory, +74 with a checkpoint
    a chunk, +52 also with INSERT rather than INSERT OR REPLACE)."""
    with transaction(con):
        con.execute("DELETE FROM dataset_rows WHERE dataset_hash = ?", [h])
    for start in range(0, len(ds.rows), DATASET_CHUNK):
        rows = [{"dataset_hash": h, "row_idx": i, "data": json.dumps(r, ensure_ascii=False, default=str)}
                for i, r in enumerate(ds.rows[start:start + DATASET_CHUNK], start)]
        with transaction(con):
            insert_rows(con, "dataset_rows", rows, ["dataset_hash", "row_idx", "data"])
        if len(ds.rows) > DATASET_CHUNK:
            with contextlib.suppress(duckdb.Error):  # another thread's open transaction: no checkpoint now
                con.execute("CHECKPOINT")
    with transaction(con):
        con.execute(
            "INSERT INTO datasets (hash, name, path, n_rows, columns, reference_field, lang) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [h, ds.name, ds.path, len(ds.rows), ds.columns, ds.reference_field, ds.lang],
        )


def create_run(con: Con, *, prompt_hash: str, prompt_name: str, model_spec: str, params: dict[str, Any],
               dataset_hash: str, n_rows: int, repeats: int, metrics: list[dict[str, Any]], lang: str,
               signatures: dict[str, str], history: str | None = None) -> str:
    """A new run, `running` in this process. `history`: None for single rows, `gold` or `own` for conversations
    (then `n_rows` counts conversations)."""
    with transaction(con):
        run_id = _new_run_id(con)
        con.execute(
            "INSERT INTO runs (id, prompt_hash, prompt_name, model_spec, params, dataset_hash, n_rows, repeats, metrics,"
            " lang, status, owner, history) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?)",
            [run_id, prompt_hash, prompt_name, model_spec, json.dumps(params, sort_keys=True), dataset_hash, n_rows,
             repeats, json.dumps(metrics, ensure_ascii=False), lang, owner_id(), history],
        )
        upsert_rows(con, "metric_signatures", [{"run_id": run_id, "metric": m, "signature": sig}
                                               for m, sig in signatures.items()], ["run_id", "metric", "signature"])
    return run_id


def _new_run_id(con: Con) -> str:
    """Ten hex digits: the run's number in this file (five), then five random ones (two processes may count the
    same number). Ids in creation order keep each row group's run ids in a narrow range, so DuckDB's zone maps
    skip the row groups of other runs: with random ids a query for 4 runs of a 1M-output file read 33 of its 50
    row groups of scores, and every query slowed as the file grew."""
    (n,) = con.execute("SELECT count(*) FROM runs").fetchone()
    while True:
        run_id = f"{n + 1:05x}{uuid.uuid4().hex[:5]}"
        if not con.execute("SELECT 1 FROM runs WHERE id = ?", [run_id]).fetchone():
            return run_id


def write_results(con: Con, outputs, scores) -> None:
    """Upsert a batch of outputs and replace their scores, in one transaction (safe to repeat on resume).

    Each is a list of records, or for bulk loads whole columns: a pyarrow.Table (or a pandas DataFrame)
    holding some of OUTPUT_COLUMNS / SCORE_COLUMNS; a column it lacks is NULL (turn_idx 0, cached false).
    Columns go to DuckDB as they are: a million outputs cost no Python per row."""
    outputs, scores = _columns(outputs, OUTPUT_COLUMNS), _columns(scores, SCORE_COLUMNS)
    if outputs is None and scores is None:
        return
    with transaction(con):
        if outputs is not None:
            data, select = outputs
            with registered(con, "_written", data):
                written = f"(SELECT {select} FROM _written)"
                # Outputs of a new run (a bulk load, most batches) exist nowhere yet: a plain INSERT costs a
                # third of INSERT OR REPLACE, whose conflict handling only a repeated batch needs.
                again = con.execute(f"SELECT count(*) FROM outputs SEMI JOIN {written} w "
                                    "USING (run_id, row_idx, turn_idx, repeat_idx)").fetchone()[0]
                con.execute(f"{'INSERT OR REPLACE' if again else 'INSERT'} INTO outputs "
                            f"({', '.join(OUTPUT_COLUMNS)}) SELECT {select} FROM _written")
                drop_scores(con, written)
        if scores is not None:
            data, select = scores
            with registered(con, "_scored", data):
                con.execute(f"INSERT INTO scores ({', '.join(SCORE_COLUMNS)}) SELECT {select} FROM _scored")


DEFAULTS = {"turn_idx": "0", "repeat_idx": "0", "cached": "false"}  # for columns a batch leaves out


def _columns(data, names: list[str]) -> tuple[Any, str] | None:
    """(something DuckDB scans, the SELECT list that gives it the columns `names`), or None when empty."""
    if data is None:
        return None
    if isinstance(data, list):
        if not data:
            return None
        have = [n for n in names if n in data[0] or n not in DEFAULTS]
        data = scan_rows(data, have)
    else:
        if len(data) == 0:
            return None
        have = [n for n in names if n in list(getattr(data, "column_names", None) or data.columns)]
    return data, ", ".join(n if n in have else f"{DEFAULTS.get(n, 'NULL')} AS {n}" for n in names)


def drop_scores(con: Con, outputs_view: str) -> None:
    """Delete the scores of the outputs named in `outputs_view` (run_id, row_idx, turn_idx, repeat_idx): scores
    have no key (see migration 4), so an output's scores are replaced by deleting them, then inserting."""
    con.execute(f"""DELETE FROM scores s USING {outputs_view} w
                    WHERE s.run_id = w.run_id AND s.row_idx = w.row_idx AND s.turn_idx = w.turn_idx
                      AND s.repeat_idx = w.repeat_idx""")


def owner_id() -> str:
    """This process, as runs record who executes them."""
    return f"{socket.gethostname()}:{os.getpid()}"


def live_status(status: str, owner: str | None) -> str:
    """The stored status, except that a `running` run whose process has gone reads `interrupted`. Only
    processes of this host can be checked; a run owned elsewhere keeps what is stored."""
    if status != "running" or not owner:
        return status
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return status
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return "interrupted"
    except PermissionError:  # alive, another user's
        pass
    return status


def claim_runs(con: Con, run_ids: list[str], where: str = "RUN") -> None:
    """Mark stored runs `running` in this process before finishing them (resume, retry). Refuses a run that
    a live process of this host is still executing: two processes would write the same rows."""
    me = owner_id()
    with transaction(con):
        for run_id in run_ids:
            status, owner = con.execute("SELECT status, owner FROM runs WHERE id = ?", [run_id]).fetchall()[0]
            if live_status(status, owner) == "running" and owner and owner != me:
                raise UserError(f"run {run_id} is still running in process {owner}; stop it first (Ctrl-C, or "
                                "Cancel in the app), or wait for it", where)
            con.execute("UPDATE runs SET status = 'running', owner = ?, finished_at = NULL WHERE id = ?", [me, run_id])


def set_status(con: Con, run_id: str, status: str) -> None:
    finished = status in ("done", "cancelled", "failed")
    con.execute(
        "UPDATE runs SET status = ?, finished_at = CASE WHEN ? THEN current_timestamp ELSE NULL END WHERE id = ?",
        [status, finished, run_id],
    )


def done_rows(con: Con, run_id: str, errors_too: bool = True) -> set[tuple[int, int]]:
    """(row_idx, repeat_idx) already stored for a single-row run; with errors_too=False only the successful ones."""
    return {(r, k) for r, _, k in done_turns(con, run_id, errors_too)}


def done_turns(con: Con, run_id: str, errors_too: bool = True) -> set[tuple[int, int, int]]:
    """(row_idx, turn_idx, repeat_idx) already stored for a run; with errors_too=False only the successful ones."""
    sql = "SELECT row_idx, turn_idx, repeat_idx FROM outputs WHERE run_id = ?"
    if not errors_too:
        sql += " AND error IS NULL"
    return {(r, t, k) for r, t, k in con.execute(sql, [run_id]).fetchall()}


def turn_texts(con: Con, run_id: str) -> dict[tuple[int, int, int], str]:
    """(row_idx, turn_idx, repeat_idx) -> text of a run's successful outputs: the model's own history when
    an `--history own` conversation run is resumed."""
    return {(r, t, k): text for r, t, k, text in con.execute(
        "SELECT row_idx, turn_idx, repeat_idx, text FROM outputs WHERE run_id = ? AND error IS NULL",
        [run_id]).fetchall()}


def list_runs(con: Con) -> pd.DataFrame:
    df = con.execute(
        """
        WITH o AS (SELECT run_id, count(*) AS n_outputs, count(error) AS n_errors FROM outputs GROUP BY run_id)
        SELECT r.id, r.prompt_name, r.prompt_hash, r.model_spec, d.name AS dataset, r.n_rows, r.repeats, r.status,
               coalesce(o.n_outputs, 0) AS n_outputs, coalesce(o.n_errors, 0) AS n_errors, r.created_at,
               r.finished_at, r.owner
        FROM runs r LEFT JOIN datasets d ON d.hash = r.dataset_hash
        LEFT JOIN o ON o.run_id = r.id  -- counted per run first: grouping the joined rows by every column costs 3x
        WHERE r.judge_of IS NULL  -- a judge's own requests are shown with the run it judged
        ORDER BY r.created_at, r.id
        """
    ).df()
    df["status"] = [live_status(s, o) for s, o in zip(df["status"], df["owner"])]
    return df


def resolve_id(con: Con, table: str, ref: str, noun: str, hint: str, where: str) -> str:
    """The id in `table` equal to `ref` or starting with it, when exactly one does."""
    ids = [r for (r,) in con.execute(f"SELECT id FROM {table} WHERE id LIKE ? || '%'", [ref]).fetchall()]
    if ref in ids:
        return ref
    if len(ids) == 1:
        return ids[0]
    if not ids:
        raise UserError(f"no {noun} {ref!r} (see `{hint}`)", where)
    raise UserError(f"{noun} prefix {ref!r} is ambiguous: {', '.join(sorted(ids)[:5])}", where)


def resolve_run(con: Con, ref: str) -> str:
    """A run id, or a unique prefix of one."""
    return resolve_id(con, "runs", ref, "run", "workbench runs", "RUN")


def get_run(con: Con, run_id: str) -> dict[str, Any]:
    run = record(con, "SELECT * FROM runs WHERE id = ?", [run_id])
    if run is None:
        raise UserError(f"no run {run_id!r}", "RUN")
    run["status"] = live_status(run["status"], run.get("owner"))
    run["params"] = json.loads(run["params"])
    run["metrics"] = json.loads(run["metrics"])  # [{"name": ..., option: value}] (migration 7)
    run["signatures"] = dict(con.execute("SELECT metric, signature FROM metric_signatures WHERE run_id = ?",
                                         [run_id]).fetchall())
    return run


def load_outputs(con: Con, run_id: str) -> pd.DataFrame:
    """One record per output with its dataset row (as JSON) and every score as a `score_<metric>` column."""
    out = con.execute(
        """
        SELECT o.*, dr.data AS row_data
        FROM outputs o JOIN runs r ON r.id = o.run_id
        LEFT JOIN dataset_rows dr ON dr.dataset_hash = r.dataset_hash AND dr.row_idx = o.row_idx
        WHERE o.run_id = ? ORDER BY o.row_idx, o.turn_idx, o.repeat_idx
        """,
        [run_id],
    ).df()
    scores = load_scores(con, run_id)
    if not scores.empty:
        key = ["row_idx", "turn_idx", "repeat_idx"]
        wide = scores.pivot_table(index=key, columns="metric", values="value", aggfunc="first")
        wide.columns = [f"score_{c}" for c in wide.columns]
        out = out.merge(wide.reset_index(), on=key, how="left")
    return out


def load_scores(con: Con, run_id: str) -> pd.DataFrame:
    return con.execute(
        "SELECT row_idx, turn_idx, repeat_idx, metric, value FROM scores WHERE run_id = ? "
        "ORDER BY row_idx, turn_idx, repeat_idx, metric",
        [run_id],
    ).df()


def score_moments(con: Con, run_id: str) -> list[tuple[str, int, float, float | None]]:
    """(metric, n, mean, sample sd) per metric, repeats included, in first-seen order."""
    return con.execute(
        """SELECT metric, count(value)::INTEGER, avg(value), stddev_samp(value)
           FROM scores WHERE run_id = ? AND value IS NOT NULL AND NOT isnan(value)
           GROUP BY metric ORDER BY min(row_idx), metric""", [run_id]).fetchall()


def output_stats(con: Con, run_id: str) -> tuple[int, int, float | None, float | None]:
    """(outputs, errors, latency p50, latency p95) of a run; latencies of successful outputs only."""
    return con.execute(
        """SELECT count(*), count(error), quantile_cont(latency_ms, 0.5) FILTER (WHERE error IS NULL),
                  quantile_cont(latency_ms, 0.95) FILTER (WHERE error IS NULL)
           FROM outputs WHERE run_id = ?""", [run_id]).fetchone()


def output_summary(con: Con, run_id: str) -> dict[str, Any]:
    """outputs, errors, latency p50 and p95 (successful outputs), errors by kind (most frequent first) and
    cached outputs of a run, in one pass over its outputs (output_stats + error_kinds + cached_count)."""
    n, errors, quantiles, kinds, cached = con.execute(
        """SELECT count(*), count(error), quantile_cont(latency_ms, [0.5, 0.95]) FILTER (WHERE error IS NULL),
                  list(error_kind) FILTER (WHERE error IS NOT NULL), count(*) FILTER (WHERE cached)
           FROM outputs WHERE run_id = ?""", [run_id]).fetchone()
    from collections import Counter

    p50, p95 = quantiles or (None, None)
    return {"outputs": n, "errors": errors, "latency_p50": p50, "latency_p95": p95,
            "errors_by_kind": dict(Counter(kinds or []).most_common()), "cached": cached}


def error_kinds(con: Con, run_id: str) -> dict[str, int]:
    """Errors of a run counted by kind, most frequent first."""
    return dict(con.execute("SELECT error_kind, count(*) FROM outputs WHERE run_id = ? AND error IS NOT NULL "
                            "GROUP BY 1 ORDER BY 2 DESC", [run_id]).fetchall())


def replace_metric_scores(con: Con, run_id: str, metric: str, scores: list[dict[str, Any]]) -> None:
    """Replace every score of one metric in a run (scores computed after the run, such as a row's own checks)."""
    with transaction(con):
        con.execute("DELETE FROM scores WHERE run_id = ? AND metric = ?", [run_id, metric])
        if scores:
            insert_rows(con, "scores", scores, SCORE_COLUMNS)


def turn_outputs(con: Con, run_ids: list[str], metric: str | None) -> pd.DataFrame:
    """Outputs of conversation runs (first repeat) with one metric's score: run_id, row_idx, turn_idx, text,
    error, score."""
    return con.execute(
        """SELECT o.run_id, o.row_idx, o.turn_idx, o.text, o.error, s.value AS score
           FROM outputs o LEFT JOIN scores s ON s.run_id = o.run_id AND s.row_idx = o.row_idx
                AND s.turn_idx = o.turn_idx AND s.repeat_idx = o.repeat_idx AND s.metric = ?
           WHERE list_contains(?, o.run_id) AND o.repeat_idx = 0 ORDER BY o.row_idx, o.turn_idx""",
        [metric or "", run_ids]).df()


def conversation_answers(con: Con, run_id: str, row_idx: int, repeat_idx: int = 0) -> list[dict[str, Any]]:
    """The outputs of one conversation of a run, in turn order: turn_idx, messages (as sent, parsed), text, error."""
    rows = con.execute("SELECT turn_idx, messages, text, error FROM outputs WHERE run_id = ? AND row_idx = ? "
                       "AND repeat_idx = ? ORDER BY turn_idx", [run_id, row_idx, repeat_idx]).fetchall()
    return [{"turn_idx": t, "messages": json.loads(m), "text": text, "error": err} for t, m, text, err in rows]
