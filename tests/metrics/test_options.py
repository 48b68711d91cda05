"""Issue 17: per-row language, nrefs as sacrebleu states it, CJK by Unicode script, the reference
libraries' options (parameterised names), corpus BLEU/chrF, and `score -o -`."""

from __future__ import annotations

import json

import pytest
import sacrebleu
from rouge_score import rouge_scorer

from workbench import metrics
from workbench.authoring.datasets import load_dataset, row_lang
from workbench.authoring.scripts import CJK_RANGES, generate_ranges
from workbench.errors import UserError
from workbench.metrics import corpus, overlap, rouge

EN = [("the cat sat on the mat", "the cat sat on a mat"), ("my order has not arrived yet", "my order is late"),
      ("please reset my password", "reset your password here"), ("the refund takes five days", "refunds take 5 days"),
      ("you can cancel any time", "cancel at any time"), ("we ship worldwide", "we ship to every country"),
      ("the store opens at nine", "opening time is 9 am"), ("call us on weekdays", "phone support on weekdays"),
      ("your parcel is on its way", "the parcel was sent")]
ZH = ("我的订单还没有到", "我的订单还没到")


def _mixed_file(tmp_path):
    path = tmp_path / "mixed.jsonl"
    rows = [{"prediction": p, "reference": r} for p, r in [*EN, ZH]]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    return path


def test_mixed_file_scores_each_row_in_its_own_language(tmp_path, cli):
    """Before: the file was 'en' and the Chinese row got 13a BLEU 0.0 (its words glued into one token)."""
    ds = load_dataset(_mixed_file(tmp_path))
    assert ds.lang == "auto"
    zh_want = sacrebleu.metrics.BLEU(tokenize="zh", effective_order=True).sentence_score(ZH[0], [ZH[1]]).score / 100
    assert overlap.bleu(ZH[0], [ZH[1]], "en") == 0.0 and zh_want > 0.5
    r = cli("score", _mixed_file(tmp_path), "--json", "--metrics", "bleu")
    rows = [json.loads(line) for line in r.out.splitlines()]
    assert rows[-1]["bleu"] == pytest.approx(zh_want, abs=1e-12) and rows[-1]["tok"] == "zh"
    en_want = [sacrebleu.sentence_bleu(p, [ref]).score / 100 for p, ref in EN]
    assert [x["bleu"] for x in rows[:-1]] == pytest.approx(en_want, abs=1e-12)
    assert {x["tok"] for x in rows[:-1]} == {"13a"}
    r = cli("score", _mixed_file(tmp_path), "--metrics", "bleu")
    assert "BLEU tokenizer per row: 13a 9, zh 1" in r.err and "tok:auto(13a|zh)" in r.err
    # --lang forces one tokenizer for every row
    r = cli("score", _mixed_file(tmp_path), "--json", "--metrics", "bleu", "--lang", "en")
    assert json.loads(r.out.splitlines()[-1])["bleu"] == 0.0


def test_homogeneous_files_keep_one_language(tmp_path):
    path = tmp_path / "en.jsonl"
    path.write_text("\n".join(json.dumps({"prediction": p, "reference": r}) for p, r in EN), encoding="utf-8")
    assert load_dataset(path).lang == "en"
    assert row_lang(["我的订单 order"]) == "zh" and row_lang(["order 号"]) == "en"


def test_nrefs_is_what_sacrebleu_says():
    """Before: nrefs:1 on rows with two references (the values were right)."""
    two = [["the cat sat on a mat", "a cat was on the mat"]] * 3
    ms = metrics.parse_metrics(["bleu,chrf"])
    sig = metrics.signatures(ms, "en", metrics.reference_count(two))
    bleu = sacrebleu.metrics.BLEU(effective_order=True)
    bleu.corpus_score(["the cat sat"] * 3, [[r[0] for r in two], [r[1] for r in two]])
    assert sig["bleu"] == f"sacrebleu:{bleu.get_signature()}|scale:0-1" and "nrefs:2" in sig["bleu"]
    assert "nrefs:2" in sig["chrf"]
    assert metrics.reference_count([["a"], ["a", "b"], []]) == "var"
    assert "nrefs:var" in metrics.signatures(ms, "en", "var")["bleu"]
    assert metrics.score("the cat sat", two[0], ms)["bleu"] == pytest.approx(
        bleu.sentence_score("the cat sat", two[0]).score / 100, abs=1e-12)


