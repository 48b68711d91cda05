"""`semsim`: English rows against sentence-transformers' own cosine on all-MiniLM-L6-v2 (from its wheel);
the Chinese character n-gram fallback against values computed by hand; languages per row; the empty rule."""

from __future__ import annotations

import json

import pytest

from workbench import metrics
from workbench.metrics import semsim

EN = [("Refunds take five business days.", "Your money is returned within five working days."),
      ("Reset your password from the login page.", "Use 'Forgot password' on the sign-in screen."),
      ("We ship to Canada.", "Orders can be delivered to Canadian addresses."),
      ("The cat sat on the mat.", "Refunds take five business days.")]


def test_chinese_fallback_by_hand():
    # 退款五天: 退 款 五 天 + 退款 款五 五天; 退款三天: 退 款 三 天 + 退款 款三 三天.
    # shared: 退 款 天 退款 -> dot 4; each vector has 7 ones -> 4 / 7
    assert semsim.char_cosine("退款五天", "退款三天") == pytest.approx(4 / 7)
    # punctuation and spaces are dropped; counts matter: 好好 = {好: 2, 好好: 1}, 好 = {好: 1} -> 2 / sqrt(5)
    assert semsim.char_cosine("好，好！", "好") == pytest.approx(2 / 5 ** 0.5)
    assert semsim.char_cosine("退款", "发货") == 0.0
    ms = metrics.parse_metrics("semsim")
    assert metrics.score("退款五天", ["退款三天", "发货"], ms, lang="zh") == {"semsim": pytest.approx(4 / 7)}


def test_empty_rule():
    ms = metrics.parse_metrics("semsim")
    assert metrics.score("", [""], ms, lang="zh") == {"semsim": 1.0}
    assert metrics.score("  ", ["x"], ms, lang="en") == {"semsim": 0.0}
    assert metrics.score("退款", ["  "], ms, lang="zh") == {"semsim": 0.0}


@pytest.mark.slow
def test_english_equals_sentence_transformers_cosine(tmp_path, monkeypatch):
    from sentence_transformers import SentenceTransformer, util

    from workbench.metrics.embeddings import model_dir

    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))  # unpacked from the wheel, not downloaded
    ms = metrics.parse_metrics("semsim")
    got = ms.score_batch([p for p, _ in EN], [[r] for _, r in EN], "en")
    reference = SentenceTransformer(str(model_dir()), device="cpu")
    for (p, r), values in zip(EN, got):
        a, b = reference.encode([p, r], convert_to_tensor=True)
        assert values["semsim"] == pytest.approx(max(0.0, float(util.cos_sim(a, b))), abs=1e-5)
    paraphrase, unrelated = got[0]["semsim"], got[3]["semsim"]
    assert paraphrase > 0.5 > unrelated  # meaning, not shared words
    # several references: the best one counts
    two = metrics.score(EN[0][0], [EN[3][0], EN[0][1]], ms, lang="en")
    assert two["semsim"] == pytest.approx(paraphrase, abs=1e-5)
    # auto: each row by its references' language; the Chinese row gets the fallback's value
    mixed = ms.score_batch([EN[0][0], "退款五天"], [[EN[0][1]], ["退款三天"]], "auto")
    assert mixed[0]["semsim"] == pytest.approx(paraphrase, abs=1e-5)
    assert mixed[1]["semsim"] == pytest.approx(4 / 7)


def test_signature_says_which_model_and_which_fallback():
    sig = metrics.parse_metrics("semsim").signatures("auto")["semsim"]
    assert "en:all-MiniLM-L6-v2" in sig and "zh:char-ngram(1-2)" in sig and sig.endswith("scale:0-1")
    zh = metrics.parse_metrics("semsim(lang=zh)")
    assert zh.names == ("semsim(lang=zh)",) and "all-MiniLM" not in zh.signatures("en")["semsim(lang=zh)"]


def test_score_command_scores_semsim_per_row(cli, tmp_path):
    data = tmp_path / "pairs.jsonl"
    data.write_text("\n".join(json.dumps({"prediction": p, "reference": r}, ensure_ascii=False)
                              for p, r in [("退款五天", "退款三天"), ("发货", "退款")]) + "\n", encoding="utf-8")
    r = cli("score", data, "--metrics", "semsim", "--json")
    assert r.code == 0, r.err
    rows = [json.loads(line) for line in r.out.splitlines()]
    assert [row["semsim"] for row in rows] == pytest.approx([4 / 7, 0.0])
