"""corpus_bleu / corpus_chrf in a stored run: one value per run in the summary (show, Compare), with a
bootstrap interval, equal to sacrebleu's corpus score of the run's outputs."""

from __future__ import annotations

import json

import duckdb
import pytest
import sacrebleu


def test_corpus_metrics_in_the_run_summary(cli, openai_server, db, tmp_path):
    rows = [{"question": f"where is parcel number {i}?", "reference": f"You said: where is parcel {i}"}
            for i in range(12)] + [{"question": "我的订单在哪里？", "reference": "You said: 我的订单在哪"}]
    data = tmp_path / "mixed.jsonl"
    data.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    r = cli("eval", "prompts/support_zero_shot.yaml", "--data", data, "--model", f"openai:test@{openai_server.base_url}",
            "--metrics", "bleu,corpus_bleu,corpus_chrf,corpus_bleu(tok=intl)", "--lang", "en", "--json", "--db", db)
    assert r.code == 0, r.err
    run = r.json()["runs"][0]
    with duckdb.connect(db) as con:
        texts = [t for (t,) in con.execute("SELECT text FROM outputs ORDER BY row_idx").fetchall()]
        assert con.execute("SELECT count(*) FROM scores WHERE metric LIKE 'corpus%'").fetchone()[0] == 0
    refs = [x["reference"] for x in rows]
    got = run["metrics"]
    assert got["corpus_bleu"]["mean"] == pytest.approx(sacrebleu.corpus_bleu(texts, [refs]).score / 100, abs=1e-12)
    assert got["corpus_chrf"]["mean"] == pytest.approx(sacrebleu.corpus_chrf(texts, [refs]).score / 100, abs=1e-12)
    low, high = got["corpus_bleu"]["ci95"]
    assert low <= got["corpus_bleu"]["mean"] <= high and got["corpus_bleu"]["n"] == len(rows)
    assert 0 < got["corpus_bleu(tok=intl)"]["mean"] <= 1
    assert "corpus:sacrebleu:nrefs:1|case:mixed|eff:no|tok:13a" in run["signatures"]["corpus_bleu"]
    shown = cli("show", run["run_id"], "--db", db)
    assert "corpus_bleu" in shown.out and "corpus_chrf" in shown.out