@pytest.mark.parametrize("text", ["𠀀𠀁𠀂", "ｶﾀｶﾅ", "𠀀a𠀁b", "ｶﾀabc"])
def test_cjk_by_script_gives_identical_pairs_rouge2_of_one(text):
    """Before: half-width katakana and CJK Extension B+ were glued into word runs (onto Latin letters too)."""
    assert rouge.rouge(text, [text])["rouge2"] == 1.0
    assert len(rouge.CJKTokenizer().tokenize(text)) >= 3


def test_cjk_table_is_the_unicode_scripts():
    assert [tuple(r) for r in generate_ranges()] == list(CJK_RANGES)


def test_parameterised_names_store_their_options_and_signature():
    ms = metrics.parse_metrics(["bleu,bleu(tok=intl,smooth=floor),chrfpp,rouge(stem=yes),bleu(smooth=exp)"])
    assert ms.names == ("bleu", "bleu(smooth=floor,tok=intl)", "chrfpp", "rouge1(stem=yes)", "rouge2(stem=yes)",
                        "rougeL(stem=yes)")
    assert ms.specs()[1] == {"name": "bleu", "tok": "intl", "smooth": "floor"}
    assert metrics.metric_set(ms.to_json()).names == ms.names
    sig = metrics.signatures(ms, "en")
    assert "tok:intl" in sig["bleu(smooth=floor,tok=intl)"] and "smooth:floor[0.10]" in sig["bleu(smooth=floor,tok=intl)"]
    assert "nw:2" in sig["chrfpp"] and "stem:porter" in sig["rouge1(stem=yes)"]
    assert "bleu(smooth=floor,tok=intl)" in metrics.UNIT_INTERVAL and "bleu(tok=intl)" in metrics.NEEDS_REFERENCE
    s = metrics.score("The runners were running.", ["A runner runs."], ms)
    assert set(s) == set(ms.names)
    for bad, msg in [("bleu(tok=klingon)", "bad value"), ("bleu(smooth)", "not NAME=VALUE"),
                     ("bleu(tok=intl", "parentheses"), ("rouge1(stemm=yes)", "unknown option")]:
        with pytest.raises(UserError, match=msg):
            metrics.parse_metrics([bad])


@pytest.mark.parametrize("options, kwargs", [
    ({"tok": "intl"}, {"tokenize": "intl"}), ({"tok": "char"}, {"tokenize": "char"}),
    ({"tok": "none"}, {"tokenize": "none"}), ({"smooth": "none"}, {"smooth_method": "none"}),
    ({"smooth": "floor", "smooth_value": 0.2}, {"smooth_method": "floor", "smooth_value": 0.2}),
    ({"smooth": "add-k", "smooth_value": 2}, {"smooth_method": "add-k", "smooth_value": 2}),
    ({"lowercase": True}, {"lowercase": True}), ({"max_ngram_order": 2}, {"max_ngram_order": 2}),
    ({"eff": False}, {"effective_order": False})])
def test_bleu_options_equal_sacrebleu(options, kwargs):
    ref = sacrebleu.metrics.BLEU(**{"effective_order": True, **kwargs})
    for p, r in [*EN, ("The Cat SAT.", "the cat sat."), ("a", "a b c d e")]:
        assert overlap.bleu(p, [r], "en", **options) == pytest.approx(ref.sentence_score(p, [r]).score / 100, abs=1e-12)


