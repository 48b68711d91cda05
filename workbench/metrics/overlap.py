"""Reference-overlap metrics: BLEU and chrF (sacrebleu), ROUGE-1/2/L F-measure (rouge-score).

Scale: every value here is in [0, 1] (sacrebleu's 0-100 is divided by 100).
Tokenizers: BLEU uses sacrebleu's `13a` for English and `zh` for Chinese or mixed text; chrF works
on characters and needs none. rouge-score's default tokenizer deletes every non-ASCII character (so
Chinese would score 0); we pass one that keeps each CJK character as a token and letter/digit runs
as words, which equals the default tokenizer on ASCII text.
Empty texts: both libraries score empty-vs-empty as 0. Our rule: if the output and every reference
are empty (after stripping) the score is 1 (they agree); if only one side is empty it is 0.
ROUGE-L is quadratic in pure Python, so each side is cut to ROUGE_L_MAX_TOKENS tokens for it; the
cut is part of the signature.
"""

from __future__ import annotations

import functools
import re

ROUGE_L_MAX_TOKENS = 1000
_TOKEN = re.compile(
    r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af]"  # one CJK char = one token
    r"|[^\W_\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af]+"  # letter/digit runs
)


class CJKTokenizer:
    """rouge-score tokenizer: lowercase; CJK characters one by one; other letters and digits as words."""

    def tokenize(self, text: str) -> list[str]:
        return _TOKEN.findall(text.lower())


def bleu_tokenizer(lang: str) -> str:
    return "zh" if lang == "zh" else "13a"


@functools.lru_cache(maxsize=8)
def _bleu(tokenize: str):
    from sacrebleu.metrics import BLEU

    return BLEU(tokenize=tokenize, effective_order=True)


@functools.lru_cache(maxsize=1)
def _chrf():
    from sacrebleu.metrics import CHRF

    return CHRF()


@functools.lru_cache(maxsize=1)
def _rouge():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], tokenizer=CJKTokenizer())


def _empty_rule(prediction: str, references: list[str]) -> float | None:
    p_empty = not prediction.strip()
    r_empty = all(not r.strip() for r in references)
    if p_empty and r_empty:
        return 1.0
    if p_empty or r_empty:
        return 0.0
    return None


def bleu(prediction: str, references: list[str], lang: str = "en") -> float:
    rule = _empty_rule(prediction, references)
    if rule is not None:
        return rule
    return _bleu(bleu_tokenizer(lang)).sentence_score(prediction, references).score / 100.0


def chrf(prediction: str, references: list[str], lang: str = "en") -> float:
    rule = _empty_rule(prediction, references)
    if rule is not None:
        return rule
    return _chrf().sentence_score(prediction, references).score / 100.0


def rouge(prediction: str, references: list[str]) -> dict[str, float]:
    """ROUGE-1/2/L F-measure, best over the references (rouge-score's score_multi rule)."""
    rule = _empty_rule(prediction, references)
    if rule is not None:
        return {"rouge1": rule, "rouge2": rule, "rougeL": rule}
    best = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    for ref in references:
        for k, v in _rouge_pair(ref, prediction).items():
            best[k] = max(best[k], v)
    return best


def _rouge_pair(ref: str, pred: str) -> dict[str, float]:
    if len(ref) <= ROUGE_L_MAX_TOKENS and len(pred) <= ROUGE_L_MAX_TOKENS:  # fewer chars than the bound: no cut
        return {k: s.fmeasure for k, s in _rouge().score(ref, pred).items()}
    (ref_l, cut_r), (pred_l, cut_p) = _cut(ref), _cut(pred)
    if not (cut_r or cut_p):
        return {k: s.fmeasure for k, s in _rouge().score(ref, pred).items()}
    out = {k: s.fmeasure for k, s in _rouge_12_only().score(ref, pred).items()}
    out["rougeL"] = _rouge_l_only().score(ref_l, pred_l)["rougeL"].fmeasure
    return out


@functools.lru_cache(maxsize=1)
def _rouge_l_only():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], tokenizer=CJKTokenizer())


@functools.lru_cache(maxsize=1)
def _rouge_12_only():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rouge1", "rouge2"], tokenizer=CJKTokenizer())


def _cut(text: str) -> tuple[str, bool]:
    tokens = CJKTokenizer().tokenize(text)
    if len(tokens) <= ROUGE_L_MAX_TOKENS:
        return text, False
    return " ".join(tokens[:ROUGE_L_MAX_TOKENS]), True


def signature(metric: str, lang: str) -> str:
    if metric in ("bleu", "chrf"):
        m = _bleu(bleu_tokenizer(lang)) if metric == "bleu" else _chrf()
        m.sentence_score("a", ["a"])  # sacrebleu fills the signature's nrefs on first use
        return f"sacrebleu:{m.get_signature()}|scale:0-1"
    from importlib.metadata import version

    cut = f"|max_tokens:{ROUGE_L_MAX_TOKENS}" if metric == "rougeL" else ""
    return f"rouge-score:{version('rouge-score')}|{metric}|f-measure|tok:cjk-char+word|stem:no{cut}|scale:0-1"
