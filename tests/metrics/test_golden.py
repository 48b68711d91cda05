"""Golden cases from the reference libraries' own published test suites, each asserting the library's
published expected value through the workbench's metrics (sentence metrics via `metrics.score` with a
parameterised metric; corpus metrics via workbench.metrics.corpus).

Sources: sacrebleu 2.x test/test_bleu.py, test/test_sentence_bleu.py, test/test_chrf.py;
rouge-score 0.1.2 rouge_scorer_test.py, tokenize_test.py, tokenizers_test.py (and its testdata).

Counts (a "case" is one expected value or one parametrised row of the original):
  ported 114: sacrebleu 71 (test_bleu 28, test_sentence_bleu 18, test_chrf 25), rouge-score 43
  (rouge_scorer_test 39, tokenize_test 2, tokenizers_test 2).
  skipped 21, with reasons:
  - sacrebleu test_sentence_bleu `test_compat_sentence_bleu` (12): the same 12 expectations through
    sacrebleu.compat, a wrapper with no workbench surface; the 12 are ported once through the metric API.
  - sacrebleu test_api.py, test_dataset.py (test-set downloads), test_metrics_base.py (argument type checks
    of sacrebleu's internal API), test_ter.py / test_tokenizer_ter.py / test_wer.py (TER/WER are not
    workbench metrics), test_significance.py (sacrebleu's system-comparison tests; the workbench has its own
    paired tests): no option of the workbench maps to them (not counted per case).
  - rouge-score testValidRougeTypes("rouge9") (1): ROUGE-N above 2 is not offered.
  - rouge-score testRougeLsumLarge (1): needs its 142 KB testdata file, not vendored here.
  - rouge-score testRougeTokenizerInit (1): a custom tokenizer object is not a workbench option.
  - rouge-score scoring_test.py (6): its BootstrapAggregator; the workbench's intervals are its own.
  - rouge-score io_test.py: file reading helpers.
  The exact tally is asserted at the bottom of this file (test_counts).
"""

from __future__ import annotations

import pytest

from workbench import metrics
from workbench.errors import UserError
from workbench.metrics import corpus, rouge

# --- sacrebleu test_bleu.py --------------------------------------------------------------------------
_REFS = [['The dog bit the man.', 'It was not unexpected.', 'The man bit him first.'],
         ['The dog had bit the man.', 'No one was surprised.', 'The man had bitten the dog.']]
_HYPS = ['The dog bit the man.', "It wasn't surprising.", 'The man had just bitten him.']
RAW = {"tok": "none", "smooth": "floor", "smooth_value": 0.01, "eff": True}  # sacrebleu.raw_corpus_bleu
BLEU_CORPUS = [  # hyps, reference streams, options, expected (0-100)
    (["this is a test", "another test"], [["ref1", "ref2"]], RAW, 0.0),  # "now returns 0.0 (#141)"
    (["this is a test"], [["this is a test"]], RAW, 100.0),
    (["this is a fest"], [["this is a test"]], RAW, 22.3606797749979),
    (_HYPS, _REFS, {}, 48.530827),
    (("", "", ""), _REFS, {}, 0.0),
    (_HYPS, _REFS, {"tok": "none"}, 49.1919566),
    (_HYPS, _REFS, {"tok": "13a"}, 48.530827),
    (_HYPS, _REFS, {"tok": "intl"}, 43.91623493),
    (_HYPS, _REFS, {"smooth": "none"}, 48.530827),
    (["test"], [["a test"]], RAW, 36.78794411714425),  # effective order
    (["a test"], [["a test"]], RAW, 100.0),
    (["a little test"], [["a test"]], RAW, 3.218297948685433),
    (["am I am a character sequence"], [["I am a symbol string sequence a a"]], {**RAW, "smooth_value": 0.0}, 0.0),
    (["am I am a character sequence"], [["I am a symbol string sequence a a"]],  # offset: floor's default 0.1
     {"tok": "none", "smooth": "floor", "eff": True}, 15.55722182),
]
BLEU_MAX_ORDER = [(1, 77.65), (2, 60.50), (3, 53.93), (4, 48.53), (5, 46.14), (6, 43.28)]  # to 2 decimals
# (correct, total, sys_len, ref_len), options, expected (0-100): sacrebleu.compute_bleu on statistics
BLEU_STATS = [
    (([9, 7, 5, 3], [10, 8, 6, 4], 11, 11), {"smooth": "none"}, 83.75922397),
    (([0, 0, 0, 0], [4, 4, 2, 1], 0, 1), {"smooth": "floor", "smooth_value": 0.0}, 0.0),
    (([0, 0, 0, 0], [10, 11, 12, 0], 14, 10), {"smooth": "floor", "smooth_value": 0.0}, 0.0),
    (([0, 0, 0, 0], [0, 0, 0, 0], 0, 0), {"smooth": "floor", "smooth_value": 0.0}, 0.0),
    (([6, 5, 4, 0], [6, 5, 4, 3], 6, 6), {"smooth": "floor", "smooth_value": 0.0}, 0.0),
    (([0, 0, 0, 0], [0, 0, 0, 0], 0, 0), {"smooth": "floor", "smooth_value": 0.1}, 0.0),
    (([0, 0, 0, 0], [0, 0, 0, 0], 1, 5), {"smooth": "floor", "smooth_value": 0.01}, 0.0),
]

