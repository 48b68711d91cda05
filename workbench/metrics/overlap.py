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
import operator
import re
from collections import Counter

ROUGE_L_MAX_TOKENS = 20_000
MIN_CHRF_BATCH = 8  # chrf_many counts in NumPy from this many single-reference pairs
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
    """sacrebleu's sentence BLEU: its tokenizer and its scoring code, n-gram matches counted faster."""
    rule = _empty_rule(prediction, references)
    if rule is not None:
        return rule
    m = _bleu(bleu_tokenizer(lang))
    if len(references) != 1:  # several references: sacrebleu merges their counts; let it
        return m.sentence_score(prediction, references).score / 100.0
    if m.tokenizer.signature() == "13a" and not m.lowercase:
        hyp, ref = _tokenize_13a(prediction.rstrip()).split(), _tokenize_13a(references[0].rstrip()).split()
    else:
        hyp = m._preprocess_segment(prediction).split()
        ref = m._preprocess_segment(references[0]).split()
    order = m.max_ngram_order
    correct, total = [0] * order, [0] * order
    for n in range(1, order + 1):
        h = _word_ngrams(hyp, n)
        total[n - 1] = len(h)
        correct[n - 1] = _matches(h, _word_ngrams(ref, n)) if h else 0
    return m._compute_score_from_stats([len(hyp), len(ref)] + correct + total).score / 100.0


def chrf(prediction: str, references: list[str], lang: str = "en") -> float:
    """sacrebleu's sentence chrF: the same character n-gram statistics, handed to its own F formula."""
    rule = _empty_rule(prediction, references)
    if rule is not None:
        return rule
    m = _chrf()
    if m.word_order or m.whitespace or m.lowercase:  # not the configuration below: let sacrebleu do it
        return m.sentence_score(prediction, references).score / 100.0
    hyp_grams = _char_ngrams("".join(prediction.split()), m.char_order)
    best_stats: list[int] = []
    best_f = -1.0
    for ref in references:  # sacrebleu's rule: the statistics of the reference with the best F
        stats: list[int] = []
        for h, g in zip(hyp_grams, _char_ngrams("".join(ref.split()), m.char_order)):
            stats += [len(h) if g else 0, len(g), _matches(h, g) if g and h else 0]
        f = m._compute_f_score(stats)
        if f > best_f:
            best_f, best_stats = f, stats
    return m._compute_score_from_stats(best_stats).score / 100.0


def chrf_many(pairs: list[tuple[str, list[str]]]) -> list[float]:
    """chrf() of each (prediction, references): pairs with one reference have their n-gram statistics
    counted in NumPy batches (metrics.charstats), the same integers, so the same values."""
    from workbench.metrics.charstats import BATCH, char_ngram_stats

    m = _chrf()
    out: list[float | None] = [None] * len(pairs)
    batch = []
    standard = not (m.word_order or m.whitespace or m.lowercase)
    for i, (prediction, references) in enumerate(pairs):
        if standard and len(references) == 1 and _empty_rule(prediction, references) is None:
            batch.append(i)
        else:
            out[i] = chrf(prediction, references)
    few = len(batch) < MIN_CHRF_BATCH  # NumPy's per-call costs would outweigh what it saves
    for start in range(0, len(batch), BATCH):
        part = batch[start:start + BATCH]
        stats = None if few else char_ngram_stats(["".join(pairs[i][0].split()) for i in part],
                                                   ["".join(pairs[i][1][0].split()) for i in part], m.char_order)
        for k, i in enumerate(part):
            out[i] = chrf(*pairs[i]) if stats is None else m._compute_score_from_stats(stats[k]).score / 100.0
    return out


@functools.lru_cache(maxsize=1)
def _13a_parts():
    """sacrebleu's own 13a regexes; the first (pad every listed punctuation character with spaces) is
    applied as a str.translate table built from that regex, which gives the same string ~5x faster."""
    from sacrebleu.tokenizers.tokenizer_re import TokenizerRegexp

    rules = TokenizerRegexp()._re
    first, repl = rules[0]
    assert repl == r" \1 " and [(rx.pattern, r) for rx, r in rules[1:]] == [  # what the rewrite below assumes
        (r"([^0-9])([\.,])", r"\1 \2 "), (r"([\.,])([^0-9])", r" \1 \2"), (r"([0-9])(-)", r"\1 \2 ")]
    table = str.maketrans({c: f" {c} " for c in map(chr, range(0x3000)) if first.fullmatch(c)})
    return table, rules[1:]


