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
        7,
        "runs: the metric set as JSON",
        # `exact,regex=PATTERN,bleu` becomes [{"name": "exact"}, {"name": "regex", "pattern": "PATTERN"}, ...]:
        # metrics with options (plugins') need a format that holds them. A pattern may hold commas, so it is
        # taken from the run's regex signature (`...|pattern:PATTERN|scale:0-1`) as the old reader did.
        r"""
        CREATE TEMP TABLE metric_items_v7 AS
            SELECT id, pos, CASE WHEN item = 'regex' THEN json_object('name', 'regex', 'pattern', pattern)
                                 WHEN starts_with(item, 'regex=') THEN json_object('name', 'regex', 'pattern', item[7:])
                                 ELSE json_object('name', item) END AS spec
            FROM (
                SELECT id, pattern, unnest(parts) AS item, unnest(range(len(parts))) AS pos
                FROM (
                    SELECT id, pattern, string_split(CASE WHEN pattern IS NULL THEN metrics
                                                          ELSE replace(metrics, 'regex=' || pattern, 'regex') END, ',') AS parts
                    FROM (
                        SELECT r.id, r.metrics,
                               (SELECT NULLIF(regexp_extract(s.signature, '(?s)pattern:(.*)\|scale:0-1$', 1), '') FROM metric_signatures s
                                WHERE s.run_id = r.id AND s.metric = 'regex') AS pattern
                        FROM runs r
                    )
                )
            )
            WHERE item <> '';
        UPDATE runs SET metrics = COALESCE(
            (SELECT CAST(to_json(list(m.spec ORDER BY m.pos)) AS VARCHAR) FROM metric_items_v7 m WHERE m.id = runs.id), '[]');
        DROP TABLE metric_items_v7;
        """,
    ),
    (
        8,
        "knowledge bases: versions, chunks, passages per output",
        # A version is immutable: the hash of its files' content, the chunking and the tokenizer. A base name
        # points at its current version; runs record the version they used and the passages of each output,
        # so an old run still shows its passages after the base changes.
        """
        CREATE TABLE knowledge_bases (
            name VARCHAR PRIMARY KEY,
            version VARCHAR NOT NULL,          -- the current version
            updated_at TIMESTAMP DEFAULT current_timestamp
        );
        CREATE TABLE knowledge_versions (
            hash VARCHAR PRIMARY KEY,
            base VARCHAR NOT NULL,             -- the name it was added under
            signature VARCHAR NOT NULL,        -- chunking and tokenizer as JSON
            sources VARCHAR NOT NULL,          -- [{file, sha256, bytes}] as JSON
            n_chunks INTEGER NOT NULL,
            created_at TIMESTAMP DEFAULT current_timestamp
        );
        CREATE TABLE knowledge_chunks (
            version VARCHAR NOT NULL,
            idx INTEGER NOT NULL,              -- position in the version: the index's document number
            id VARCHAR NOT NULL,               -- what users and gold fields name: faq-01, guide.md#3
            title VARCHAR,
            text VARCHAR NOT NULL,
            source VARCHAR NOT NULL,           -- file:line where it starts
            PRIMARY KEY (version, idx)
        );
        CREATE TABLE output_passages (
            run_id VARCHAR NOT NULL,
            row_idx INTEGER NOT NULL,
            repeat_idx INTEGER NOT NULL DEFAULT 0,
            rank INTEGER NOT NULL,             -- 1 = best
            version VARCHAR NOT NULL,
            chunk_idx INTEGER NOT NULL,
            chunk_id VARCHAR NOT NULL,
            score DOUBLE,
            PRIMARY KEY (run_id, row_idx, repeat_idx, rank)
        );
        ALTER TABLE runs ADD COLUMN knowledge VARCHAR;  -- {base, version, method, k} as JSON, or NULL
        """,
    ),
    (
        9,
        "conversations: a turn index on outputs and scores, the history mode on runs",
        # Outputs are keyed (run, row, turn, repeat); single-row runs have turn 0. The table is rebuilt from
        # `SELECT *` so that columns other migrations add to it survive, then its defaults and key are restored.
        # runs.history is NULL for single-row runs, else `gold` or `own` (workbench.engine.plan).
        """
        CREATE TABLE outputs_v10 AS SELECT *, 0::INTEGER AS turn_idx FROM outputs;
        DROP TABLE outputs;
        ALTER TABLE outputs_v10 RENAME TO outputs;
        ALTER TABLE outputs ALTER COLUMN turn_idx SET DEFAULT 0;
        ALTER TABLE outputs ALTER COLUMN turn_idx SET NOT NULL;
        ALTER TABLE outputs ALTER COLUMN repeat_idx SET DEFAULT 0;
        ALTER TABLE outputs ALTER COLUMN cached SET DEFAULT false;
        ALTER TABLE outputs ALTER COLUMN created_at SET DEFAULT current_timestamp;
        ALTER TABLE outputs ADD PRIMARY KEY (run_id, row_idx, turn_idx, repeat_idx);
        ALTER TABLE scores ADD COLUMN turn_idx INTEGER DEFAULT 0;
        UPDATE scores SET turn_idx = 0;
        ALTER TABLE runs ADD COLUMN history VARCHAR;
        """,
    ),
    (
        10,
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
    (
        11,
        "judges: reasoning and errors beside judge scores, pairwise verdicts, judge runs marked",
        # A judge's requests are a run of their own (its outputs are the raw replies, its tokens and latency the
        # judge's cost); runs.judge_of names the run it judged and judge_metric the label (judge:RUBRIC), or the
        # comparison id for a pairwise judge. A judgement's score also goes into `scores` of the judged run.
        """
        ALTER TABLE runs ADD COLUMN judge_of VARCHAR;
        ALTER TABLE runs ADD COLUMN judge_metric VARCHAR;
        CREATE TABLE judgements (
            run_id VARCHAR NOT NULL,           -- the judged run
            row_idx INTEGER NOT NULL,
            turn_idx INTEGER NOT NULL DEFAULT 0,
            repeat_idx INTEGER NOT NULL DEFAULT 0,
            metric VARCHAR NOT NULL,           -- judge:RUBRIC
            judge_run VARCHAR NOT NULL,        -- the run that holds the judge's request and reply
            score DOUBLE,                      -- NULL when the reply gave none (error_kind says why)
            reasoning VARCHAR,
            error_kind VARCHAR,                -- bad_judge_reply, or the request's own error kind
            error VARCHAR,
            PRIMARY KEY (run_id, row_idx, turn_idx, repeat_idx, metric)
        );
        CREATE TABLE judge_comparisons (
            id VARCHAR PRIMARY KEY,
            run_a VARCHAR NOT NULL,
            run_b VARCHAR NOT NULL,
            rubric VARCHAR NOT NULL,
            judge_model VARCHAR NOT NULL,
            judge_run VARCHAR,                 -- the run of the judge's requests (both orders of every pair)
            created_at TIMESTAMP DEFAULT current_timestamp
        );
        CREATE TABLE judge_verdicts (
            comparison_id VARCHAR NOT NULL,
            row_idx INTEGER NOT NULL,
            turn_idx INTEGER NOT NULL DEFAULT 0,
            repeat_idx INTEGER NOT NULL DEFAULT 0,
            shown_first VARCHAR NOT NULL,      -- a (run_a's answer shown as A) or b (run_b's answer shown as A)
            winner VARCHAR,                    -- a | b | tie, in terms of the runs; NULL on an error
            position VARCHAR,                  -- the verdict as the judge gave it: A | B | tie
            reasoning VARCHAR,
            error_kind VARCHAR,
            error VARCHAR,
            PRIMARY KEY (comparison_id, row_idx, turn_idx, repeat_idx, shown_first)
        );
        """,
    ),
    (
        13,
        "annotation: a session may show annotators the passages each answer was given",
        """
        ALTER TABLE annotation_sessions ADD COLUMN show_passages BOOLEAN DEFAULT false;
        UPDATE annotation_sessions SET show_passages = false;
        """,
    ),
    (
        14,
        "annotation: rate single turns of conversations",
        # unit: what one item is (output, conversation or turn; NULL in older sessions: output, or conversation
        # for conversation runs). annotation_items.turn_idx: the assistant turn a turn item rates; NULL for an
        # item that is a whole output or a whole conversation.
        """
        ALTER TABLE annotation_sessions ADD COLUMN unit VARCHAR;
        ALTER TABLE annotation_items ADD COLUMN turn_idx INTEGER;
        """,
    ),
    (
        17,
        "annotation: the row fields raters see",
        # NULL (sessions made before): every field of the row, as they were created; new sessions store the
        # list (by default the variables of the runs' prompts).
        """
        ALTER TABLE annotation_sessions ADD COLUMN show_fields VARCHAR[];
        """,
    ),
]