# --- sacrebleu test_sentence_bleu.py -------------------------------------------------------------------
_REF = "producţia de zahăr brut se exprimă în zahăr alb;"
_SYS = "Producția de zahăr primă va fi exprimată în ceea ce privește zahărul alb;"
SENTENCE_BLEU = [  # smooth, smooth_value, lowercase, tok, expected (0-100); tolerance 1e-3
    ("exp", None, False, "13a", 8.493), ("none", None, False, "13a", 0.0),
    ("floor", None, False, "13a", 4.51688), ("floor", 0.1, False, "13a", 4.51688),
    ("floor", 0.5, False, "13a", 10.10), ("add-k", None, False, "13a", 14.882),
    ("add-k", 1, False, "13a", 14.882), ("add-k", 2, False, "13a", 21.389),
    ("exp", None, False, "none", 7.347), ("exp", None, False, "intl", 8.493),
    ("exp", None, False, "char", 40.8759), ("exp", None, True, "char", 42.0267),
]
SENTENCE_BLEU_ZERO = [("exp", None), ("none", None), ("floor", None), ("floor", 0.1), ("add-k", None), ("add-k", 1)]

# --- sacrebleu test_chrf.py ----------------------------------------------------------------------------
CHRF_SENTENCE = [  # eps_smoothing=True, defaults otherwise (beta 2)
    ('Co nás nejvíc trápí, protože lékaři si vybírají, kdo bude žít a kdo zemře.',
     ['Nejvíce smutní jsme z toho, že musíme rozhodovat o tom, kdo bude žít a kdo zemře.'], 39.14078509),
    ('Nebo prostě nemají vybavení, které by jim pomohlo, uvedli lékaři.',
     ['A někdy nemáme ani potřebný materiál, abychom jim pomohli, popsali lékaři.'], 31.22557079),
    ('Lapali po dechu, jejich životy skončily dřív, než skutečně začaly.',
     ['Lapali po dechu a pak jejich život skončil - dřív, než skutečně mohl začít, připomněli.'], 57.15704367),
]
_EPS = {"beta": 3, "eps_smoothing": True}
_EFF = {"beta": 3, "eps_smoothing": False}
_WS = {"beta": 3, "whitespace": True}
CHRF_CORPUS = [  # hyps, one reference stream, options, expected (0-100); tolerance 1e-4
    (["abcdefg"], ["hijklmnop"], _EPS, 0.0), (["a"], ["b"], _EPS, 0.0), ([""], ["b"], _EPS, 0.0),
    ([""], ["ref"], _EPS, 0.0), ([""], ["reference"], _EPS, 0.0), (["aa"], ["ab"], _EPS, 8.3333),
    (["a", "b"], ["a", "c"], _EPS, 8.3333), (["a"], ["a"], _EPS, 16.6667), (["a b c"], ["a b c"], _EPS, 50.0),
    (["a b c"], ["abc"], _EPS, 50.0),
    ([" risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists ."],
     ["risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists ."],
     _EPS, 63.361730),
    ([" Die    Beziehung zwischen  Obama und Netanjahu ist nicht gerade  freundlich. "],
     ["Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich."], _EPS, 64.1302698),
    (["Niemand hat die Absicht, eine Mauer zu errichten"], ["Niemand hat die Absicht, eine Mauer zu errichten"],
     _EPS, 100.0),
    (["a"], ["a"], _EFF, 100.0), ([""], ["reference"], _EFF, 0.0), (["a b c"], ["a b c"], _EFF, 100.0),
    (["a b c"], ["abc"], _EFF, 100.0), ([""], ["c"], _EFF, 0.0), (["a", "b"], ["a", "c"], _EFF, 50.0),
    (["aa"], ["ab"], _EFF, 25.0),
    (["Die Beziehung zwischen Obama und Netanjahu ist nicht gerade freundlich."],
     ["Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich."], _WS, 67.3481606),
    (["risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists ."],
     ["risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists ."],
     _WS, 65.2414427),
]