# sacrebleu's other three 13a rules, ([^0-9])([.,]) -> '\1 \2 ', ([.,])([^0-9]) -> ' \1 \2' and
# ([0-9])(-) -> '\1 \2 ', written to pad just the period, comma or dash: the same string as long as no
# two of [.,] touch (then one match could swallow the next one's first character, and sacrebleu's own
# rules are used), and the regex engine can skip straight to a candidate character (~2x faster).
_PERIOD_AFTER_NON_DIGIT = re.compile(r"[.,](?<=[^0-9][.,])")
_PERIOD_BEFORE_NON_DIGIT = re.compile(r"[.,](?=[^0-9])")
_DASH_AFTER_DIGIT = re.compile(r"-(?<=[0-9]-)")
_TOUCHING_PERIODS = re.compile(r"[.,][.,]")


def _pad(m: re.Match) -> str:
    return f" {m[0]} "


@functools.lru_cache(maxsize=4096)  # references repeat (one answer per intent)
def _tokenize_13a(line: str) -> str:
    """sacrebleu's Tokenizer13a (its __call__ followed by TokenizerRegexp), step by step."""
    table, rules = _13a_parts()
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:
        line = line.replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    line = f" {line} ".translate(table)
    if "." in line or "," in line:
        if _TOUCHING_PERIODS.search(line):
            for rx, repl in rules[:2]:
                line = rx.sub(repl, line)
        else:
            line = _PERIOD_BEFORE_NON_DIGIT.sub(_pad, _PERIOD_AFTER_NON_DIGIT.sub(_pad, line))
    if "-" in line:
        line = _DASH_AFTER_DIGIT.sub(_pad, line)
    return " ".join(line.split())


def _word_ngrams(tokens: list[str], n: int) -> list[tuple[str, ...]]:
    return list(zip(*[tokens[i:] for i in range(n)]))


def _char_ngrams(line: str, max_order: int) -> list[list[str]]:
    """Character n-grams of orders 1..max_order, each order built from the one below (map runs in C)."""
    out = [list(line)]
    for n in range(2, max_order + 1):
        out.append(list(map(operator.add, out[-1], line[n - 1:])))
    return out


def _matches(h: list, r: list) -> int:
    """Size of the multiset intersection: the sum over n-grams of min(count in h, count in r)."""
    ch, cr = Counter(h), Counter(r)
    common = ch.keys() & cr.keys()
    if len(ch) == len(h) or len(cr) == len(r):  # one side has no repeats: each common n-gram counts once
        return len(common)
    return sum(map(min, map(ch.__getitem__, common), map(cr.__getitem__, common)))


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
    p, t = _word_ngrams(pred, n), _word_ngrams(target, n)
    return _f(_matches(p, t), len(p), len(t))


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


# sacrebleu's signature for the metric objects above, with its version filled in at run time: written
# out so a run that needs no BLEU or chrF computed here (scored in workers, or served from the cache)
# does not import sacrebleu (~0.1 s); tests/test_metrics.py checks it against sacrebleu's own.
SACREBLEU_SIGNATURES = {
    "bleu": "nrefs:1|case:mixed|eff:yes|tok:{tok}|smooth:exp|version:{version}",
    "chrf": "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:{version}",
}


def signature(metric: str, lang: str) -> str:
    from workbench.versions import version

    if metric in SACREBLEU_SIGNATURES:
        sig = SACREBLEU_SIGNATURES[metric].format(tok=bleu_tokenizer(lang), version=version("sacrebleu"))
        return f"sacrebleu:{sig}|scale:0-1"
    cut = f"|max_tokens:{ROUGE_L_MAX_TOKENS}" if metric == "rougeL" else ""
    return (f"rouge:workbench={version('workbench')},as-rouge-score-0.1.2|{metric}|f-measure|tok:cjk-char+word"
            f"|stem:no{cut}|scale:0-1")


def sacrebleu_signature(metric: str, lang: str) -> str:
    """The signature as sacrebleu itself writes it for our BLEU or chrF object (what SACREBLEU_SIGNATURES must equal)."""
    m = _bleu(bleu_tokenizer(lang)) if metric == "bleu" else _chrf()
    m.sentence_score("a", ["a"])  # sacrebleu fills the signature's nrefs on first use
    return f"sacrebleu:{m.get_signature()}|scale:0-1"
