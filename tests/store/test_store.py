import subprocess
import sys
import time

import duckdb
import pytest

from workbench import store
from workbench.errors import StoreBusyError
from workbench.store.migrations import MIGRATIONS


def test_migrations_recorded_once(db):
    with store.connect(db) as con:
        versions = [v for (v,) in con.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()]
        assert versions == [m[0] for m in MIGRATIONS]
        assert store.migrate(con) == []  # idempotent


def test_failed_migration_leaves_nothing(db, monkeypatch):
    bad = (999, "broken", "CREATE TABLE half_done (x INTEGER); SELECT * FROM no_such_table;")
    con = duckdb.connect(db)
    store.migrate(con)  # an existing file (a new one is all or nothing: tests/store/test_schema.py)
    monkeypatch.setattr("workbench.store.db.MIGRATIONS", [*MIGRATIONS, bad])
    with pytest.raises(duckdb.Error):
        store.migrate(con)
    tables = {t for (t,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert "half_done" not in tables and "runs" in tables
    assert 999 not in {v for (v,) in con.execute("SELECT version FROM schema_migrations").fetchall()}
    con.close()


def test_scores_keep_their_rows_when_the_key_goes(db, monkeypatch):
    """Migration 4 rebuilds scores without its primary key; a file written before keeps every score."""
    monkeypatch.setattr("workbench.store.db.MIGRATIONS", [m for m in MIGRATIONS if m[0] < 4])
    con = duckdb.connect(db)
    store.migrate(con)
    con.execute("INSERT INTO scores VALUES ('r', 0, 0, 'bleu', 0.5), ('r', 0, 0, 'chrf', 0.25), ('r', 1, 0, 'bleu', 1)")
    monkeypatch.setattr("workbench.store.db.MIGRATIONS", MIGRATIONS)
    assert store.migrate(con) == [m[0] for m in MIGRATIONS if m[0] >= 4]
    assert con.execute("SELECT run_id, row_idx, repeat_idx, metric, value, turn_idx FROM scores ORDER BY ALL"
                       ).fetchall() == [("r", 0, 0, "bleu", 0.5, 0), ("r", 0, 0, "chrf", 0.25, 0), ("r", 1, 0, "bleu", 1.0, 0)]
    keys = con.execute("SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'scores' "
                       "AND constraint_type = 'PRIMARY KEY'").fetchall()
    assert keys == [(0,)]
    con.close()


def _hold_lock(db: str, seconds: float) -> subprocess.Popen:
    code = f"import duckdb, time, sys; c = duckdb.connect({db!r}); print('locked', flush=True); time.sleep({seconds})"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_lock_conflict_is_retried_then_succeeds(db):
    with store.connect(db):
        pass
    proc = _hold_lock(db, 1.0)
    start = time.monotonic()
    with store.connect(db, wait=20) as con:
        assert con.execute("SELECT count(*) FROM runs").fetchone() == (0,)
    assert time.monotonic() - start >= 0.3
    proc.wait()


def test_lock_held_too_long_gives_clear_error(db):
    proc = _hold_lock(db, 5)
    try:
        with pytest.raises(StoreBusyError, match="locked by another process"):
            with store.connect(db, wait=0.5):
                pass
    finally:
        proc.kill()


def test_write_results_is_an_upsert(db):
    out = {"run_id": "r", "row_idx": 0, "repeat_idx": 0, "messages": "[]", "text": "a", "error": None,
           "error_kind": None, "finish_reason": "stop", "latency_ms": 1.0, "tokens_in": 1, "tokens_out": 1,
           "cached": False}
    score = {"run_id": "r", "row_idx": 0, "repeat_idx": 0, "metric": "bleu", "value": 0.5}
    with store.connect(db) as con:
        store.write_results(con, [out], [score])
        store.write_results(con, [{**out, "text": "b"}], [{**score, "value": 0.7}])
        assert con.execute("SELECT text FROM outputs").fetchall() == [("b",)]
        assert con.execute("SELECT value FROM scores").fetchall() == [(0.7,)]
        # an output's scores are replaced whole: a metric it no longer has, or an error, leaves none behind
        store.write_results(con, [out], [score, {**score, "metric": "chrf", "value": 0.9}])
        store.write_results(con, [{**out, "text": "c"}], [{**score, "value": 0.1}])
        assert con.execute("SELECT metric, value FROM scores").fetchall() == [("bleu", 0.1)]
        store.write_results(con, [{**out, "text": None, "error": "boom", "error_kind": "server_error"}], [])
        assert con.execute("SELECT count(*) FROM scores").fetchall() == [(0,)]


def test_cache_hits_into_new_and_stored_outputs(db):
    """Cached answers go in with a plain INSERT when none of their outputs exist (a new run), and replace the
    stored ones (and their scores) when some do (a resumed run): never a duplicate, never a key error."""
    from workbench.store.cache import apply_hits

    entry = {"key": "k0", "provider": "p", "text": "cached", "finish_reason": "stop", "latency_ms": 1.0,
             "tokens_in": 1, "tokens_out": 1, "score_key": "s", "score_names": ["bleu"], "score_values": [0.4]}
    wanted = {"run_id": ["r", "r"], "row_idx": [0, 1], "turn_idx": [0, 0], "repeat_idx": [0, 0], "key": ["k0", "k1"],
              "messages": ["[]", "[]"], "score_key": ["s", "s"]}
    with store.connect(db) as con:
        store.save_cache_entries(con, [entry, {**entry, "key": "k1", "text": "other"}])
        hits, rescore = apply_hits(con, wanted)
        assert sorted(hits) == [("r", 0, 0, 0), ("r", 1, 0, 0)] and rescore == []
        con.execute("UPDATE outputs SET text = 'stale' WHERE row_idx = 0")
        hits, _ = apply_hits(con, {k: v[:1] for k, v in wanted.items()})  # row 0 is stored already
        assert hits == [("r", 0, 0, 0)]
        assert con.execute("SELECT row_idx, text FROM outputs ORDER BY 1").fetchall() == [(0, "cached"), (1, "other")]
        assert con.execute("SELECT row_idx, value FROM scores ORDER BY 1").fetchall() == [(0, 0.4), (1, 0.4)]


def test_write_results_takes_arrow_columns(db):
    """Bulk loads hand whole columns (a pyarrow.Table); the same upsert: a repeated batch replaces its rows."""
    import pyarrow as pa

    outputs = pa.table({"run_id": ["r"] * 3, "row_idx": [0, 1, 2], "messages": ["[]"] * 3,
                        "text": ["a", None, "c"], "error": [None, "boom", None], "latency_ms": [1.0, 2.0, 3.0]})
    scores = pa.table({"run_id": ["r", "r"], "row_idx": [0, 2], "metric": ["bleu", "bleu"], "value": [0.5, 0.25]})
    with store.connect(db) as con:
        store.write_results(con, outputs, scores)
        store.write_results(con, outputs, scores)
        assert con.execute("SELECT row_idx, turn_idx, repeat_idx, text, error, cached FROM outputs ORDER BY 1"
                           ).fetchall() == [(0, 0, 0, "a", None, False), (1, 0, 0, None, "boom", False),
                                            (2, 0, 0, "c", None, False)]
        assert con.execute("SELECT row_idx, turn_idx, value FROM scores ORDER BY 1").fetchall() == [
            (0, 0, 0.5), (2, 0, 0.25)]
        store.write_results(con, outputs.slice(2), pa.table({"run_id": ["r"], "row_idx": [2], "metric": ["chrf"],
                                                             "value": [0.9]}))
        assert con.execute("SELECT row_idx, metric FROM scores ORDER BY 1").fetchall() == [(0, "bleu"), (2, "chrf")]
        store.write_results(con, outputs.slice(0, 0), pa.table({"run_id": pa.array([], pa.string())}))  # nothing


def test_a_failed_bulk_write_reports_its_own_error(db):
    """Not DuckDB's later "transaction is aborted" from cleaning up the registered rows."""
    from workbench.store.db import insert_rows, transaction

    row = {"run_id": "r", "row_idx": 0, "repeat_idx": 0, "messages": "[]", "text": "a", "cached": False}
    with store.connect(db) as con:
        with pytest.raises(duckdb.ConstraintException), transaction(con):
            insert_rows(con, "outputs", [row, row], list(row))
        assert con.execute("SELECT count(*) FROM outputs").fetchall() == [(0,)]


def test_db_path_precedence(monkeypatch):
    monkeypatch.setenv("WORKBENCH_DB", "/tmp/env.duckdb")
    assert store.db_path("x.duckdb") == "x.duckdb"
    assert store.db_path() == "/tmp/env.duckdb"
    monkeypatch.delenv("WORKBENCH_DB")
    assert store.db_path() == "workbench.duckdb"


def test_threads_opening_a_new_file_at_once_all_write(db):
    """The app's threads share one file: the first connections race to migrate it, and DuckDB's client can
    open a database before its Arrow scan is registered; connect serialises both."""
    import threading

    errors = []

    def writer(w: int) -> None:
        for i in range(60):
            try:
                with store.connect(db) as con:
                    key = {"run_id": f"w{w}", "row_idx": i, "repeat_idx": 0}
                    store.write_results(con, [{**key, "messages": "[]", "text": "x", "cached": False}],
                                        [{**key, "metric": "m", "value": 1.0}])
            except Exception as e:  # noqa: BLE001 - every failure is the finding
                errors.append(repr(e))

    def reader() -> None:
        for _ in range(60):
            with store.connect(db) as con:
                con.execute("SELECT count(*) FROM scores").fetchall()

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(3)] + [threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with store.connect(db) as con:
        assert con.execute("SELECT count(*) FROM scores").fetchone() == (180,)


def test_run_ids_follow_creation_order(db, monkeypatch):
    """Run ids sort as the runs were made (the run's number in the file first), so each row group of outputs and
    scores holds a narrow range of ids and DuckDB skips the row groups of other runs; the random part still
    tells apart runs two processes numbered alike."""
    import uuid as uuid_mod

    def make(con):
        return store.create_run(con, prompt_hash="h", prompt_name="p", model_spec="openai:m", params={},
                                dataset_hash="d", n_rows=1, repeats=1, metrics=[], lang="en", signatures={})

    with store.connect(db) as con:
        ids = [make(con) for _ in range(20)]
        assert ids == sorted(ids) and len(set(ids)) == 20
        assert all(len(i) == 10 and int(i, 16) >= 0 for i in ids)
        fixed = iter([uuid_mod.UUID(int=0), uuid_mod.UUID(int=0), uuid_mod.UUID(int=1 << 108)])
        monkeypatch.setattr(uuid_mod, "uuid4", lambda: next(fixed))
        con.execute("UPDATE runs SET id = '0001500000' WHERE id = ?", [ids[0]])  # taken: the next number's first guess
        assert make(con) == "0001500001"  # 21 is 0x15; the random part 00000 was taken (twice), so another


def test_files_are_written_in_row_groups_of_4096_rows_and_let_go_at_close(tmp_path):
    """A long eval's checkpoints rewrite little: DuckDB's own 122,880-row groups made a 100,000-row eval's
    checkpoints rewrite tens of thousands of rows at a time (store/attached.py)."""
    db = str(tmp_path / "groups.duckdb")
    with store.connect(db) as con:
        con.execute("CREATE TABLE t AS SELECT range AS i FROM range(10000)")
        with store.connect(db) as inner:  # a second unit of work in the process shares the attached file
            assert inner.execute("SELECT count(*) FROM t").fetchone() == (10000,)
    with store.connect(db) as con:
        groups = con.execute("SELECT count(DISTINCT row_group_id) FROM pragma_storage_info('t')").fetchone()[0]
    assert groups == 3
    with duckdb.connect(db) as con:  # closed: the file is free, even for a plain connection in this process
        assert con.execute("SELECT count(*) FROM t").fetchone() == (10000,)


def test_rows_left_by_a_dataset_half_stored_are_replaced(db):
    from workbench.authoring.datasets import Dataset

    ds = Dataset("d", "d.jsonl", [{"question": f"q{i}", "reference": f"a{i}"} for i in range(3)],
                 ["question", "reference"])
    with store.connect(db) as con:  # a process died after writing rows, before the datasets record
        con.execute("INSERT INTO dataset_rows VALUES (?, 0, '{\"question\": \"old\"}'), (?, 7, '{}')", [ds.hash] * 2)
        h = store.save_dataset(con, ds)
        rows = con.execute("SELECT row_idx, data FROM dataset_rows WHERE dataset_hash = ? ORDER BY 1", [h]).fetchall()
    assert [r for r, _ in rows] == [0, 1, 2] and '"q0"' in rows[0][1]


def test_a_file_that_is_not_a_database_is_one_line_naming_it(cli, tmp_path):
    bad = tmp_path / "notes.duckdb"
    bad.write_text("hello\n")
    r = cli("runs", "--db", bad)
    assert r.code == 2 and "Traceback" not in r.err and "internal error" not in r.err
    assert r.err.strip().count("\n") == 0 and f"--db: cannot open the database {bad}" in r.err
    assert "not a valid DuckDB database file" in r.err and bad.read_text() == "hello\n"