def _metric(name: str, options: dict) -> metrics.MetricSet:
    shown = ",".join(f"{k}={'yes' if v is True else 'no' if v is False else v}" for k, v in options.items()
                     if v is not None)
    return metrics.parse_metrics([f"{name}({shown})" if shown else name])


@pytest.mark.parametrize("hyps, streams, options, expected", BLEU_CORPUS)
def test_sacrebleu_corpus_bleu(hyps, streams, options, expected):
    rows = [list(refs) for refs in zip(*streams)]
    ms = _metric("corpus_bleu", options)
    got = corpus.corpus_score("bleu", list(hyps), rows, "en", ms.metrics[0].corpus_options(), bootstrap=1)
    assert got.value * 100 == pytest.approx(expected, abs=1e-8)


@pytest.mark.parametrize("order, expected", BLEU_MAX_ORDER)
def test_sacrebleu_max_ngram_order(order, expected):
    rows = [list(refs) for refs in zip(*_REFS)]
    options = _metric("corpus_bleu", {"max_ngram_order": order}).metrics[0].corpus_options()
    assert f"{corpus.corpus_score('bleu', _HYPS, rows, 'en', options, bootstrap=1).value * 100:.2f}" == f"{expected:.2f}"


def test_sacrebleu_statistics():
    stats = corpus.row_stats("bleu", ["am I am a character sequence"], [["I am a symbol string sequence a a"]], "en",
                             RAW)
    assert stats[0][2:6] == [4, 2, 1, 0] and stats[0][6:] == [6, 5, 4, 3]


@pytest.mark.parametrize("stats, options, expected", BLEU_STATS)
def test_sacrebleu_compute_bleu(stats, options, expected):
    correct, total, sys_len, ref_len = stats
    value = corpus.value_of("bleu", [sys_len, ref_len, *correct, *total], {"eff": False, **options})
    assert value * 100 == pytest.approx(expected, abs=1e-8)


@pytest.mark.parametrize("smooth, value, lowercase, tok, expected", SENTENCE_BLEU)
def test_sacrebleu_sentence_bleu(smooth, value, lowercase, tok, expected):
    ms = _metric("bleu", {"smooth": smooth, "smooth_value": value, "lowercase": lowercase or None, "tok": tok})
    got = metrics.score(_SYS, [_REF], ms)
    assert next(iter(got.values())) * 100 == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize("smooth, value", SENTENCE_BLEU_ZERO)
def test_sacrebleu_sentence_bleu_zero(smooth, value):
    got = metrics.score("this is a cat", ["okay thanks"], _metric("bleu", {"smooth": smooth, "smooth_value": value}))
    assert next(iter(got.values())) == pytest.approx(0.0, abs=1e-5)


@pytest.mark.parametrize("hyp, refs, expected", CHRF_SENTENCE)
def test_sacrebleu_sentence_chrf(hyp, refs, expected):
    got = metrics.score(hyp, refs, _metric("chrf", {"eps_smoothing": True}))
    assert next(iter(got.values())) * 100 == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("hyps, refs, options, expected", CHRF_CORPUS)
def test_sacrebleu_corpus_chrf(hyps, refs, options, expected):
    ms = _metric("corpus_chrf", options)
    got = corpus.corpus_score("chrf", hyps, [[r] for r in refs], "en", ms.metrics[0].corpus_options(), bootstrap=1)
    assert got.value * 100 == pytest.approx(expected, abs=1e-4)


