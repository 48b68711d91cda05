"""A new file's schema in one step: what migrations 1..BASELINE_VERSION leave, created in one transaction.

Ten migrations on a new file cost ten commits (each one a write to disk) and rebuild `outputs` (migration 9):
~0.2 s of a first `workbench eval`. `store.db.migrate` creates a new file from BASELINE and records migrations
1..BASELINE_VERSION as applied, then applies the later ones in the same transaction. The tables are written
as DuckDB itself prints the migrated ones (duckdb_tables().sql), including what the migrations left behind:
`outputs.messages` lost its NOT NULL in migration 9's rebuild, `scores.turn_idx` is nullable, the added
columns come last. tests/store/test_schema.py checks that a new file and a migrated one are the same.
Never edit BASELINE to change the schema: add a migration.
"""

from __future__ import annotations

BASELINE_VERSION = 10

BASELINE = """
CREATE TABLE prompt_versions(hash VARCHAR PRIMARY KEY, "name" VARCHAR NOT NULL, path VARCHAR,
    "content" VARCHAR NOT NULL, created_at TIMESTAMP DEFAULT(current_timestamp));
CREATE TABLE datasets(hash VARCHAR PRIMARY KEY, "name" VARCHAR NOT NULL, path VARCHAR, n_rows INTEGER NOT NULL,
    "columns" VARCHAR[], reference_field VARCHAR, lang VARCHAR, created_at TIMESTAMP DEFAULT(current_timestamp));
CREATE TABLE dataset_rows(dataset_hash VARCHAR, row_idx INTEGER, "data" VARCHAR NOT NULL,
    PRIMARY KEY(dataset_hash, row_idx));
CREATE TABLE runs(id VARCHAR PRIMARY KEY, prompt_hash VARCHAR NOT NULL, prompt_name VARCHAR NOT NULL,
    model_spec VARCHAR NOT NULL, params VARCHAR NOT NULL, dataset_hash VARCHAR NOT NULL, n_rows INTEGER NOT NULL,
    repeats INTEGER DEFAULT(1) NOT NULL, metrics VARCHAR NOT NULL, lang VARCHAR NOT NULL, status VARCHAR NOT NULL,
    created_at TIMESTAMP DEFAULT(current_timestamp), finished_at TIMESTAMP, "owner" VARCHAR, knowledge VARCHAR,
    history VARCHAR);
CREATE TABLE outputs(run_id VARCHAR, row_idx INTEGER, repeat_idx INTEGER DEFAULT(0), messages VARCHAR,
    "text" VARCHAR, "error" VARCHAR, error_kind VARCHAR, finish_reason VARCHAR, latency_ms DOUBLE,
    tokens_in INTEGER, tokens_out INTEGER, cached BOOLEAN DEFAULT(false),
    created_at TIMESTAMP DEFAULT(current_timestamp), turn_idx INTEGER NOT NULL DEFAULT(0),
    PRIMARY KEY(run_id, row_idx, turn_idx, repeat_idx));
CREATE TABLE scores(run_id VARCHAR NOT NULL, row_idx INTEGER NOT NULL, repeat_idx INTEGER DEFAULT(0) NOT NULL,
    metric VARCHAR NOT NULL, "value" DOUBLE, turn_idx INTEGER DEFAULT(0));
CREATE TABLE metric_signatures(run_id VARCHAR, metric VARCHAR, signature VARCHAR NOT NULL,
    PRIMARY KEY(run_id, metric));
CREATE TABLE response_cache("key" VARCHAR PRIMARY KEY, provider VARCHAR NOT NULL, "text" VARCHAR NOT NULL,
    finish_reason VARCHAR, latency_ms DOUBLE, tokens_in INTEGER, tokens_out INTEGER, score_key VARCHAR,
    score_names VARCHAR[], score_values DOUBLE[], created_at TIMESTAMP DEFAULT(current_timestamp));
CREATE TABLE annotation_sessions(id VARCHAR PRIMARY KEY, "name" VARCHAR, kind VARCHAR NOT NULL,
    scale VARCHAR NOT NULL, runs VARCHAR[] NOT NULL, seed BIGINT NOT NULL, k INTEGER NOT NULL, annotators VARCHAR[],
    rubric VARCHAR NOT NULL, tags VARCHAR[], created_at TIMESTAMP DEFAULT(current_timestamp),
    claim_timeout DOUBLE DEFAULT(900));
CREATE TABLE annotation_items(session_id VARCHAR, item_idx INTEGER, row_idx INTEGER NOT NULL,
    repeat_idx INTEGER NOT NULL, run_a VARCHAR NOT NULL, run_b VARCHAR, n_assigned INTEGER DEFAULT(0) NOT NULL,
    PRIMARY KEY(session_id, item_idx));
CREATE TABLE annotation_assignments(session_id VARCHAR, item_idx INTEGER, annotator VARCHAR,
    assigned_at TIMESTAMP DEFAULT(current_timestamp), expires_at TIMESTAMP, released_at TIMESTAMP,
    PRIMARY KEY(session_id, item_idx, annotator));
CREATE TABLE ratings(session_id VARCHAR, item_idx INTEGER, annotator VARCHAR, kind VARCHAR, "value" VARCHAR NOT NULL,
    "comment" VARCHAR, tags VARCHAR[], rated_at TIMESTAMP DEFAULT(current_timestamp),
    PRIMARY KEY(session_id, item_idx, annotator, kind));
CREATE TABLE endpoints(spec VARCHAR PRIMARY KEY, added_at TIMESTAMP DEFAULT(current_timestamp));
CREATE TABLE knowledge_bases("name" VARCHAR PRIMARY KEY, "version" VARCHAR NOT NULL,
    updated_at TIMESTAMP DEFAULT(current_timestamp));
CREATE TABLE knowledge_versions(hash VARCHAR PRIMARY KEY, base VARCHAR NOT NULL, signature VARCHAR NOT NULL,
    sources VARCHAR NOT NULL, n_chunks INTEGER NOT NULL, created_at TIMESTAMP DEFAULT(current_timestamp));
CREATE TABLE knowledge_chunks("version" VARCHAR, idx INTEGER, id VARCHAR NOT NULL, title VARCHAR,
    "text" VARCHAR NOT NULL, "source" VARCHAR NOT NULL, PRIMARY KEY("version", idx));
CREATE TABLE output_passages(run_id VARCHAR, row_idx INTEGER, repeat_idx INTEGER DEFAULT(0), rank INTEGER,
    "version" VARCHAR NOT NULL, chunk_idx INTEGER NOT NULL, chunk_id VARCHAR NOT NULL, score DOUBLE,
    PRIMARY KEY(run_id, row_idx, repeat_idx, rank));
"""
