import json
import math
import random
import time

import pytest
import sacrebleu
from rouge_score import rouge_scorer

from workbench import metrics
from workbench.errors import UserError
from workbench.metrics import charstats, overlap, rouge, text


def pairs_en(n=60, seed=0):
    rows = [json.loads(line) for line in open("datasets/support_en.jsonl", encoding="utf-8")]
    rng = random.Random(seed)
    out = []
    for r in rows[:n]:
        words = r["reference"].split()
        k = rng.randrange(len(words))
        pred = " ".join(words[:k] + words[k + 2:] + ["Thanks!"]) if rng.random() < 0.7 else r["question"]
        out.append((pred, r["reference"]))
    return out


def test_english_bleu_chrf_equal_sacrebleu():
    for pred, ref in pairs_en():
        assert overlap.bleu(pred, [ref], "en") == pytest.approx(
            sacrebleu.sentence_bleu(pred, [ref], tokenize="13a").score / 100, abs=1e-12)
        assert overlap.chrf(pred, [ref]) == pytest.approx(sacrebleu.sentence_chrf(pred, [ref]).score / 100, abs=1e-12)


def test_english_rouge_equals_rouge_score_default_tokenizer():
    reference = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"])  # default tokenizer, no stemming
    for pred, ref in pairs_en():
        ours = rouge.rouge(pred, [ref])
        theirs = reference.score(ref, pred)
        for k in ours:
            assert ours[k] == pytest.approx(theirs[k].fmeasure, abs=1e-12)


def test_13a_tokenizer_equals_sacrebleus_on_punctuation_heavy_strings():
    """Our 13a rewrite pads periods, commas and dashes by themselves; sacrebleu's regexes decide."""
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

    theirs = Tokenizer13a()
    rng = random.Random(5)
    alphabet = "a1.,-& <>;\n\tb9é中x"
    lines = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 14))) for _ in range(20000)]
    lines += ["3.5,2", "...", "a.,b", "1-2-3", "U.S.A.", "e.g., x", "&amp;-\n", "x <skipped> y"]
    assert [overlap._tokenize_13a(line) for line in lines] == [theirs(line) for line in lines]


def test_chrf_in_batches_equals_one_by_one_and_sacrebleu():
    rng = random.Random(11)
    rows = [json.loads(line) for line in open("datasets/support_zh.jsonl", encoding="utf-8")]
    pairs = [(p, [r]) for p, r in pairs_en()] + [(r["question"], [r["reference"]]) for r in rows[:40]]
    pairs += [("", ["x"]), ("same", ["same"]), ("a b", ["a", "b c"]), ("中文 mixed, 1.5", ["中文 mixed"]),
              ("lone \ud800 surrogate", ["lone surrogate \udfff"]), ("emoji 👍🏽 ok", ["emoji 👍 ok"])]
    wide = [chr(0x4E00 + i) for i in range(3000)]  # batch alphabets too large for int64 keys: counted in Python
    wide_pairs = [("".join(rng.sample(wide, 200)), ["".join(rng.sample(wide, 200))]) for _ in range(40)]
    assert charstats.char_ngram_stats([p for p, _ in wide_pairs[:32]], [r[0] for _, r in wide_pairs[:32]], 6) is None
    pairs += wide_pairs
    rng.shuffle(pairs)
    assert overlap.chrf_many(pairs) == [overlap.chrf(p, refs) for p, refs in pairs]
    assert overlap.chrf_many(wide_pairs) == [overlap.chrf(p, refs) for p, refs in wide_pairs]
    for p, refs in pairs:
        if p.strip() and all(r.strip() for r in refs):
            assert overlap.chrf(p, refs) == sacrebleu.sentence_chrf(p, refs).score / 100


def test_multi_reference_takes_the_best():
    refs = ["The cat sat on the mat.", "A dog barked."]
    assert rouge.rouge("a dog barked", refs)["rouge1"] == pytest.approx(1.0)
    assert overlap.bleu("The cat sat on the mat.", refs) == pytest.approx(
        sacrebleu.sentence_bleu("The cat sat on the mat.", refs).score / 100)


def test_chinese_hand_computed_values():
    # tokens 我 的 订 单 vs 我 的 包 裹: 2 of 4 unigrams, 1 of 3 bigrams, LCS 2
    r = rouge.rouge("我的订单", ["我的包裹"])
    assert r["rouge1"] == pytest.approx(0.5) and r["rouge2"] == pytest.approx(1 / 3) and r["rougeL"] == pytest.approx(0.5)
    # all n-gram precisions 1 (4-gram: 1/1), brevity penalty exp(1 - 6/4)
    assert overlap.bleu("我的订单", ["我的订单到了"], "zh") == pytest.approx(math.exp(-0.5), abs=1e-9)
    # mixed text: Latin runs stay words, CJK chars are single tokens
    assert rouge.CJKTokenizer().tokenize("订单 #48213 Ship") == ["订", "单", "48213", "ship"]


