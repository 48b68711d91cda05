"""Tokenizers for BM25, chosen per base and recorded in its signature.

- ``english``: lower-cased words, English stop words dropped (bm25s's list), Snowball-stemmed (PyStemmer).
- ``cjk-bigram``: every CJK character and every pair of adjacent ones; Latin words and numbers as in
  ``english``. Needs no dictionary, so unknown product names and typos still match in part.
- ``jieba``: Chinese words from jieba's dictionary (search mode: long words and their parts); Latin as above.

bm25s's own tokenizer splits on ``\\w\\w+``, which keeps a whole Chinese sentence as one token, so the
Chinese tokenizers are written here; the scoring stays bm25s's.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from workbench.metrics.retrieval import english_stopwords

TOKENIZERS = ("english", "cjk-bigram", "jieba")
CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RUN = re.compile(f"[{CJK}]+")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_LATIN_OR_CJK = re.compile(f"[{CJK}]+|[^\\W_{CJK}]+", re.UNICODE)


@functools.cache
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


_stems: dict[str, str] = {}  # word -> stem: PyStemmer's own cache holds 10,000 words, a big base has more
MAX_STEMS = 1_000_000


def _latin(words: list[str]) -> list[str]:
    stop = english_stopwords()
    new = [w for w in set(words) if w not in _stems and w not in stop]
    if new:
        if len(_stems) + len(new) > MAX_STEMS:
            _stems.clear()
            new = [w for w in set(words) if w not in stop]
        _stems.update(zip(new, _stemmer().stemWords(new)))
    return [_stems[w] for w in words if w not in stop]


def english(text: str) -> list[str]:
    return _latin([w for w in _WORD.findall(text.lower()) if len(w) > 1 or w.isdigit()])


def cjk_bigram(text: str) -> list[str]:
    out: list[str] = []
    latin: list[str] = []
    for run in _LATIN_OR_CJK.findall(text.lower()):
        if _CJK_RUN.fullmatch(run):
            out.extend(run)
            out.extend(run[i:i + 2] for i in range(len(run) - 1))
        else:
            latin.append(run)
    return out + _latin(latin)


@functools.cache
def _jieba():
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)  # it announces loading its dictionary on stderr
    return jieba


def jieba_words(text: str) -> list[str]:
    out: list[str] = []
    latin: list[str] = []
    for run in _LATIN_OR_CJK.findall(text.lower()):
        if _CJK_RUN.fullmatch(run):
            out.extend(_jieba().lcut_for_search(run))
        else:
            latin.append(run)
    return out + _latin(latin)


def tokenizer(name: str) -> Callable[[str], list[str]]:
    return {"english": english, "cjk-bigram": cjk_bigram, "jieba": jieba_words}[name]


def detect_tokenizer(sample: str) -> str:
    """``cjk-bigram`` when a fifth of the sample's letters are CJK, else ``english``."""
    letters = sum(1 for ch in sample if ch.isalpha())
    cjk = sum(len(m) for m in _CJK_RUN.findall(sample))
    return "cjk-bigram" if letters and cjk / letters >= 0.2 else "english"
