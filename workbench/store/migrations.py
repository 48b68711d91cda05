"""Schema migrations. Each runs with its record in schema_migrations inside one transaction.

Append new migrations at the end with the next number; never edit one that has shipped.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "spine: prompts, datasets, runs, outputs, scores",
        """
        CREATE TABLE prompt_versions (
            hash VARCHAR PRIMARY KEY,
            name VARCHAR NOT NULL,
            path VARCHAR,
            content VARCHAR NOT NULL,          -- the prompt file as YAML
            created_at TIMESTAMP DEFAULT current_timestamp
        );
        CREATE TABLE datasets (
            hash VARCHAR PRIMARY KEY,
            name VARCHAR NOT NULL,
            path VARCHAR,
            n_rows INTEGER NOT NULL,
            columns VARCHAR[],
            reference_field VARCHAR,
            lang VARCHAR,
            created_at TIMESTAMP DEFAULT current_timestamp
        );
        CREATE TABLE dataset_rows (
            dataset_hash VARCHAR NOT NULL,
            row_idx INTEGER NOT NULL,
            data VARCHAR NOT NULL,             -- the row as JSON
            PRIMARY KEY (dataset_hash, row_idx)
        );
        CREATE TABLE runs (
            id VARCHAR PRIMARY KEY,
            prompt_hash VARCHAR NOT NULL,
            prompt_name VARCHAR NOT NULL,
            model_spec VARCHAR NOT NULL,
            params VARCHAR NOT NULL,           -- generation parameters as JSON
            dataset_hash VARCHAR NOT NULL,
            n_rows INTEGER NOT NULL,
            repeats INTEGER NOT NULL DEFAULT 1,
            metrics VARCHAR NOT NULL,
            lang VARCHAR NOT NULL,
            status VARCHAR NOT NULL,           -- running | done | cancelled | failed
            created_at TIMESTAMP DEFAULT current_timestamp,
            finished_at TIMESTAMP
        );
        CREATE TABLE outputs (
            run_id VARCHAR NOT NULL,
            row_idx INTEGER NOT NULL,
            repeat_idx INTEGER NOT NULL DEFAULT 0,
            messages VARCHAR NOT NULL,         -- rendered chat messages as JSON
            text VARCHAR,
            error VARCHAR,
            error_kind VARCHAR,
            finish_reason VARCHAR,
            latency_ms DOUBLE,
            tokens_in INTEGER,
            tokens_out INTEGER,
            cached BOOLEAN NOT NULL DEFAULT false,
            created_at TIMESTAMP DEFAULT current_timestamp,
            PRIMARY KEY (run_id, row_idx, repeat_idx)
        );
        CREATE TABLE scores (
            run_id VARCHAR NOT NULL,
            row_idx INTEGER NOT NULL,
            repeat_idx INTEGER NOT NULL DEFAULT 0,
            metric VARCHAR NOT NULL,
            value DOUBLE,
            PRIMARY KEY (run_id, row_idx, repeat_idx, metric)
        );
        CREATE TABLE metric_signatures (
            run_id VARCHAR NOT NULL,
            metric VARCHAR NOT NULL,
            signature VARCHAR NOT NULL,
            PRIMARY KEY (run_id, metric)
        );
        """,
    ),
    (
        2,
        "batch engine: response cache",
        """
        CREATE TABLE response_cache (
            key VARCHAR PRIMARY KEY,           -- sha256 of provider identity, params and rendered messages
            provider VARCHAR NOT NULL,         -- the identity as JSON (kind, model, base URL; never a key)
            text VARCHAR NOT NULL,
            finish_reason VARCHAR,
            latency_ms DOUBLE,                 -- of the request that produced it
            tokens_in INTEGER,
            tokens_out INTEGER,
            score_key VARCHAR,                 -- references + metrics + signatures the scores below belong to
            score_names VARCHAR[],
            score_values DOUBLE[],
            created_at TIMESTAMP DEFAULT current_timestamp
        );
        """,
    ),
    (
        3,
        "annotation: blind rating sessions, items, assignments, ratings",
        """
        CREATE TABLE annotation_sessions (
            id VARCHAR PRIMARY KEY,
            name VARCHAR,
            kind VARCHAR NOT NULL,             -- single | pairwise
            scale VARCHAR NOT NULL,            -- likert | thumbs | pairwise: what one rating is
            runs VARCHAR[] NOT NULL,
            seed BIGINT NOT NULL,              -- item order and A/B sides derive from it
            k INTEGER NOT NULL,                -- annotators per item
            annotators VARCHAR[],              -- fixed roster (assigned up front) or NULL (claim on demand)
            rubric VARCHAR NOT NULL,
            tags VARCHAR[],                    -- tag choices offered to annotators
            created_at TIMESTAMP DEFAULT current_timestamp
        );
        CREATE TABLE annotation_items (
            session_id VARCHAR NOT NULL,
            item_idx INTEGER NOT NULL,         -- position in the stored (shuffled) order
            row_idx INTEGER NOT NULL,
            repeat_idx INTEGER NOT NULL,
            run_a VARCHAR NOT NULL,            -- the output shown (single) or the one on side A (pairwise)
            run_b VARCHAR,                     -- pairwise: the output on side B
            n_assigned INTEGER NOT NULL DEFAULT 0,  -- claims so far; updating it makes rival claims conflict
            PRIMARY KEY (session_id, item_idx)
        );
        CREATE TABLE annotation_assignments (
            session_id VARCHAR NOT NULL,
            item_idx INTEGER NOT NULL,
            annotator VARCHAR NOT NULL,
            assigned_at TIMESTAMP DEFAULT current_timestamp,
            PRIMARY KEY (session_id, item_idx, annotator)
        );
        CREATE TABLE ratings (
            session_id VARCHAR NOT NULL,
            item_idx INTEGER NOT NULL,
            annotator VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,             -- likert | thumbs | pairwise
            value VARCHAR NOT NULL,            -- likert 1..5, thumbs up|down, pairwise A|B|tie|both_bad
            comment VARCHAR,
            tags VARCHAR[],
            rated_at TIMESTAMP DEFAULT current_timestamp,
            PRIMARY KEY (session_id, item_idx, annotator, kind)
        );
        """,
    ),
    (
        4,
        "scores without a primary key",
        # The key's index was half the cost of storing scores (inserting and checkpointing 100,000 of them
        # for a cached 10,000-row run). Writers replace an output's scores whole (store.runs.write_scores).
        """
        CREATE TABLE scores_v4 (
            run_id VARCHAR NOT NULL,
            row_idx INTEGER NOT NULL,
            repeat_idx INTEGER NOT NULL DEFAULT 0,
            metric VARCHAR NOT NULL,
            value DOUBLE
        );
        INSERT INTO scores_v4 SELECT run_id, row_idx, repeat_idx, metric, value FROM scores
            ORDER BY run_id, row_idx, repeat_idx, metric;
        DROP TABLE scores;
        ALTER TABLE scores_v4 RENAME TO scores;
        """,
    ),
    (
        5,
        "runs: the process that runs them",
        # host:pid of the process executing the run: a run left `running` by a process that is gone (kill -9,
        # a crash, a closed app) reads as `interrupted` (store.runs.live_status) and can be resumed.
        "ALTER TABLE runs ADD COLUMN owner VARCHAR;",
    ),
    (
        6,
        "endpoints added on the Models page",
        """
        CREATE TABLE endpoints (
            spec VARCHAR PRIMARY KEY,          -- openai:MODEL@BASE_URL (never a key)
            added_at TIMESTAMP DEFAULT current_timestamp
        );
        """,
    ),
    (
        11,
        "annotation: claims expire and go back to the pool",
        # An open session's claim lasts claim_timeout seconds unless rated (expires_at NULL once rated, and for
        # roster assignments); an expired, left or released claim keeps its row with released_at set, so the
        # rater who held it gets it back first if it is still free. n_assigned counts unreleased rows.
        # Unrated claims made before this migration get the default timeout from their claim time.
        """
        ALTER TABLE annotation_sessions ADD COLUMN claim_timeout DOUBLE DEFAULT 900;
        ALTER TABLE annotation_assignments ADD COLUMN expires_at TIMESTAMP;
        ALTER TABLE annotation_assignments ADD COLUMN released_at TIMESTAMP;
        UPDATE annotation_sessions SET claim_timeout = 900;
        UPDATE annotation_assignments a SET expires_at = a.assigned_at + INTERVAL 900 SECOND
        FROM annotation_sessions s
        WHERE s.id = a.session_id AND s.annotators IS NULL
          AND NOT EXISTS (SELECT 1 FROM ratings r WHERE r.session_id = a.session_id AND r.item_idx = a.item_idx
                          AND r.annotator = a.annotator AND r.kind = s.scale);
        """,
    ),
]
