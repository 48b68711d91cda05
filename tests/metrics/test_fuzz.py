"""Seeded fuzz: 3,000 mixed-script pairs (Latin, digits, punctuation, Chinese, kana incl. half-width,
Hangul, CJK Extension B, newlines) scored by the workbench and by the reference libraries themselves.

BLEU is compared with sacrebleu using the tokenizer the workbench chose for the row (lang auto), chrF with
sacrebleu, ROUGE-1/2/L/Lsum (P, R, F) with rouge-score given the workbench's tokenizer (its scoring code
is what is compared; on ASCII-only pairs also its default tokenizer). Pairs where the workbench's empty-text
rule applies (see workbench.metrics.rouge.empty_rule) are left out of the library comparison.
"""

from __future__ import annotations

import random

import pytest
import sacrebleu
from rouge_score import rouge_scorer

from workbench.metrics import overlap, rouge

N_PAIRS = 3000
PIECES = ["the", "order", "refund", "Ship", "café", "naïve", "42", "3.5", "-", ",", ".", "!", "'s", "&amp;",
          "订单", "退款", "我的", "到了", "カタカナ", "ｶﾀｶﾅ", "ひらがな", "한국어", "𠀀", "𠀁𠀂", "Ext", "x", "\n", "。"]
TYPES = ["rouge1", "rouge2", "rougeL", "rougeLsum"]


def _text(rng: random.Random, base: list[str] | None = None) -> str:
    words = list(base) if base else [rng.choice(PIECES) for _ in range(rng.randint(0, 14))]
    if base:  # a noisy copy: shares n-grams with the other side
        for _ in range(rng.randint(0, 4)):
            i = rng.randrange(len(words) + 1)
            if rng.random() < 0.5 and words:
                words.pop(min(i, len(words) - 1))
            else:
                words.insert(i, rng.choice(PIECES))
    return "".join(w + ("" if rng.random() < 0.3 else " ") for w in words).strip(" ")


def _pairs():
    rng = random.Random(20260317)
    out = []
    for _ in range(N_PAIRS):
        ref_words = [rng.choice(PIECES) for _ in range(rng.randint(1, 14))]
        ref = _text(rng, ref_words)
        pred = _text(rng, ref_words) if rng.random() < 0.8 else _text(rng)
        out.append((pred, ref))
    return out


class _Tok:
    def tokenize(self, text):
        return rouge.CJKTokenizer().tokenize(text)


@pytest.fixture(scope="module")
def pairs():
    return [(p, r) for p, r in _pairs() if rouge.empty_rule(p, [r]) is None]


def test_fuzz_bleu_and_chrf_equal_sacrebleu(pairs):
    assert len(pairs) > 2500
    bleu = {t: sacrebleu.metrics.BLEU(tokenize=t, effective_order=True) for t in ("13a", "zh")}
    chrf = sacrebleu.metrics.CHRF()
    toks = set()
    for p, r in pairs:
        tok = overlap.bleu_tokenizer("auto", [r])
        toks.add(tok)
        assert overlap.bleu(p, [r], "auto") == bleu[tok].sentence_score(p, [r]).score / 100, (p, r)
    assert toks == {"13a", "zh"}
    got = overlap.chrf_many([(p, [r]) for p, r in pairs])
    assert got == [chrf.sentence_score(p, [r]).score / 100 for p, r in pairs]


def test_fuzz_rouge_equals_rouge_score(pairs):
    theirs = rouge_scorer.RougeScorer(TYPES, tokenizer=_Tok())
    default = rouge_scorer.RougeScorer(TYPES)
    ascii_pairs = 0
    for p, r in pairs:
        ours = rouge.scores(p, [r])
        ours["rougeLsum"] = rouge.lsum_scores(p, [r])
        for scorer in (theirs, default) if (p + r).isascii() else (theirs,):
            want = scorer.score(r, p)
            for t in TYPES:
                assert ours[t] == pytest.approx(tuple(want[t]), abs=1e-12), (t, p, r)
        ascii_pairs += (p + r).isascii()
    assert ascii_pairs > 50


def test_fuzz_batches_equal_the_libraries(pairs):
    """bleu_many and rouge.scores_many count n-gram matches for a batch at once (metrics.charstats): every
    value equal (==) to sacrebleu's and rouge-score's, in batches mixing 13a and zh rows."""
    bleu = {t: sacrebleu.metrics.BLEU(tokenize=t, effective_order=True) for t in ("13a", "zh")}
    got = overlap.bleu_many([(p, [r]) for p, r in pairs], "auto")
    assert got == [bleu[overlap.bleu_tokenizer("auto", [r])].sentence_score(p, [r]).score / 100 for p, r in pairs]
    theirs = rouge_scorer.RougeScorer(TYPES[:3], tokenizer=_Tok())
    many = rouge.scores_many([(p, [r]) for p, r in pairs])
    assert many == [rouge.scores(p, [r]) for p, r in pairs]
    for (p, r), ours in zip(pairs, many):
        want = theirs.score(r, p)
        assert all(ours[t] == pytest.approx(tuple(want[t]), abs=1e-12) for t in TYPES[:3]), (p, r)
