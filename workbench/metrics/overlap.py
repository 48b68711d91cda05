"""Reference-overlap metrics: BLEU and chrF (sacrebleu), ROUGE-1/2/L F-measure (rouge-score's definition).

Scale: every value here is in [0, 1] (sacrebleu's 0-100 is divided by 100).
Tokenizers: BLEU uses sacrebleu's `13a` for English and `zh` for Chinese or mixed text; chrF works
on characters and needs none. rouge-score's default tokenizer deletes every non-ASCII character (so
Chinese would score 0); we pass one that keeps each CJK character as a token and letter/digit runs
as words, which equals the default tokenizer on ASCII text.
Empty texts: both libraries score empty-vs-empty as 0. Our rule: if the output and every reference
are empty (after stripping) the score is 1 (they agree); if only one side is empty it is 0.
ROUGE is computed here, not by calling rouge-score, for two measured reasons: importing
rouge_score.rouge_scorer pulls in nltk and scipy.stats (1.2 s of a 1-row eval), and its ROUGE-L
fills an n x m table in pure Python (10k tokens: ~20 s, ~800 MB). We use the same tokens, n-gram
counts and F-measure, and an exact bit-parallel LCS (Hyyro 2004) that needs O(n * m / 64) word
operations and no table. tests/test_metrics.py checks equality with rouge-score. Each side is still
cut to ROUGE_MAX_TOKENS tokens for ROUGE-L as a bound on pathological outputs; the cut is in the signature.
"""

from __future__ import annotations

import functools
import re
from collections import Counter

ROUGE_L_MAX_TOKENS = 20_000
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
    tok = CJKTokenizer()
    pred = tok.tokenize(prediction)
    best = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    for ref in references:
        target = tok.tokenize(ref)
        for k, v in rouge_tokens(pred, target).items():
            best[k] = max(best[k], v)
    return best


def rouge_tokens(pred: list[str], target: list[str]) -> dict[str, float]:
    return {
        "rouge1": _ngram_f(pred, target, 1),
        "rouge2": _ngram_f(pred, target, 2),
        "rougeL": _lcs_f(pred[:ROUGE_L_MAX_TOKENS], target[:ROUGE_L_MAX_TOKENS]),
    }


def _f(overlap: int, n_pred: int, n_target: int) -> float:
    """rouge_score.scoring.fmeasure of precision overlap/n_pred and recall overlap/n_target."""
    precision = overlap / max(n_pred, 1)
    recall = overlap / max(n_target, 1)
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


def _ngram_f(pred: list[str], target: list[str], n: int) -> float:
    p = Counter(tuple(pred[i:i + n]) for i in range(len(pred) - n + 1))
    t = Counter(tuple(target[i:i + n]) for i in range(len(target) - n + 1))
    overlap = sum(min(c, t[g]) for g, c in p.items() if g in t)
    return _f(overlap, sum(p.values()), sum(t.values()))


def lcs_length(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence, bit-parallel over b (Hyyro's formulation)."""
    if not a or not b:
        return 0
    masks: dict[str, int] = {}
    for i, token in enumerate(b):
        masks[token] = masks.get(token, 0) | (1 << i)
    full = (1 << len(b)) - 1
    row = full
    for token in a:
        match = masks.get(token)
        if match:
            u = row & match
            row = ((row + u) | (row - u)) & full
    return len(b) - row.bit_count()


def _lcs_f(pred: list[str], target: list[str]) -> float:
    if not pred or not target:
        return 0.0
    return _f(lcs_length(pred, target), len(pred), len(target))


def signature(metric: str, lang: str) -> str:
    if metric in ("bleu", "chrf"):
        m = _bleu(bleu_tokenizer(lang)) if metric == "bleu" else _chrf()
        m.sentence_score("a", ["a"])  # sacrebleu fills the signature's nrefs on first use
        return f"sacrebleu:{m.get_signature()}|scale:0-1"
    from importlib.metadata import version

    cut = f"|max_tokens:{ROUGE_L_MAX_TOKENS}" if metric == "rougeL" else ""
    return (f"rouge:workbench={version('workbench')},as-rouge-score-0.1.2|{metric}|f-measure|tok:cjk-char+word"
            f"|stem:no{cut}|scale:0-1")
