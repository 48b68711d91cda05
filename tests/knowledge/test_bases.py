"""workbench kb: bases in the database file, versions, BM25 search in English and Chinese, the index cache."""

from __future__ import annotations

import json

import pytest

from workbench import knowledge, store
from workbench.knowledge import index as kb_index

FAQ_EN, FAQ_ZH = "datasets/faq_en.jsonl", "datasets/faq_zh.jsonl"


def search_ids(cli, name, query, k=3):
    r = cli("kb", "search", name, query, "-k", k, "--json")
    assert r.code == 0, r.err
    return [p["id"] for p in r.json()["passages"]]


def test_add_list_show_search_remove(cli, db):
    r = cli("kb", "add", "faq", FAQ_EN, "--db", db)
    assert r.code == 0 and "18 chunks" in r.out and "tokenizer english" in r.out
    listed = cli("kb", "list", "--json", "--db", db).json()
    assert [(b["name"], b["n_chunks"], b["tokenizer"], b["n_versions"]) for b in listed] == [("faq", 18, "english", 1)]
    shown = cli("kb", "show", "faq", "-n", "2", "--json", "--db", db).json()
    assert [c["id"] for c in shown["chunks"]] == ["faq-01", "faq-02"]
    assert shown["signature"]["chunking"]["max_chars"] == 800 and shown["sources"][0]["file"] == "faq_en.jsonl"
    r = cli("kb", "search", "faq", "how long until my refund shows up on my card", "-k", "5", "--json", "--db", db)
    found = r.json()
    assert found["passages"][0]["id"] == "faq-05" and found["passages"][0]["title"] == "Refunds"
    assert [p["rank"] for p in found["passages"]] == list(range(1, len(found["passages"]) + 1))
    scores = [p["score"] for p in found["passages"]]
    assert scores == sorted(scores, reverse=True) and scores[-1] > 0
    text = cli("kb", "search", "faq", "reset password", "--db", db).out
    assert text.startswith("1. faq-01 [Resetting your password]")
    r = cli("kb", "remove", "faq", "--db", db)
    assert r.code == 0 and "1 version(s) dropped" in r.out
    r = cli("kb", "search", "faq", "x", "--db", db)
    assert r.code == 2 and "no knowledge base 'faq'" in r.err and r.err.count("\n") == 1


def test_english_queries_are_stemmed(cli):
    cli("kb", "add", "faq", FAQ_EN)
    assert search_ids(cli, "faq", "cancelling orders")[0] == "faq-03"  # cancel/cancelling, order/orders
    assert search_ids(cli, "faq", "warranties on electronic devices")[0] == "faq-11"


@pytest.mark.parametrize("tokenizer", ["cjk-bigram", "jieba"])
def test_chinese_queries(cli, tokenizer):
    r = cli("kb", "add", "zh", FAQ_ZH, "--tokenizer", tokenizer)
    assert r.code == 0 and f"tokenizer {tokenizer}" in r.out
    assert search_ids(cli, "zh", "我想退款，钱什么时候到账？")[0] == "faq-05"
    assert search_ids(cli, "zh", "密码忘了")[0] == "faq-01"
    assert search_ids(cli, "zh", "优惠码怎么用")[0] == "faq-13"


def test_auto_tokenizer_picks_cjk_for_chinese_files(cli):
    assert "tokenizer cjk-bigram" in cli("kb", "add", "zh", FAQ_ZH).out


def test_a_changed_file_makes_a_new_version_and_the_old_one_stays(cli, tmp_path, db):
    f = tmp_path / "faq.jsonl"
    f.write_text('{"id": "a", "text": "Returns are free within 30 days."}\n', encoding="utf-8")
    v1 = knowledge.add_base("kb", [str(f)])
    assert v1.new_version and knowledge.add_base("kb", [str(f)]).version == v1.version  # unchanged: same version
    assert not knowledge.add_base("kb", [str(f)]).new_version
    f.write_text('{"id": "a", "text": "Returns are free within 60 days."}\n', encoding="utf-8")
    v2 = knowledge.add_base("kb", [str(f)])
    assert v2.new_version and v2.version != v1.version
    v3 = knowledge.add_base("kb", [str(f)], knowledge.Chunking(max_chars=400))  # chunking is part of the version
    assert v3.version not in (v1.version, v2.version)
    assert knowledge.search("kb", ["days"], 1)[1][0][0].text.endswith("60 days.")
    _, (old,) = knowledge.search("kb", ["days"], 1, version=v1.version)
    assert old[0].text.endswith("30 days.")
    assert cli("kb", "list", "--json").json()[0]["n_versions"] == 3


