"""ROUGE-1/2/L and ROUGE-Lsum: precision, recall and F-measure as rouge-score 0.1.2 defines them.

Computed here rather than by calling rouge-score: importing rouge_score.rouge_scorer pulls in nltk and
scipy.stats (1.2 s of a 1-row eval), its tokenizer deletes every non-ASCII character (Chinese scores 0),
and its ROUGE-L fills an n x m table in pure Python (10k tokens: ~20 s, ~800 MB).

- Tokens: lowercase; each CJK character (workbench.authoring.scripts, by Unicode script) is one token;
  other letter/digit runs are words. On ASCII text this is rouge-score's tokenizer.
- Stemming (`stem=yes`): nltk's Porter stemmer on tokens longer than 3 characters, as rouge-score does.
- Several references: per ROUGE type, the scores of the reference with the best F-measure (rouge-score's
  score_multi; the first on ties).
- ROUGE-L is exact at any length: a bit-parallel LCS (Hyyro 2004) over blocks of LCS_BLOCK tokens of
  the longer text, carries kept per token of the shorter one. Memory: at most LCS_BLOCK**2 / 16 bytes of
  match masks (16 MiB) plus one byte per token; time ~ n * m / 64 word operations (25,000 x 25,000 tokens:
  well under a second).
- ROUGE-Lsum: texts split into sentences at newlines (rouge-score's rule; `split=punct` also splits after
  . ! ? followed by a space and after 。！？), union LCS per reference sentence with rouge-score's table and
  backtrack; a sentence pair over LSUM_MAX_CELLS table cells gets no score (None), never a different one.
"""

from __future__ import annotations

import functools
import re
from collections import Counter

from workbench.authoring.scripts import CJK_CLASS

LCS_BLOCK = 16_384
LSUM_MAX_CELLS = 4_000_000
TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")
_ASCII_TOKEN = re.compile(r"[a-z0-9]+")  # the same tokens on ASCII text, ~2x faster than the class below
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])")


class CJKTokenizer:
    """rouge-score's tokenizer, CJK-aware: lowercase; CJK characters one by one; other letters and digits as words."""

    def __init__(self, stem: bool = False):
        self.stem = stem

    def tokenize(self, text: str) -> list[str]:
        text = text.lower()
        tokens = _ASCII_TOKEN.findall(text) if text.isascii() else _token_pattern().findall(text)
        if self.stem:
            stem = _stem
            tokens = [stem(t) if len(t) > 3 else t for t in tokens]
        return tokens


@functools.cache
def _token_pattern() -> re.Pattern:
    """CJK characters one by one, other letter/digit runs as words: compiled on first use (~15 ms, which every
    scoring worker paid at start-up though English text never needs it)."""
    return re.compile(f"[{CJK_CLASS}]|[^\\W_{CJK_CLASS}]+")


@functools.lru_cache(maxsize=65536)
def _stem(token: str) -> str:
    return _stemmer().stem(token)


@functools.lru_cache(maxsize=1)
def _stemmer():
    from nltk.stem import porter  # ~0.5 s: only when stemming is asked for

    return porter.PorterStemmer()  # what rouge-score 0.1.2's DefaultTokenizer(use_stemmer=True) uses


def empty_rule(prediction: str, references: list[str]) -> float | None:
    """Our rule for empty texts (both libraries give 0 for empty-vs-empty): 1 when all are empty, 0 when one side is."""
    p_empty = not prediction.strip()
    r_empty = all(not r.strip() for r in references)
    if p_empty and r_empty:
        return 1.0
    if p_empty or r_empty:
        return 0.0
    return None


