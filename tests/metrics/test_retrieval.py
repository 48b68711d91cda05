"""Retrieval metrics as registered metrics: `--metrics retrieval_hit,...,grounded` scores each output of a
knowledge run from its stored passages and its row's gold ids, stored like every score and shown by show,
compare and export; `--gold-passage FIELD`; outputs of prompts without knowledge get no retrieval score."""

from __future__ import annotations

import json

import pytest

from tests.conftest import DATA_EN, ROOT
from tests.openai_server import OpenAIServer
from workbench import knowledge, metrics, store
from workbench.errors import UserError
from workbench.metrics.retrieval import grounded, retrieval_hit, retrieval_mrr, retrieval_recall

PROMPT_EN = ROOT / "prompts" / "support_knowledge.yaml"
PLAIN_EN = ROOT / "prompts" / "support_zero_shot.yaml"
FAQ_EN = ROOT / "datasets" / "faq_en.jsonl"
RETRIEVAL = "retrieval_hit,retrieval_mrr,retrieval_recall,grounded"


def run_eval(cli, server, prompt, data, *extra):
    r = cli("eval", prompt, "--data", data, "--model", f"openai:test@{server.base_url}", "--json", *extra)
    assert r.code == 0, r.err
    return [run["run_id"] for run in r.json()["runs"]]


def stored_scores(db, run_id):
    with store.connect(db) as con:
        rows = con.execute("SELECT row_idx, metric, value FROM scores WHERE run_id = ?", [run_id]).fetchall()
    return {(r, m): v for r, m, v in rows}


def test_registered_and_declared():
    for name in ("retrieval_hit", "retrieval_mrr", "retrieval_recall", "grounded"):
        cls = metrics.metric_class(name)
        assert cls.scale == "0-1" and cls.direction == "higher" and not cls.needs_reference
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'retrieval_hit = "workbench.metrics.retrieval:RetrievalHit"' in pyproject
    assert 'grounded = "workbench.metrics.retrieval:Grounded"' in pyproject


def test_score_by_hand_with_passages_and_row():
    ms = metrics.parse_metrics(RETRIEVAL)
    passages = [{"id": "faq-08", "text": "Orders ship in 2 days."}, {"id": "faq-05#2", "text": "Refunds take 5 days."}]
    got = metrics.score("Refunds take 5 days.", [], ms, passages=passages, row={"faq_id": ["faq-05", "faq-01"]})
    assert got == {"retrieval_hit": 1.0, "retrieval_mrr": 0.5, "retrieval_recall": 0.5, "grounded": 1.0}
    # no passages (a prompt without knowledge) or no gold: those metrics give no score
    assert metrics.score("x", [], ms, passages=None, row={"faq_id": "faq-05"}) == {}
    assert metrics.score("Refunds take 5 days.", [], ms, passages=passages, row={"faq_id": ""}) == {"grounded": 1.0}
    # Chinese answers are scored on character bigrams: 退款 款将 将在 在五 五天 天内 内到 到账 = 8; the passage
    # 退款五天内到账 holds 退款 五天 天内 内到 到账 = 5
    zh = metrics.score("退款将在五天内到账", [], metrics.parse_metrics("grounded"),
                       passages=[{"id": "faq-05", "text": "退款五天内到账。"}])
    assert zh == {"grounded": pytest.approx(5 / 8)}


def test_gold_passage_option_and_its_errors():
    ms = metrics.with_gold_passage(metrics.parse_metrics("retrieval_hit,bleu"), "doc")
    assert ms.names == ("retrieval_hit(gold=doc)", "bleu")
    assert metrics.metric_set(ms.to_json()) == ms  # stored with the run and rebuilt for resume
    assert "gold:doc" in ms.signatures("en")["retrieval_hit(gold=doc)"]
    with pytest.raises(UserError) as e:
        metrics.with_gold_passage(metrics.parse_metrics("bleu"), "doc")
    assert e.value.setting == "gold_passage"