def test_ja_mecab_tokenizer():
    pytest.importorskip("MeCab")
    ref = sacrebleu.metrics.BLEU(tokenize="ja-mecab", effective_order=True)
    p, r = "今日は良い天気ですね", "今日はいい天気です"
    assert overlap.bleu(p, [r], "en", tok="ja-mecab") == pytest.approx(ref.sentence_score(p, [r]).score / 100)


@pytest.mark.parametrize("options", [{"word_order": 2}, {"lowercase": True}, {"whitespace": True},
                                     {"char_order": 4, "beta": 1}])
def test_chrf_options_equal_sacrebleu(options):
    ref = sacrebleu.metrics.CHRF(**options)
    pairs = [(p, [r]) for p, r in EN]
    assert overlap.chrf_many(pairs, **options) == pytest.approx(
        [ref.sentence_score(p, r).score / 100 for p, r in pairs], abs=1e-12)


def test_rouge_precision_recall_stemming_and_lsum_equal_rouge_score():
    types = ["rouge1", "rouge2", "rougeL", "rougeLsum"]
    for stem in (False, True):
        ref = rouge_scorer.RougeScorer(types, use_stemmer=stem)
        for p, r in [*EN, ("the runners were running.\nthey ran fast", "a runner runs\nthey were running fast")]:
            want = ref.score(r, p)
            got = rouge.scores(p, [r], stem)
            for t in types[:3]:
                assert got[t] == pytest.approx(tuple(want[t]), abs=1e-12)
            assert rouge.lsum_scores(p, [r], stem) == pytest.approx(tuple(want["rougeLsum"]), abs=1e-12)
    ms = metrics.parse_metrics(["rouge1_p,rouge1_r,rougeL_r,rougeLsum,rougeLsum_p"])
    s = metrics.score("a b c d", ["a b x"], ms)
    assert s == pytest.approx({"rouge1_p": 0.5, "rouge1_r": 2 / 3, "rougeL_r": 2 / 3, "rougeLsum": 4 / 7,
                               "rougeLsum_p": 0.5})


def test_rouge_lsum_splits_chinese_sentences_with_split_punct():
    assert rouge.sentences("你好。再见！ok. next", "punct") == ["你好。", "再见！", "ok.", "next"]
    assert rouge.sentences("你好。再见", "newline") == ["你好。再见"]


def test_corpus_bleu_and_chrf_equal_sacrebleu_with_a_bootstrap_interval():
    hyps = [p for p, _ in EN]
    refs = [[r] for _, r in EN]
    b = corpus.corpus_score("bleu", hyps, refs, "en", {"eff": False})
    assert b.value == pytest.approx(sacrebleu.corpus_bleu(hyps, [[r for _, r in EN]]).score / 100, abs=1e-12)
    assert b.low <= b.value <= b.high and b.n == len(EN) and b.high > b.low
    c = corpus.corpus_score("chrf", hyps, refs, "en")
    assert c.value == pytest.approx(sacrebleu.corpus_chrf(hyps, [[r for _, r in EN]]).score / 100, abs=1e-12)
    assert corpus.corpus_score("bleu", ["x"], [[]], "en") is None


def test_score_command_corpus_metrics_and_output_to_stdout(tmp_path, cli):
    r = cli("score", _mixed_file(tmp_path), "--metrics", "bleu,corpus_bleu,corpus_chrf", "-o", "-")
    assert r.code == 0, r.err
    rows = [json.loads(line) for line in r.out.splitlines()]
    assert len(rows) == 10 and "bleu" in rows[0] and "corpus_bleu" not in rows[0]
    assert "corpus_bleu" in r.err and "corpus_chrf" in r.err  # the summary goes to stderr when rows use stdout
    assert not (tmp_path / "-").exists()
    out = tmp_path / "rows.csv"
    assert cli("score", _mixed_file(tmp_path), "--metrics", "bleu", "-o", out).code == 0
    assert out.read_text(encoding="utf-8").splitlines()[0] == "row,bleu,tok"