def fmeasure(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


def _prf(overlap: int, n_pred: int, n_target: int) -> tuple[float, float, float]:
    precision = overlap / max(n_pred, 1)
    recall = overlap / max(n_target, 1)
    return precision, recall, fmeasure(precision, recall)


def word_ngrams(tokens: list[str], n: int) -> list[tuple[str, ...]]:
    return list(zip(*[tokens[i:] for i in range(n)]))


def matches(h: list, r: list) -> int:
    """Size of the multiset intersection: the sum over n-grams of min(count in h, count in r)."""
    ch, cr = Counter(h), Counter(r)
    common = ch.keys() & cr.keys()
    if len(ch) == len(h) or len(cr) == len(r):  # one side has no repeats: each common n-gram counts once
        return len(common)
    return sum(map(min, map(ch.__getitem__, common), map(cr.__getitem__, common)))


def _ngram_prf(pred: list[str], target: list[str], n: int) -> tuple[float, float, float]:
    p, t = word_ngrams(pred, n), word_ngrams(target, n)
    return _prf(matches(p, t), len(p), len(t))


def lcs_length(a: list, b: list, block: int = LCS_BLOCK) -> int:
    """Length of the longest common subsequence, exact at any length: Hyyro's bit-parallel recurrence
    V' = (V + (V & M)) | (V & ~M) over `block`-bit slices of the longer text, the addition's carry
    handed from one slice to the next per token of the shorter text (one byte each)."""
    if len(a) > len(b):
        a, b = b, a
    if not a:
        return 0
    if len(b) <= block:
        return _lcs_one_block(a, b)
    wanted = set(a)
    carries = bytearray(len(a))
    ones = 0
    for start in range(0, len(b), block):
        part = b[start:start + block]
        masks: dict = {}
        for i, token in enumerate(part):
            if token in wanted:
                masks[token] = masks.get(token, 0) | (1 << i)
        width = len(part)
        full = (1 << width) - 1
        row = full
        get = masks.get
        for k, token in enumerate(a):
            match = get(token, 0)
            carry = carries[k]
            if match or carry:
                u = row & match
                total = row + u + carry
                carries[k] = total >> width
                row = (total | (row - u)) & full
        ones += row.bit_count()
    return len(b) - ones


def _lcs_one_block(a: list, b: list) -> int:
    """lcs_length when b fits in one block: no carries to hand on (the common case, kept lean)."""
    masks: dict = {}
    for i, token in enumerate(b):
        masks[token] = masks.get(token, 0) | (1 << i)
    full = (1 << len(b)) - 1
    row = full
    get = masks.get
    for token in a:
        match = get(token)
        if match:
            u = row & match
            row = ((row + u) | (row - u)) & full
    return len(b) - row.bit_count()


def _lcs_prf(pred: list[str], target: list[str]) -> tuple[float, float, float]:
    if not pred or not target:
        return 0.0, 0.0, 0.0
    return _prf(lcs_length(pred, target), len(pred), len(target))


def pair_scores(pred: list[str], target: list[str]) -> dict[str, tuple[float, float, float]]:
    """ROUGE-1/2/L (precision, recall, F) of one tokenized pair."""
    return {"rouge1": _ngram_prf(pred, target, 1), "rouge2": _ngram_prf(pred, target, 2),
            "rougeL": _lcs_prf(pred, target)}


def scores(prediction: str, references: list[str], stem: bool = False) -> dict[str, tuple[float, float, float]]:
    """ROUGE-1/2/L (precision, recall, F) of a prediction, per type the reference with the best F."""
    rule = empty_rule(prediction, references)
    if rule is not None:
        return {t: (rule, rule, rule) for t in TYPES[:3]}
    tok = CJKTokenizer(stem)
    pred = tok.tokenize(prediction)
    best: dict[str, tuple[float, float, float]] = {}
    for ref in references:
        for k, v in pair_scores(pred, tok.tokenize(ref)).items():
            if k not in best or v[2] > best[k][2]:
                best[k] = v
    return best


def scores_many(pairs: list[tuple[str, list[str]]], stem: bool = False) -> list[dict[str, tuple[float, float, float]]]:
    """scores() of each (prediction, references): pairs with one reference have their ROUGE-1/2 overlaps
    counted in NumPy batches (metrics.charstats), the same integers, so the same values."""
    from workbench.metrics.charstats import BATCH, MIN_BATCH, token_ngram_matches

    out: list[dict[str, tuple[float, float, float]]] = [{}] * len(pairs)
    todo = []  # (row, prediction tokens, reference tokens)
    tokenize = CJKTokenizer(stem).tokenize
    for i, (prediction, references) in enumerate(pairs):
        if len(references) != 1 or empty_rule(prediction, references) is not None:
            out[i] = scores(prediction, references, stem)
        else:
            todo.append((i, tokenize(prediction), tokenize(references[0])))
    for start in range(0, len(todo), BATCH):
        part = todo[start:start + BATCH]
        counted = token_ngram_matches([t[1] for t in part], [t[2] for t in part], 2) if len(part) >= MIN_BATCH else None
        for k, (i, pred, target) in enumerate(part):
            if counted is None:
                out[i] = pair_scores(pred, target)
                continue
            n_pred, n_target = len(pred), len(target)
            out[i] = {"rouge1": _prf(counted[k][0], n_pred, n_target),
                      "rouge2": _prf(counted[k][1], max(n_pred - 1, 0), max(n_target - 1, 0)),
                      "rougeL": _lcs_prf(pred, target)}
    return out


def sentences(text: str, split: str = "newline") -> list[str]:
    """rouge-score's rougeLsum split: lines, empty ones dropped; `punct` also splits after sentence ends."""
    lines = [x for x in text.split("\n") if x]
    if split == "punct":
        lines = [s for line in lines for s in _SENTENCE_END.split(line) if s]
    return lines


def lsum_scores(prediction: str, references: list[str], stem: bool = False,
                split: str = "newline") -> tuple[float, float, float] | None:
    """ROUGE-Lsum (precision, recall, F), the reference with the best F; None when a table would be too big."""
    rule = empty_rule(prediction, references)
    if rule is not None:
        return rule, rule, rule
    tok = CJKTokenizer(stem)
    can = [tok.tokenize(s) for s in sentences(prediction, split)]
    best = None
    for ref in references:
        value = _summary_level_lcs([tok.tokenize(s) for s in sentences(ref, split)], can)
        if value is None:
            return None
        if best is None or value[2] > best[2]:
            best = value
    return best


def _summary_level_lcs(ref_sent: list[list[str]], can_sent: list[list[str]]) -> tuple[float, float, float] | None:
    """rouge_score.rouge_scorer._summary_level_lcs, step by step."""
    if not ref_sent or not can_sent:
        return 0.0, 0.0, 0.0
    m, n = sum(map(len, ref_sent)), sum(map(len, can_sent))
    if not n or not m:
        return 0.0, 0.0, 0.0
    if any(len(r) * len(c) > LSUM_MAX_CELLS for r in ref_sent for c in can_sent):
        return None
    cnt_r, cnt_c = Counter(), Counter()
    for s in ref_sent:
        cnt_r.update(s)
    for s in can_sent:
        cnt_c.update(s)
    hits = 0
    for r in ref_sent:
        union = sorted(set().union(*(_lcs_indices(r, c) for c in can_sent)))
        for t in (r[i] for i in union):  # rouge-score counts each token at most as often as both sides have it
            if cnt_c[t] > 0 and cnt_r[t] > 0:
                hits += 1
                cnt_c[t] -= 1
                cnt_r[t] -= 1
    return _prf(hits, n, m)


def _lcs_indices(ref: list[str], can: list[str]) -> list[int]:
    """Indices into ref of one LCS, as rouge-score's _lcs_table + _backtrack_norec choose it."""
    rows, cols = len(ref), len(can)
    table = [[0] * (cols + 1) for _ in range(rows + 1)]
    for i in range(1, rows + 1):
        above, here, r = table[i - 1], table[i], ref[i - 1]
        for j in range(1, cols + 1):
            here[j] = above[j - 1] + 1 if r == can[j - 1] else max(above[j], here[j - 1])
    i, j, out = rows, cols, []
    while i > 0 and j > 0:
        if ref[i - 1] == can[j - 1]:
            out.append(i - 1)
            i, j = i - 1, j - 1
        elif table[i][j - 1] > table[i - 1][j]:
            j -= 1
        else:
            i -= 1
    return out[::-1]


def rouge(prediction: str, references: list[str], stem: bool = False) -> dict[str, float]:
    """ROUGE-1/2/L F-measure, best over the references (rouge-score's score_multi rule)."""
    return {k: v[2] for k, v in scores(prediction, references, stem).items()}
