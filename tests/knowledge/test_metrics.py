"""Retrieval metrics against values computed by hand, in English and Chinese; the bundled gold passages."""

from __future__ import annotations

import json

import pytest

from workbench.metrics.retrieval import (
    content_tokens,
    grounded,
    retrieval_hit,
    retrieval_mrr,
    retrieval_recall,
)


def test_hit_mrr_recall_by_hand():
    retrieved = ["faq-08", "faq-05", "faq-04"]
    assert retrieval_hit("faq-05", retrieved) == 1.0
    assert retrieval_hit("faq-05", retrieved, k=1) == 0.0
    assert retrieval_mrr("faq-05", retrieved) == 0.5
    assert retrieval_mrr("faq-04", retrieved) == pytest.approx(1 / 3)
    assert retrieval_mrr("faq-04", retrieved, k=2) == 0.0
    assert retrieval_recall(["faq-04", "faq-05", "faq-01"], retrieved) == pytest.approx(2 / 3)
    assert retrieval_recall(["faq-04", "faq-05"], retrieved, k=2) == 0.5
    assert retrieval_hit("faq-01", []) == 0.0 and retrieval_mrr("faq-01", []) == 0.0


def test_a_piece_of_a_split_entry_counts_for_the_entry():
    assert retrieval_mrr("faq-04", ["faq-05", "faq-04#2"]) == 0.5
    assert retrieval_hit("faq-0", ["faq-04"]) == 0.0  # a prefix is not a piece


def test_no_gold_is_none():
    assert retrieval_hit(None, ["a"]) is None and retrieval_mrr("", ["a"]) is None
    assert retrieval_recall([], ["a"]) is None


def test_grounded_english_by_hand():
    # "to" is a stop word (Lucene's list), "within" is not
    assert content_tokens("Refunds arrive within 5 to 7 business days.") == \
        ["refunds", "arrive", "within", "5", "7", "business", "days"]
    passage = "The money takes 5 to 7 business days to appear."  # tokens: money takes 5 7 business days appear
    # answer bigrams: refunds-arrive, arrive-within, within-5, 5-7, 7-business, business-days: 6, found: 3
    assert grounded("Refunds arrive within 5 to 7 business days.", [passage]) == pytest.approx(3 / 6)
    # unigrams: 7 distinct, found: 5 7 business days = 4
    assert grounded("Refunds arrive within 5 to 7 business days.", [passage], n=1) == pytest.approx(4 / 7)
    assert grounded("The money takes 5 to 7 business days to appear.", [passage]) == 1.0


def test_grounded_chinese_by_character_bigrams():
    answer = "退款5到7个工作日到账。"  # tokens: 退 款 5 到 7 个 工 作 日 到 账 -> 10 distinct bigrams
    passage = "款项通常会在5到7个工作日内退回。"
    # found: 5-到, 到-7, 7-个, 个-工, 工-作, 作-日 = 6 of 10 (退款, 款5, 日到, 到账 are not in the passage)
    assert grounded(answer, [passage]) == pytest.approx(6 / 10)
    assert grounded(answer, ["completely unrelated"]) == 0.0


def test_grounded_counts_each_passage_on_its_own_and_empty_is_none():
    # "business days" is split across two passages: the bigram business-days is in neither
    assert grounded("business days", ["five business", "days later"]) == 0.0
    assert grounded("", ["x"]) is None and grounded("the and of", ["x"]) is None
    assert grounded("refunds", []) == 0.0


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_support_row_names_its_faq_entry(lang):
    faq = {json.loads(line)["id"]: json.loads(line) for line in open(f"datasets/faq_{lang}.jsonl", encoding="utf-8")}
    rows = [json.loads(line) for line in open(f"datasets/support_{lang}.jsonl", encoding="utf-8")]
    assert all(r.get("faq_id") in faq for r in rows)
    by_intent: dict[str, set[str]] = {}
    for r in rows:
        by_intent.setdefault(r["intent"], set()).add(r["faq_id"])
    assert all(len(v) == 1 for v in by_intent.values())  # one entry per intent
    for r in rows:  # the entry shares more of the reference than any other entry does
        own = grounded(r["reference"], [faq[r["faq_id"]]["text"]])
        best_other = max(grounded(r["reference"], [f["text"]]) for i, f in faq.items() if i != r["faq_id"])
        assert own > best_other, (r["id"], r["faq_id"])