# --- rouge-score 0.1.2 rouge_scorer_test.py -----------------------------------------------------------
# testdata/target.txt and prediction.txt (first two lines), pyrouge_files/{target,prediction}_multi.0.txt
TARGETS = [
    "ZfbCUIUuePaiLVUlCaUXxkpu XPeWing tUHfPMuZ',-Xd Y BrUgVJing M-HV.-DgdDaY.rFDJCRing Ht-LM EKBDXkME,yz'RBr "
    "q'wtion wIojNbN wL,b .a-'XdQggyFl jB-RPP'iyOIcUxer tKM L",
    "KsJdPByEtAor fE-Qg Dpdbring cw-WeFyu vC MoBL Xdn g wkvcEiGvKtion BDFhrpMtion psing sbKao Q m qiing LMmer "
    "HqqLFXe,XPY,J XsurkMer ,ed nB'wH'bWVHjWFEing tQ.saefZwJtKrTlixYpMMsJing UCAPwNHeYVjDing c T BUySKtion "
    "gMPfJpwGw p'NvxAoping eu pBwMBKV'I DNxqelhu,PHPxDEq,mtion SN",
]
PREDICTIONS = [
    "rFDJCRtion Ht-LM EKtDXkME,yz'RBr q'wer wrojNbN wL,b .a-'XdQggyFl jB-RPP'iyOIcUxi",
    "n cw-WeFyu vC MoBL Xdn g wkvcEiGvKtion BDFhrpMer pstion sbKao Q m qier LMmed HqqLFXe,XPY,J XsurkMeo ,ed "
    "nB'wH'bWVHjWFEer tQ.saefZwJtKrTlixYpMMNJtion UCAPwNHeYVjD",
]
TARGET_MULTI = "\n".join([
    TARGETS[0], TARGETS[1],
    "NhETebUbBk'er WOvoHMTjSRizKgH'vHiing Xu,hWxfs VkNE QhgKiLHE -HidivzoM.dO anhtion jbLQiSGDTCsuhREebUaKM dv J "
    "dVN tmbOT",
    "vMR HDm,xOAetion D,tion HJtodT.mHl UIv-p VjWH'BdyWjnfGU-OjT aEMdFICyLWfQMtion wEMfdOKing AwkeKbO 'DxqNOHBH "
    "qKtVvm OYJl mM"]) + "\n"
PREDICTION_MULTI = "\n".join([
    PREDICTIONS[0], PREDICTIONS[1],
    "xfs VkJE QhgKiLHE -HidivzoM.dO anhing jbLQiSGDTCsuhREebUaKM dv J",
    "VjWH'BdyWjnfGU-OjTNaEMdFICyLWfQMing wEMfdOKijg AwkeKbO 'DxqNO"]) + "\n"
ROUGE_155 = [  # rouge type, stem, pair index, (recall, precision, F) published to 5 places
    ("rouge1", False, 0, (0.40741, 0.68750, 0.51163)), ("rouge1", False, 1, (0.40476, 0.65385, 0.50000)),
    ("rouge1", True, 0, (0.40741, 0.68750, 0.51163)), ("rouge1", True, 1, (0.42857, 0.69231, 0.52941)),
    ("rouge2", False, 0, (0.30769, 0.53333, 0.39024)), ("rouge2", False, 1, (0.29268, 0.48000, 0.36364)),
    ("rouge2", True, 0, (0.30769, 0.53333, 0.39024)), ("rouge2", True, 1, (0.29268, 0.48000, 0.36364)),
    ("rougeL", False, 0, (0.40741, 0.68750, 0.51163)), ("rougeL", False, 1, (0.40476, 0.65385, 0.50000)),
]
ROUGE_SIMPLE = [  # target, prediction, rouge type, (precision, recall, F)
    ("testing one two", "testing", "rouge1", (1, 1 / 3, 1 / 2)),
    ("testing one two", "testing one", "rouge2", (1, 1 / 2, 2 / 3)),
    ("testing one two", "testing one", "rougeL", (1, 2 / 3, 4 / 5)),
    ("testing one two", "testing two", "rougeL", (1, 2 / 3, 4 / 5)),
    ("testing one two", "testing one", "rouge1", (1, 2 / 3, 4 / 5)),  # testMultipleRougeTypes
    ("w1 w2 w3 w4 w5", "w1 w2 w6 w7 w8\nw1 w3 w8 w9 w5", "rougeLsum", (0.4, 0.8, 0.5333)),
] + [("testing one two", "", t, (0, 0, 0)) for t in ("rouge1", "rouge2", "rougeL", "rougeLsum")] + [
    ("w1 w2 w3 w4 w5", "", "rougeLsum", (0, 0, 0)), ("", "w1", "rougeLsum", (0, 0, 0)),
    ("w1 w2 w3 w4 w5", "/", "rougeLsum", (0, 0, 0)),
]


def _prf(target: str, prediction: str, kind: str, stem: bool = False, split: str = "newline"):
    if kind == "rougeLsum":
        return rouge.lsum_scores(prediction, [target], stem, split)
    return rouge.scores(prediction, [target], stem)[kind]


@pytest.mark.parametrize("kind, stem, i, rpf", ROUGE_155)
def test_rouge_score_against_rouge_155(kind, stem, i, rpf):
    p, r, f = _prf(TARGETS[i], PREDICTIONS[i], kind, stem)
    assert (r, p, f) == pytest.approx(rpf, abs=5e-6)


