"""BLEU and chrF: sacrebleu's tokenizers and score formulas, our counting (the same integers, so the same values).

Scale: every value here is in [0, 1] (sacrebleu's 0-100 is divided by 100).
Tokenizers: `--lang en` forces sacrebleu's `13a`, `--lang zh` its `zh`; under `auto` each row gets its
own: `zh` when CJK characters (by Unicode script, workbench.authoring.scripts) are at least a fifth of the
letters of its references, else `13a` (workbench.authoring.datasets.row_lang). A metric option `tok=` (13a, zh, intl, char,
none, ja-mecab, auto) overrides the language. chrF works on characters and needs none.
Empty texts: both libraries score empty-vs-empty as 0. Our rule: if the output and every reference
are empty (after stripping) the score is 1 (they agree); if only one side is empty it is 0.
ROUGE lives in rouge.py.
"""

from __future__ import annotations

import functools
import operator
import re
from collections import Counter
from typing import Any

from workbench.authoring.datasets import row_lang
from workbench.metrics.rouge import empty_rule, matches, word_ngrams

MIN_CHRF_BATCH = 8  # chrf_many counts in NumPy from this many single-reference pairs
TOKENIZERS = ("13a", "zh", "intl", "char", "none", "ja-mecab", "auto")
SMOOTHINGS = ("exp", "none", "floor", "add-k")
BLEU_DEFAULTS: dict[str, Any] = {"tok": None, "smooth": "exp", "smooth_value": None, "lowercase": False,
                                 "max_ngram_order": 4, "eff": True}
CHRF_DEFAULTS: dict[str, Any] = {"char_order": 6, "word_order": 0, "beta": 2, "lowercase": False,
                                 "whitespace": False, "eps_smoothing": False}
def bleu_tokenizer(lang: str, references: list[str] | None = None, tok: str | None = None) -> str:
    """sacrebleu's tokenizer for a row: the `tok` option, else the language (per row under 'auto')."""
    if tok is not None and tok != "auto":
        return tok
    if lang == "auto" or tok == "auto":
        return "zh" if references is not None and row_lang(references) == "zh" else "13a"
    return "zh" if lang == "zh" else "13a"


def row_tokenizers(references_lists: list[list[str]], lang: str, tok: str | None = None) -> Counter:
    """How many rows (with references) each BLEU tokenizer scored: the mix a per-row run used."""
    return Counter(bleu_tokenizer(lang, refs, tok) for refs in references_lists if refs)


@functools.lru_cache(maxsize=32)
def _bleu(tokenize: str = "13a", smooth: str = "exp", smooth_value: float | None = None, lowercase: bool = False,
          max_ngram_order: int = 4, eff: bool = True):
    from sacrebleu.metrics import BLEU

    return BLEU(tokenize=tokenize, smooth_method=smooth, smooth_value=smooth_value, lowercase=lowercase,
                max_ngram_order=max_ngram_order, effective_order=eff)


@functools.lru_cache(maxsize=16)
def _chrf(char_order: int = 6, word_order: int = 0, beta: int = 2, lowercase: bool = False,
          whitespace: bool = False, eps_smoothing: bool = False):
    from sacrebleu.metrics import CHRF

    return CHRF(char_order=char_order, word_order=word_order, beta=beta, lowercase=lowercase,
                whitespace=whitespace, eps_smoothing=eps_smoothing)


def _bleu_for(lang: str, references: list[str] | None, options: dict[str, Any]):
    opts = {**BLEU_DEFAULTS, **options}
    tok = bleu_tokenizer(lang, references, opts.pop("tok"))
    return _bleu(tok, **opts)


def bleu(prediction: str, references: list[str], lang: str = "en", **options: Any) -> float:
    """sacrebleu's sentence BLEU: its tokenizer and its scoring code, n-gram matches counted faster."""
    rule = empty_rule(prediction, references)
    if rule is not None:
        return rule
    m = _bleu_for(lang, references, options)
    if len(references) != 1:  # several references: sacrebleu merges their counts; let it
        return m.sentence_score(prediction, references).score / 100.0
    hyp, ref = _bleu_tokens(m, prediction), _bleu_tokens(m, references[0])
    order = m.max_ngram_order
    correct = [matches(h, word_ngrams(ref, n)) if (h := word_ngrams(hyp, n)) else 0 for n in range(1, order + 1)]
    return _bleu_value(m, hyp, ref, correct)


