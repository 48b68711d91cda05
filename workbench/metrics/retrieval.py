"""Retrieval metrics (0-1 scale, higher is better): plain functions, and the registered metrics that
score a knowledge run's outputs from the passages stored with each (`--metrics retrieval_hit,grounded`).

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

As registered metrics they read two of an output's measurements: ``passages`` (the retrieved passages,
best first; None for an output of a prompt without `knowledge:`, which gets no score) and ``row`` (the
dataset row, whose `gold` field, default ``faq_id`` and ``--gold-passage FIELD`` on the CLI, names the
gold passage ids: one id, a list, or a JSON list). k is the number of passages the run retrieved.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from workbench.authoring.scripts import CJK_CLASS
from workbench.metrics.base import Metric

_TOKEN = re.compile(f"[{CJK_CLASS}]|[^\\W_{CJK_CLASS}]+", re.UNICODE)
DEFAULT_GOLD = "faq_id"


@functools.cache
def english_stopwords() -> frozenset[str]:
    """bm25s's English stop words (extra `knowledge`): one list for BM25 and for `grounded`."""
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


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


def gold_ids(value: Any) -> list[str]:
    """A gold field holds one id, a list of ids, or a JSON list of them."""
    if isinstance(value, str) and value.startswith("["):
        try:
            value = json.loads(value)
        except ValueError:
            pass
    if value is None or value == "" or (isinstance(value, float) and value != value):  # NaN: an empty CSV cell
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _field(value: Any) -> str:
    value = str(value).strip()
    if not value:
        raise ValueError("a field name is needed")
    return value


class _Retrieval(Metric):
    """retrieval_hit / _mrr / _recall over an output's stored passages and its row's gold ids."""

    needs_reference = False
    wants = ("passages", "row")
    options = {"gold": _field}
    defaults = {"gold": DEFAULT_GOLD}
    labelled = True
    function = staticmethod(retrieval_hit)

    def score_batch(self, predictions: Sequence[str], references_lists: Sequence[Sequence[str]], lang: str, *,
                    passages: Sequence[list[dict] | None], row: Sequence[dict | None]) -> list[float | None]:
        field = self.config.get("gold", DEFAULT_GOLD)
        out: list[float | None] = []
        for found, r in zip(passages, row):
            golds = gold_ids(r.get(field)) if found is not None and r is not None else []
            out.append(self.function(golds, [p["id"] for p in found]) if golds else None)
        return out

    def signature(self, lang: str) -> str:
        return (f"{self.name}|gold:{self.config.get('gold', DEFAULT_GOLD)}|k:retrieved|"
                "match:id-or-piece(id#n)|scale:0-1")


class RetrievalHit(_Retrieval):
    name = "retrieval_hit"
    function = staticmethod(retrieval_hit)


class RetrievalMrr(_Retrieval):
    name = "retrieval_mrr"
    function = staticmethod(retrieval_mrr)


class RetrievalRecall(_Retrieval):
    name = "retrieval_recall"
    function = staticmethod(retrieval_recall)


def _ngram_size(value: Any) -> int:
    n = int(value)
    if not 1 <= n <= 4:
        raise ValueError("n must be 1 to 4")
    return n


class Grounded(Metric):
    """Share of the answer's content n-grams found in its retrieved passages (CJK characters as tokens)."""

    name = "grounded"
    needs_reference = False
    wants = ("passages",)
    options = {"n": _ngram_size}
    defaults = {"n": 2}
    labelled = True

    def score_batch(self, predictions: Sequence[str], references_lists: Sequence[Sequence[str]], lang: str, *,
                    passages: Sequence[list[dict] | None]) -> list[float | None]:
        n = self.config.get("n", 2)
        return [None if found is None else grounded(p, [x.get("text") or "" for x in found], n)
                for p, found in zip(predictions, passages)]

    def signature(self, lang: str) -> str:
        return (f"grounded|n:{self.config.get('n', 2)}|tok:cjk-char+word,lower,en-stopwords(bm25s)|"
                "distinct-ngrams-in-passages|scale:0-1")