def test_chinese_on_bundled_data_is_never_zero_when_overlapping():
    rows = [json.loads(line) for line in open("datasets/support_zh.jsonl", encoding="utf-8")]
    for r in rows[:40]:
        ref = r["reference"]
        same = metrics.score(ref, [ref], metrics.parse_metrics(None), "zh")
        for k in ("bleu", "chrf", "rouge1", "rouge2", "rougeL"):
            assert same[k] == pytest.approx(1.0), k
        partial = ref[: len(ref) // 2] + "，谢谢您的耐心。"  # half kept, half paraphrased away
        s = metrics.score(partial, [ref], metrics.parse_metrics(None), "zh")
        for k in ("bleu", "chrf", "rouge1", "rouge2", "rougeL"):
            assert 0 < s[k] < 1, (k, partial, ref)


def test_rouge_score_default_would_zero_chinese():
    # the pitfall we guard against: rouge-score's default tokenizer deletes non-ASCII characters
    assert rouge_scorer.RougeScorer(["rouge1"]).score("我的订单", "我的订单")["rouge1"].fmeasure == 0.0
    assert rouge.rouge("我的订单", ["我的订单"])["rouge1"] == 1.0


def test_empty_rule():
    for fn in (lambda p, r: overlap.bleu(p, r), lambda p, r: overlap.chrf(p, r),
               lambda p, r: rouge.rouge(p, r)["rougeL"]):
        assert fn("", [""]) == 1.0
        assert fn("  ", [""]) == 1.0
        assert fn("", ["something"]) == 0.0
        assert fn("something", [""]) == 0.0


def _lcs_table(a, b):
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            table[i][j] = table[i - 1][j - 1] + 1 if a[i - 1] == b[j - 1] else max(table[i - 1][j], table[i][j - 1])
    return table[-1][-1]


def test_bit_parallel_lcs_equals_dynamic_programming():
    rng = random.Random(7)
    for _ in range(300):
        a = [rng.choice("abcde") for _ in range(rng.randrange(0, 40))]
        b = [rng.choice("abcdef") for _ in range(rng.randrange(0, 40))]
        assert rouge.lcs_length(a, b) == _lcs_table(a, b)


def test_rouge_equals_library_on_long_texts():
    rng = random.Random(3)
    vocab = [f"w{i}" for i in range(50)]
    a = " ".join(rng.choice(vocab) for _ in range(400))
    b = " ".join(rng.choice(vocab) for _ in range(300))
    theirs = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"]).score(b, a)
    ours = rouge.rouge(a, [b])
    assert all(ours[k] == pytest.approx(theirs[k].fmeasure, abs=1e-12) for k in ours)


def test_rouge_l_is_exact_beyond_20000_tokens():
    """Before: each side was cut to 20,000 tokens, so ROUGE-L differed from rouge-score past the cut
    (0 when the only match lay there). Now the blocked LCS is exact at any length."""
    rng = random.Random(1)
    vocab = [f"w{i}" for i in range(300)]
    a = " ".join(rng.choice(vocab) for _ in range(50_000))
    b = " ".join(rng.choice(vocab) for _ in range(50_000))
    start = time.perf_counter()
    r = rouge.rouge(a, [b])
    assert time.perf_counter() - start < 30  # rouge-score's table: ~20 s and 800 MB at 10k tokens
    ta, tb = a.split(), b.split()
    assert r["rougeL"] == pytest.approx(2 * rouge.lcs_length(ta, tb) / (len(ta) + len(tb)))
    assert r["rouge1"] == pytest.approx(rouge_scorer.RougeScorer(["rouge1"]).score(b, a)["rouge1"].fmeasure)
    # the only common token lies past 20,000 tokens: LCS 1, not 0
    only_late = rouge.rouge(" ".join(["x"] * 25_000 + ["match"]), [" ".join(["y"] * 25_000 + ["match"])])
    assert only_late["rougeL"] == pytest.approx(1 / 25_001)


def test_blocked_lcs_equals_rouge_scores_table():
    from rouge_score.rouge_scorer import _lcs_table

    rng = random.Random(7)
    for _ in range(200):
        a = [rng.choice("abcd") for _ in range(rng.randint(0, 50))]
        b = [rng.choice("abcde") for _ in range(rng.randint(0, 50))]
        want = _lcs_table(a, b)[-1][-1] if a and b else 0
        assert [rouge.lcs_length(a, b, block) for block in (1, 3, 7, 64, 16384)] == [want] * 5


def test_rouge_l_on_25000_tokens_equals_rouge_score():
    """The issue's case: rouge-score gives 0.000960 on a 25,000-token output; the cut gave 0.001199."""
    from rouge_score.rouge_scorer import _score_lcs

    rng = random.Random(3)
    pred = [f"p{rng.randint(0, 20000)}" for _ in range(25_000)]
    ref = [f"p{rng.randint(0, 20000)}" for _ in range(24)]
    want = _score_lcs(ref, pred).fmeasure
    assert rouge.rouge(" ".join(pred), [" ".join(ref)])["rougeL"] == pytest.approx(want, abs=1e-15)


def test_text_checks():
    assert text.exact("  Yes. ", ["yes."]) == 1.0 and text.exact("yes", ["no"]) == 0.0
    assert text.contains("Sure, the answer is 42.", ["ANSWER IS 42"]) == 1.0
    assert text.regex("order #48213", r"#\d{5}") == 1.0 and text.regex("none", r"\d") == 0.0
    assert text.json_valid('{"a": 1}') == 1.0 and text.json_valid("{a: 1}") == 0.0
    assert text.length("订单") == 2.0


def test_parse_metrics():
    assert metrics.parse_metrics(["bleu,rouge", "regex=^\\d+,\\d+$"]).names == ("bleu", "rouge1", "rouge2", "rougeL", "regex")
    assert metrics.parse_metrics(["regex=a,b"]).specs() == [{"name": "regex", "pattern": "a,b"}]
    assert metrics.parse_metrics("exact,regex=a").specs() == [{"name": "exact"}, {"name": "regex", "pattern": "a"}]
    with pytest.raises(UserError, match="unknown metric"):
        metrics.parse_metrics(["blue"])
    with pytest.raises(UserError, match="bad regular expression"):
        metrics.parse_metrics(["regex=("])


def test_signatures_name_tokenizer_and_version():
    sig = metrics.signatures(metrics.parse_metrics(None), "zh")
    assert "tok:zh" in sig["bleu"] and f"version:{sacrebleu.__version__}" in sig["bleu"]
    assert "tok:13a" in metrics.signatures(metrics.parse_metrics(["bleu"]), "en")["bleu"]
    assert "tok:cjk-char+word" in sig["rouge1"] and "max_tokens" not in sig["rougeL"]
    assert all("scale:0-1" in sig[k] for k in ("exact", "bleu", "chrf", "rouge2"))


@pytest.mark.parametrize("metric, lang", [("bleu", "en"), ("bleu", "zh"), ("chrf", "en"), ("chrf", "zh")])
def test_sacrebleu_signatures_are_sacrebleus_own(metric, lang):
    from workbench.metrics import overlap

    assert overlap.signature(metric, lang) == overlap.sacrebleu_signature(metric, lang)


def test_no_reference_skips_reference_metrics():
    s = metrics.score("hello", [], metrics.parse_metrics(["bleu,length,json_valid"]))
    assert s == {"length": 5.0, "json_valid": 0.0}


def test_ngram_batches_equal_one_by_one_with_many_references_and_wide_vocabularies():
    """The batch paths fall back to counting in Python (several references, a vocabulary too wide for the
    keys, small batches) and give the same values as one pair at a time."""
    rng = random.Random(12)
    pairs = [(p, [r]) for p, r in pairs_en()] + [("", ["x"]), ("same", ["same"]), ("a b", ["a", "b c"]),
                                                  ("!!!", ["?"]), ("中文 mixed, 1.5", ["中文 mixed"])]
    words = [f"w{i}" for i in range(70000)]  # 17 bits a token: 4-grams of 64 pairs do not fit in int64 keys
    wide = [(" ".join(rng.sample(words, 300)), [" ".join(rng.sample(words, 300))]) for _ in range(64)]
    assert charstats.token_ngram_matches([p.split() for p, _ in wide], [r[0].split() for _, r in wide], 4) is None
    for batch in (pairs, wide, pairs[:5]):
        assert overlap.bleu_many(batch, "en") == [overlap.bleu(p, refs, "en") for p, refs in batch]
        assert rouge.scores_many(batch) == [rouge.scores(p, refs) for p, refs in batch]
    assert overlap.bleu_many(pairs, "en", tok="intl", max_ngram_order=6) == [
        sacrebleu.metrics.BLEU(tokenize="intl", max_ngram_order=6, effective_order=True).sentence_score(p, refs).score
        / 100 if rouge.empty_rule(p, refs) is None else overlap.bleu(p, refs, "en", tok="intl", max_ngram_order=6)
        for p, refs in pairs]
