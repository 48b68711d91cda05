"""Retrieval metrics, as plain functions (0-1 scale, higher is better).

With gold passage ids (a dataset field such as ``faq_id``):
- ``retrieval_hit``: 1 when a gold id is among the first k retrieved, else 0.
- ``retrieval_mrr``: 1 / rank of the first gold id among the first k, 0 when none is there.
- ``retrieval_recall``: share of the gold ids found among the first k.
A retrieved id matches a gold id when equal, or when it is a piece of it (``faq-04#2`` for ``faq-04``:
a long entry split into chunks). No gold (None, empty) gives None: the row has nothing to score.

Without gold, ``grounded``: the share of the answer's distinct content n-grams (default bigrams) that occur
in the retrieved passages. Tokens are lower-cased Latin words and numbers without English stop words, and
single CJK characters, so Chinese answers are scored on character n-grams instead of vanishing (as
rouge-score's default tokenizer makes them). An answer with no content tokens gives None.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from workbench.knowledge.tokens import CJK, english_stopwords

_TOKEN = re.compile(f"[{CJK}]|[^\\W_{CJK}]+", re.UNICODE)


def _gold(gold: str | Iterable[str] | None) -> list[str]:
    if gold is None:
        return []
    items = [gold] if isinstance(gold, (str, int)) else list(gold)
    return [str(g) for g in items if g is not None and str(g) != ""]


def _matches(retrieved_id: str, gold_id: str) -> bool:
    return retrieved_id == gold_id or retrieved_id.startswith(gold_id + "#")


def _first_k(retrieved: Sequence[str], k: int | None) -> list[str]:
    return [str(r) for r in (retrieved if k is None else retrieved[:k])]


def retrieval_hit(gold: str | Iterable[str] | None, retrieved: Sequence[str], k: int | None = None) -> float | None:
    golds = _gold(gold)
    if not golds:
        return None
    return 1.0 if any(_matches(r, g) for r in _first_k(retrieved, k) for g in golds) else 0.0


def retrieval_mrr(gold: str | Iterable[str] | None, retrieved: Sequence[str], k: int | None = None) -> float | None:
    golds = _gold(gold)
    if not golds:
        return None
    for rank, r in enumerate(_first_k(retrieved, k), 1):
        if any(_matches(r, g) for g in golds):
            return 1.0 / rank
    return 0.0


def retrieval_recall(gold: str | Iterable[str] | None, retrieved: Sequence[str],
                     k: int | None = None) -> float | None:
    golds = list(dict.fromkeys(_gold(gold)))
    if not golds:
        return None
    top = _first_k(retrieved, k)
    return sum(1 for g in golds if any(_matches(r, g) for r in top)) / len(golds)


def content_tokens(text: str) -> list[str]:
    """Lower-cased words and numbers without English stop words, and single CJK characters, in order."""
    stop = english_stopwords()
    return [t for t in _TOKEN.findall(text.lower()) if t not in stop]


def _ngrams(tokens: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}


def grounded(answer: str, passages: Iterable[str], n: int = 2) -> float | None:
    """Share of the answer's distinct content n-grams found in the passages (n shrinks to fit a short answer)."""
    tokens = content_tokens(answer or "")
    if not tokens:
        return None
    n = max(1, min(n, len(tokens)))
    mine = _ngrams(tokens, n)
    theirs: set[tuple[str, ...]] = set()
    for p in passages:
        theirs |= _ngrams(content_tokens(p or ""), n)
    return len(mine & theirs) / len(mine)
