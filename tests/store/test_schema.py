"""A new file is created in one step (store/schema.py) and must equal a file migrated step by step."""

import duckdb
import pytest

from workbench import store
from workbench.store.migrations import MIGRATIONS
from workbench.store.schema import BASELINE_VERSION


def schema(con) -> dict:
    """Everything DuckDB knows of the tables: their SQL, columns, constraints, indexes, and the migrations done."""
    def rows(sql):
        return sorted(map(repr, con.execute(sql).fetchall()))

    return {
        "tables": rows("SELECT table_name, sql FROM duckdb_tables() WHERE table_name <> 'schema_migrations'"),
        "columns": rows("SELECT table_name, column_index, column_name, data_type, column_default, is_nullable "
                        "FROM duckdb_columns()"),
        "constraints": rows("SELECT table_name, constraint_type, constraint_column_names, expression "
                            "FROM duckdb_constraints()"),
        "indexes": rows("SELECT table_name, index_name, sql FROM duckdb_indexes()"),
        "views": rows("SELECT view_name, sql FROM duckdb_views() WHERE NOT internal"),
        "sequences": rows("SELECT sequence_name FROM duckdb_sequences()"),
        "migrations": rows("SELECT version, name FROM schema_migrations"),
    }


def test_new_file_equals_a_migrated_one(tmp_path):
    stepwise = duckdb.connect(str(tmp_path / "old.duckdb"))
    assert store.migrate(stepwise, one_step=False) == [m[0] for m in MIGRATIONS]
    new = duckdb.connect(str(tmp_path / "new.duckdb"))
    assert store.migrate(new) == [m[0] for m in MIGRATIONS]  # the baseline, then every later migration on top
    assert schema(new) == schema(stepwise)
    assert store.migrate(new) == []
    # columns that migrations added or rebuilt keep their defaults in the one-step file
    new.execute("INSERT INTO outputs (run_id, row_idx, messages) VALUES ('r', 0, '[]')")
    assert new.execute("SELECT turn_idx, repeat_idx, cached FROM outputs").fetchall() == [(0, 0, False)]


def test_a_failed_later_migration_leaves_a_new_file_empty(tmp_path, monkeypatch):
    """Baseline and later migrations share one transaction on a new file: all of it lands, or none."""
    bad = (999, "broken", "CREATE TABLE half_done (x INTEGER); SELECT * FROM no_such_table;")
    monkeypatch.setattr("workbench.store.db.MIGRATIONS", [*MIGRATIONS, bad])
    con = duckdb.connect(str(tmp_path / "new.duckdb"))
    with pytest.raises(duckdb.Error):
        store.migrate(con)
    assert con.execute("SELECT count(*) FROM duckdb_tables()").fetchone()[0] == 0
    monkeypatch.setattr("workbench.store.db.MIGRATIONS", MIGRATIONS)
    assert store.migrate(con)[:BASELINE_VERSION] == list(range(1, BASELINE_VERSION + 1))