def test_each_file_kind_in_one_base(cli, tmp_path):
    (tmp_path / "guide.md").write_text("# Gift wrap\n\nWe wrap gifts in recycled paper for $3.\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("Our warehouse cat is called Biscuit.\n", encoding="utf-8")
    (tmp_path / "table.csv").write_text("id,body\nc1,Loyalty points expire after a year.\n", encoding="utf-8")
    files = [FAQ_EN, tmp_path / "guide.md", tmp_path / "notes.txt", tmp_path / "table.csv"]
    r = cli("kb", "add", "mixed", *files, "--text-field", "body")
    assert r.code == 2 and "faq_en.jsonl:1" in r.err and "'body'" in r.err  # the JSONL has no `body`
    r = cli("kb", "add", "mixed", *files[1:], "--text-field", "body")
    assert r.code == 0 and "3 chunks" in r.out
    assert search_ids(cli, "mixed", "gift wrapping paper") == ["guide.md#1"]
    assert search_ids(cli, "mixed", "cat name") == ["notes.txt#1"]
    assert search_ids(cli, "mixed", "loyalty points") == ["c1"]


def test_a_bad_file_leaves_the_database_as_it_was(cli, tmp_path, db):
    f = tmp_path / "docs.jsonl"
    f.write_text("".join(json.dumps({"id": f"d{i}", "text": f"doc {i}"}) + "\n" for i in range(5000))
                 + '{"id": "d1", "text": "again"}\n', encoding="utf-8")
    r = cli("kb", "add", "docs", f)
    assert r.code == 2 and "docs.jsonl:5001" in r.err and "chunk id 'd1' repeats" in r.err
    with store.connect(db) as con:
        assert con.execute("SELECT count(*) FROM knowledge_chunks").fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM knowledge_versions").fetchone() == (0,)


def test_an_empty_base_returns_no_passages(cli, tmp_path):
    f = tmp_path / "empty.md"
    f.write_text("\n\n", encoding="utf-8")
    assert "0 chunks" in cli("kb", "add", "empty", f).out
    r = cli("kb", "search", "empty", "anything", "--json")
    assert r.code == 0 and r.json()["passages"] == []


def test_a_query_sharing_no_term_returns_nothing(cli):
    cli("kb", "add", "faq", FAQ_EN)
    assert search_ids(cli, "faq", "zzzz qqqq") == []


def test_bad_names_and_k_are_user_errors(cli):
    assert "a base name is" in cli("kb", "add", "../x", FAQ_EN).err
    assert "file not found" in cli("kb", "add", "x", "nope.jsonl").err
    cli("kb", "add", "faq", FAQ_EN)
    assert "k must be at least 1" in cli("kb", "search", "faq", "refund", "-k", "0").err


def test_the_index_is_saved_beside_the_database_and_loaded_not_rebuilt(cli, db, monkeypatch):
    version = knowledge.add_base("faq", [FAQ_EN]).version
    folder = kb_index.index_dir(db) / f"{version}-bm25s-{kb_index.bm25s_version()}"
    assert folder.is_dir()
    kb_index.forget()  # as a new process would start

    def no_build(*a, **k):
        raise AssertionError("rebuilt although the index is on disk")

    monkeypatch.setattr(kb_index, "build_index", no_build)
    assert knowledge.search("faq", ["refund"], 1)[1][0][0].id == "faq-05"


def test_remove_keeps_versions_another_base_uses(cli):
    cli("kb", "add", "a", FAQ_EN)
    cli("kb", "add", "b", FAQ_EN)
    assert "0 version(s) dropped" in cli("kb", "remove", "a").out
    assert search_ids(cli, "b", "refund")[0] == "faq-05"
