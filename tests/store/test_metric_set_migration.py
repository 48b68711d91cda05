"""Migration 7: a database whose runs store their metric set as text (`exact,regex=PATTERN,bleu`) is
converted to JSON, and its runs still resume, score, summarize and compare."""

from __future__ import annotations

import json

import duckdb

from tests.conftest import DATA_EN, ROOT
from workbench import store
from workbench.store.migrations import MIGRATIONS

FEW_SHOT = ROOT / "prompts" / "support_few_shot.yaml"
PATTERN = r"(\d+,\d+|days?)"


def _as_before_migration_7(db: str, monkeypatch, run_id: str) -> None:
    """Write the run's metric set back as the old text, forget two rows, and unrecord migration 7."""
    with store.connect(db) as con:
        con.execute("UPDATE runs SET metrics = ? WHERE id = ?", [f"exact,length,regex={PATTERN},bleu", run_id])
        con.execute("DELETE FROM scores WHERE run_id = ? AND row_idx < 2", [run_id])
        con.execute("DELETE FROM outputs WHERE run_id = ? AND row_idx < 2", [run_id])
        store.set_status(con, run_id, "running")
        con.execute("DELETE FROM schema_migrations WHERE version = 7")
    monkeypatch.setattr("workbench.store.db._migrated", set())  # this process migrated the file already


def test_an_old_database_migrates_and_its_runs_still_work(cli, openai_server, db, monkeypatch):
    r = cli("eval", FEW_SHOT, "--data", DATA_EN, "--model", f"openai:test@{openai_server.base_url}", "--limit", "6",
            "--metrics", "exact,length", "--metrics", f"regex={PATTERN}", "--metrics", "bleu", "--json")
    assert r.code == 0, r.err
    run_id = r.json()["runs"][0]["run_id"]
    _as_before_migration_7(db, monkeypatch, run_id)

    r = cli("eval", "--resume", run_id, "--json")
    assert r.code == 0, r.err
    run = r.json()["runs"][0]
    assert run["outputs"] == 6 and run["status"] == "done"
    assert list(run["metrics"]) == ["exact", "length", "regex", "bleu"]  # the order the run asked for
    with store.connect(db) as con:
        assert store.get_run(con, run_id)["metrics"] == [
            {"name": "exact"}, {"name": "length"}, {"name": "regex", "pattern": PATTERN}, {"name": "bleu"}]
        scores = store.load_scores(con, run_id)
        assert len(scores) == 6 * 4 and set(scores["metric"]) == {"exact", "length", "regex", "bleu"}
        assert store.run_metrics(con, [run_id]) == ["exact", "length", "regex", "bleu"]
        assert 7 in {v for (v,) in con.execute("SELECT version FROM schema_migrations").fetchall()}
    shown = cli("show", run_id, "--json")
    assert shown.code == 0 and shown.json()["metrics"]["regex"]["n"] == 6


def test_migration_7_reads_every_old_shape(db, monkeypatch):
    """Patterns with commas (found through the run's regex signature), one without a signature, an empty set."""
    monkeypatch.setattr("workbench.store.db.MIGRATIONS", [m for m in MIGRATIONS if m[0] < 7])
    con = duckdb.connect(db)
    store.migrate(con)
    old = {"a": "regex=a,b|c,bleu", "b": "bleu,chrf,rouge1", "c": "", "d": 'length,regex=q"u\\o\nte',
           "e": "exact,regex=x+"}
    for run_id, text in old.items():
        con.execute("INSERT INTO runs (id, prompt_hash, prompt_name, model_spec, params, dataset_hash, n_rows, metrics,"
                    " lang, status) VALUES (?, 'h', 'p', 'm', '{}', 'd', 1, ?, 'en', 'done')", [run_id, text])
    for run_id, pattern in (("a", "a,b|c"), ("d", 'q"u\\o\nte')):
        con.execute("INSERT INTO metric_signatures VALUES (?, 'regex', ?)",
                    [run_id, f"regex|re.search|DOTALL|pattern:{pattern}|scale:0-1"])
    monkeypatch.setattr("workbench.store.db.MIGRATIONS", [m for m in MIGRATIONS if m[0] <= 7])  # later ones apart
    assert store.migrate(con) == [7]
    got = {i: json.loads(m) for i, m in con.execute("SELECT id, metrics FROM runs").fetchall()}
    con.close()
    assert got == {
        "a": [{"name": "regex", "pattern": "a,b|c"}, {"name": "bleu"}],
        "b": [{"name": "bleu"}, {"name": "chrf"}, {"name": "rouge1"}],
        "c": [],
        "d": [{"name": "length"}, {"name": "regex", "pattern": 'q"u\\o\nte'}],
        "e": [{"name": "exact"}, {"name": "regex", "pattern": "x+"}],  # no signature: up to the next comma
    }