def test_eval_stores_retrieval_scores_equal_to_the_plain_functions(cli, db, tmp_path):
    knowledge.add_base("faq_en", [str(FAQ_EN)])
    with OpenAIServer(reply=lambda messages: "Refunds are issued within 2 business days.") as server:
        run_id = run_eval(cli, server, PROMPT_EN, DATA_EN, "--limit", "8", "--metrics", f"{RETRIEVAL},exact")[0]
        plain = run_eval(cli, server, PLAIN_EN, DATA_EN, "--limit", "3", "--metrics", f"{RETRIEVAL},exact")[0]
        again = run_eval(cli, server, PROMPT_EN, DATA_EN, "--limit", "8", "--metrics", RETRIEVAL, "--no-cache")[0]
    rows = [json.loads(line) for line in open(DATA_EN, encoding="utf-8")][:8]
    scores = stored_scores(db, run_id)
    with store.connect(db) as con:
        passages = store.load_passages(con, run_id)
    for i, row in enumerate(rows):
        mine = passages[passages.row_idx == i].sort_values("rank")
        ids, texts = list(mine["chunk_id"]), list(mine["text"])
        assert scores[(i, "retrieval_hit")] == retrieval_hit(row["faq_id"], ids)
        assert scores[(i, "retrieval_mrr")] == pytest.approx(retrieval_mrr(row["faq_id"], ids))
        assert scores[(i, "retrieval_recall")] == retrieval_recall(row["faq_id"], ids)
        assert scores[(i, "grounded")] == pytest.approx(grounded("Refunds are issued within 2 business days.", texts))
    assert sum(scores[(i, "retrieval_hit")] for i in range(8)) >= 7  # BM25 finds the gold FAQ entry
    # a prompt without knowledge: scored by exact, never by the retrieval metrics
    assert {m for _, m in stored_scores(db, plain)} == {"exact"}
    shown = {m: v["mean"] for m, v in cli("show", run_id, "--json").json()["metrics"].items()}
    assert shown["retrieval_hit"] == pytest.approx(sum(scores[(i, "retrieval_hit")] for i in range(8)) / 8)
    out = tmp_path / "run.jsonl"
    assert cli("export", run_id, "--format", "jsonl", "-o", out).code == 0
    exported = [json.loads(line) for line in open(out, encoding="utf-8")]
    assert [r["score_retrieval_mrr"] for r in exported] == pytest.approx([scores[(i, "retrieval_mrr")] for i in range(8)])
    compare = cli("compare", run_id, again)
    assert compare.code == 0 and "retrieval_hit" in compare.out and "grounded" in compare.out


def test_gold_passage_flag_reads_another_field(cli, db, tmp_path):
    knowledge.add_base("faq_en", [str(FAQ_EN)])
    data = tmp_path / "gold.jsonl"
    data.write_text(json.dumps({"question": "How long do refunds take?", "doc": "faq-05", "reference": "x"}) + "\n"
                    + json.dumps({"question": "How long do refunds take?", "doc": "faq-11", "reference": "x"}) + "\n")
    with OpenAIServer(reply=lambda messages: "ok") as server:
        run_id = run_eval(cli, server, PROMPT_EN, data, "--metrics", "retrieval_hit", "--gold-passage", "doc")[0]
        missing = cli("eval", PROMPT_EN, "--data", data, "--model", f"openai:test@{server.base_url}",
                      "--metrics", "retrieval_hit", "--gold-passage", "nope")
    scores = stored_scores(db, run_id)
    assert scores == {(0, "retrieval_hit(gold=doc)"): 1.0, (1, "retrieval_hit(gold=doc)"): 0.0}
    assert missing.code == 2 and "--gold-passage" in missing.err and "no field 'nope'" in missing.err


def test_a_cached_answer_through_other_passages_is_scored_again(cli, db, tmp_path):
    """The response cache keys on the messages; the scores it copies must also match the passages and gold."""
    knowledge.add_base("faq_en", [str(FAQ_EN)])
    data = tmp_path / "one.jsonl"
    row = {"question": "How long do refunds take?", "faq_id": "faq-05", "reference": "x"}
    data.write_text(json.dumps(row) + "\n")
    with OpenAIServer(reply=lambda messages: "ok") as server:
        first = run_eval(cli, server, PROMPT_EN, data, "--metrics", "retrieval_hit")[0]
        data.write_text(json.dumps({**row, "faq_id": "faq-11"}) + "\n")  # same messages, another gold id
        second = run_eval(cli, server, PROMPT_EN, data, "--metrics", "retrieval_hit")[0]
        assert len(server.requests) == 1  # the answer came from the cache
    assert stored_scores(db, first) == {(0, "retrieval_hit"): 1.0}
    assert stored_scores(db, second) == {(0, "retrieval_hit"): 0.0}