def bleu_many(pairs: list[tuple[str, list[str]]], lang: str = "en", **options: Any) -> list[float]:
    """bleu() of each (prediction, references): pairs with one reference have their n-gram matches counted
    in NumPy batches (metrics.charstats), the same integers, so the same values."""
    from workbench.metrics.charstats import BATCH, MIN_BATCH, token_ngram_matches

    out: list[float] = [0.0] * len(pairs)
    todo = []  # (row, sacrebleu object, hypothesis tokens, reference tokens)
    objects: dict[str, Any] = {}
    for i, (prediction, references) in enumerate(pairs):
        if len(references) != 1 or empty_rule(prediction, references) is not None:
            out[i] = bleu(prediction, references, lang, **options)
            continue
        tok = bleu_tokenizer(lang, references, options.get("tok"))
        m = objects.get(tok) or objects.setdefault(tok, _bleu_for(lang, references, options))
        todo.append((i, m, _bleu_tokens(m, prediction), _bleu_tokens(m, references[0])))
    order = max((m.max_ngram_order for m in objects.values()), default=4)
    for start in range(0, len(todo), BATCH):
        part = todo[start:start + BATCH]
        counted = None if len(part) < MIN_BATCH else token_ngram_matches([t[2] for t in part],
                                                                                [t[3] for t in part], order)
        for k, (i, m, hyp, ref) in enumerate(part):
            if counted is None:
                out[i] = bleu(*pairs[i], lang, **options)
            else:
                out[i] = _bleu_value(m, hyp, ref, counted[k][:m.max_ngram_order])
    return out


def _bleu_tokens(m, text: str) -> list[str]:
    if m.tokenizer.signature() == "13a" and not m.lowercase:
        return _tokenize_13a(text.rstrip()).split()
    return m._preprocess_segment(text).split()


def _bleu_value(m, hyp: list[str], ref: list[str], correct: list[int]) -> float:
    """sacrebleu's sentence score from the tokens' lengths and the matches per n-gram order."""
    total = [max(len(hyp) - n, 0) for n in range(m.max_ngram_order)]
    return m._compute_score_from_stats([len(hyp), len(ref)] + list(correct) + total).score / 100.0


def _chrf_standard(m) -> bool:
    """Whether our counting below is sacrebleu's for this configuration (else sacrebleu counts)."""
    return not (m.word_order or m.whitespace or m.lowercase)


def chrf(prediction: str, references: list[str], lang: str = "en", **options: Any) -> float:
    """sacrebleu's sentence chrF: the same character n-gram statistics, handed to its own F formula."""
    rule = empty_rule(prediction, references)
    if rule is not None:
        return rule
    m = _chrf(**{**CHRF_DEFAULTS, **options})
    if not _chrf_standard(m):
        return m.sentence_score(prediction, references).score / 100.0
    hyp_grams = _char_ngrams("".join(prediction.split()), m.char_order)
    best_stats: list[int] = []
    best_f = -1.0
    for ref in references:  # sacrebleu's rule: the statistics of the reference with the best F
        stats: list[int] = []
        for h, g in zip(hyp_grams, _char_ngrams("".join(ref.split()), m.char_order)):
            stats += [len(h) if g else 0, len(g), matches(h, g) if g and h else 0]
        f = m._compute_f_score(stats)
        if f > best_f:
            best_f, best_stats = f, stats
    return m._compute_score_from_stats(best_stats).score / 100.0


def chrf_many(pairs: list[tuple[str, list[str]]], **options: Any) -> list[float]:
    """chrf() of each (prediction, references): pairs with one reference have their n-gram statistics
    counted in NumPy batches (metrics.charstats), the same integers, so the same values."""
    from workbench.metrics.charstats import BATCH, char_ngram_stats

    m = _chrf(**{**CHRF_DEFAULTS, **options})
    out: list[float | None] = [None] * len(pairs)
    batch = []
    standard = _chrf_standard(m)
    for i, (prediction, references) in enumerate(pairs):
        if standard and len(references) == 1 and empty_rule(prediction, references) is None:
            batch.append(i)
        else:
            out[i] = chrf(prediction, references, **options)
    few = len(batch) < MIN_CHRF_BATCH  # NumPy's per-call costs would outweigh what it saves
    for start in range(0, len(batch), BATCH):
        part = batch[start:start + BATCH]
        stats = None if few else char_ngram_stats(["".join(pairs[i][0].split()) for i in part],
                                                   ["".join(pairs[i][1][0].split()) for i in part], m.char_order)
        for k, i in enumerate(part):
            # _compute_f_score is the value _compute_score_from_stats wraps in a score object (not needed here)
            out[i] = chrf(*pairs[i], **options) if stats is None else m._compute_f_score(stats[k]) / 100.0
    return out


# sacrebleu's signature for the default metric objects, with its version filled in at run time: written
# out so a run that needs no BLEU or chrF computed here (scored in workers, or served from the cache)
# does not import sacrebleu (~0.1 s); tests check it against sacrebleu's own. Other options ask sacrebleu.
SACREBLEU_SIGNATURES = {
    "bleu": "nrefs:{nrefs}|case:mixed|eff:yes|tok:{tok}|smooth:exp|version:{version}",
    "chrf": "nrefs:{nrefs}|case:mixed|eff:yes|nc:6|nw:0|space:no|version:{version}",
}
AUTO_TOK = "auto(13a|zh)"  # per row: zh when CJK is a fifth of the references' letters, else 13a