def test_rouge_score_lsum_against_rouge_155_with_stemming():
    p, r, f = _prf(TARGET_MULTI, PREDICTION_MULTI, "rougeLsum", stem=True)
    assert (r, p, f) == pytest.approx((0.36538, 0.66667, 0.47205), abs=5e-6)


@pytest.mark.parametrize("target, prediction, kind, prf", ROUGE_SIMPLE)
def test_rouge_score_simple_cases(target, prediction, kind, prf):
    assert _prf(target, prediction, kind) == pytest.approx(prf, abs=1e-4)


def test_rouge_score_multi_reference():
    assert rouge.scores("testing", ["testing one two"])["rouge1"] == pytest.approx((1, 1 / 3, 1 / 2))
    got = rouge.rouge("text first", ["first text", "first something"])
    assert (got["rouge1"], got["rouge2"], got["rougeL"]) == pytest.approx((1, 0, 0.5))


def test_rouge_score_lsum_sentence_splitting():
    target, prediction = "First sentence.\nSecond Sentence.", "Second sentence.\nFirst Sentence."
    assert _prf(target, prediction, "rougeLsum", stem=True)[2] == pytest.approx(1.0, abs=1e-5)
    joined_t, joined_p = target.replace("\n", " "), prediction.replace("\n", " ")
    assert _prf(joined_t, joined_p, "rougeLsum", stem=True)[2] == pytest.approx(0.5, abs=1e-5)
    # rouge-score's split_summaries=True (nltk punkt, 1.0): ours is split=punct, a rule, not punkt
    assert _prf(joined_t, joined_p, "rougeLsum", stem=True, split="punct")[2] == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("name", ["rougen", "rouge0", "rouge10"])
def test_rouge_score_invalid_types(name):
    with pytest.raises(UserError, match="unknown metric"):
        metrics.parse_metrics([name])


@pytest.mark.parametrize("name", ["rouge1", "rougeL", "rougeLsum"])
def test_rouge_score_valid_types(name):
    assert set(metrics.score("testing", ["testing one two"], metrics.parse_metrics([name]))) == {name}


def test_rouge_score_lcs_table_union_and_summary_level():
    ref, c1, c2 = [1, 2, 3, 4, 5], [2, 5, 3, 4], [8, 9]
    assert rouge.lcs_length(ref, c1) == 3 and rouge._lcs_indices(ref, c1) == [1, 2, 3]
    assert [ref[i] for i in rouge._lcs_indices(ref, c1)] == [2, 3, 4]
    assert rouge.lcs_length(ref, c2) == 0 and rouge._lcs_indices(ref, c2) == []
    u1, u2 = [1, 2, 6, 7, 8], [1, 3, 8, 9, 5]
    assert sorted({0, 1} | {0, 2, 4}) == [0, 1, 2, 4]
    assert [ref[i] for i in sorted(set(rouge._lcs_indices(ref, u1)) | set(rouge._lcs_indices(ref, u2)))] == [1, 2, 3, 5]
    p, r, f = rouge._summary_level_lcs([ref], [u1, u2])
    assert (r, p) == (0.8, 0.4) and f == pytest.approx(0.5333, abs=1e-3)
    assert rouge._summary_level_lcs([["reference"]], [[]])[1] == 0.0


# --- rouge-score 0.1.2 tokenize_test.py, tokenizers_test.py ---------------------------------------------
def test_rouge_score_tokenize():
    assert rouge.CJKTokenizer().tokenize("one Two three") == ["one", "two", "three"]
    assert rouge.CJKTokenizer().tokenize("one\n Two \nthree") == ["one", "two", "three"]
    assert rouge.CJKTokenizer().tokenize("this is a test") == ["this", "is", "a", "test"]
    assert rouge.CJKTokenizer(stem=True).tokenize("the friends had a meeting") == ["the", "friend", "had", "a", "meet"]


PORTED = {"sacrebleu": len(BLEU_CORPUS) + len(BLEU_MAX_ORDER) + 1 + len(BLEU_STATS) + len(SENTENCE_BLEU) + len(SENTENCE_BLEU_ZERO)
          + len(CHRF_SENTENCE) + len(CHRF_CORPUS),
          "rouge-score": len(ROUGE_155) + 1 + len(ROUGE_SIMPLE) + 2 + 3 + 3 + 3 + 4 + 4}
SKIPPED = {"sacrebleu compat duplicates": 12, "rouge9": 1, "rougeLsum large testdata": 1,
           "custom tokenizer object": 1, "rouge-score BootstrapAggregator": 6}


def test_counts():
    """The tally in the module docstring and the report."""
    assert PORTED == {"sacrebleu": 71, "rouge-score": 43} and sum(SKIPPED.values()) == 21