def signature(metric: str, lang: str, nrefs: int | str = 1, **options: Any) -> str:
    """sacrebleu's signature of our BLEU or chrF object ('bleu' or 'chrf'), nrefs as sacrebleu states
    it (a count, or 'var' when rows have different numbers of references); a tokenizer chosen per row
    shows as AUTO_TOK."""
    from workbench.versions import version

    tok = options.get("tok")
    per_row = metric == "bleu" and (tok == "auto" or (tok is None and lang == "auto"))
    if not options:
        shown = AUTO_TOK if per_row else bleu_tokenizer(lang)
        sig = SACREBLEU_SIGNATURES[metric].format(nrefs=nrefs, tok=shown, version=version("sacrebleu"))
        return f"sacrebleu:{sig}|scale:0-1"
    sig = sacrebleu_signature(metric, lang, nrefs, **options)  # per row: built with 13a, shown as auto
    return sig.replace("|tok:13a|", f"|tok:{AUTO_TOK}|") if per_row else sig


def sacrebleu_signature(metric: str, lang: str, nrefs: int | str = 1, **options: Any) -> str:
    """The signature as sacrebleu itself writes it for our BLEU or chrF object."""
    if metric == "bleu":
        m = _bleu_for("en" if lang == "auto" else lang, None, options)
    else:
        m = _chrf(**{**CHRF_DEFAULTS, **options})
    m.corpus_score(["a"], [["a"]])  # sacrebleu fills the signature's fields on first use
    m.num_refs = -1 if nrefs == "var" else int(nrefs)
    return f"sacrebleu:{m.get_signature()}|scale:0-1"


@functools.lru_cache(maxsize=1)
def _13a_parts():
    """sacrebleu's own 13a regexes. The first pads every listed punctuation character with spaces
    (`([...])` -> ` \\1 `); splitting at it (the group keeps the character) and joining with spaces gives
    the same string ~3x faster than its sub() or a str.translate table (no replacement template per match)."""
    from sacrebleu.tokenizers.tokenizer_re import TokenizerRegexp

    rules = TokenizerRegexp()._re
    first, repl = rules[0]
    assert repl == r" \1 " and first.groups == 1 and [(rx.pattern, r) for rx, r in rules[1:]] == [  # assumed below
        (r"([^0-9])([\.,])", r"\1 \2 "), (r"([\.,])([^0-9])", r" \1 \2"), (r"([0-9])(-)", r"\1 \2 ")]
    return first.split, rules[1:]


# sacrebleu's other three 13a rules, ([^0-9])([.,]) -> '\1 \2 ', ([.,])([^0-9]) -> ' \1 \2' and
# ([0-9])(-) -> '\1 \2 ', written to pad just the period, comma or dash: the same string once spaces are
# collapsed as long as no two of [.,] touch (then one match could swallow the next one's first character,
# and sacrebleu's own rules are used). The first two together pad every period or comma that is not between
# two digits; that is one split (its group keeps the character) joined with spaces, as for the first rule.
_PERIOD_NOT_IN_NUMBER = re.compile(r"([.,](?:(?<![0-9][.,])|(?![0-9])))")  # the character first: found by a fast scan
_DASH_AFTER_DIGIT = re.compile(r"-(?<=[0-9]-)")
_TOUCHING_PERIODS = re.compile(r"[.,][.,]")


def _pad(m: re.Match) -> str:
    return f" {m[0]} "


@functools.lru_cache(maxsize=4096)  # references repeat (one answer per intent)
def _tokenize_13a(line: str) -> str:
    """sacrebleu's Tokenizer13a (its __call__ followed by TokenizerRegexp), step by step."""
    split_punctuation, rules = _13a_parts()
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:
        line = line.replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    line = " ".join(split_punctuation(f" {line} "))
    if "." in line or "," in line:
        if _TOUCHING_PERIODS.search(line):
            for rx, repl in rules[:2]:
                line = rx.sub(repl, line)
        else:
            line = " ".join(_PERIOD_NOT_IN_NUMBER.split(line))
    if "-" in line:
        line = _DASH_AFTER_DIGIT.sub(_pad, line)
    return " ".join(line.split())


def _char_ngrams(line: str, max_order: int) -> list[list[str]]:
    """Character n-grams of orders 1..max_order, each order built from the one below (map runs in C)."""
    out = [list(line)]
    for n in range(2, max_order + 1):
        out.append(list(map(operator.add, out[-1], line[n - 1:])))
    return out
