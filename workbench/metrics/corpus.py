"""Corpus-level BLEU and chrF: one value per run, with a bootstrap confidence interval over rows.

sacrebleu's corpus score adds up each segment's statistics (BLEU: lengths, matches and totals per
n-gram order; chrF: the best reference's character and word n-gram counts) and applies its formula once
to the sums. Here each row's statistics come from sacrebleu itself (`_extract_corpus_statistics` on that
one segment, with that row's tokenizer under lang 'auto'), so the sum and the value are sacrebleu's
corpus_bleu / corpus_chrf. The interval resamples rows with replacement (BOOTSTRAP draws, fixed seed)
and takes the 2.5th and 97.5th percentiles of the recomputed value.
No empty-text rule here: an empty output adds zero matches, as in sacrebleu.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from workbench.metrics import overlap

BOOTSTRAP = 1000
SEED = 12345


@dataclass(frozen=True)
class CorpusScore:
    value: float  # 0-1
    low: float
    high: float
    n: int  # rows counted


def _bleu_objects(lang: str, references_lists: Sequence[Sequence[str]], options: dict[str, Any]):
    return [overlap._bleu_for(lang, list(refs), options) for refs in references_lists]


def row_stats(kind: str, predictions: Sequence[str], references_lists: Sequence[Sequence[str]], lang: str,
              options: dict[str, Any]) -> list[list[int]]:
    """sacrebleu's per-segment statistics of each row ('bleu' or 'chrf'); rows need references."""
    if kind == "bleu":
        objs = _bleu_objects(lang, references_lists, options)
        return [m._extract_corpus_statistics([p], [[r] for r in refs])[0]
                for m, p, refs in zip(objs, predictions, references_lists)]
    m = overlap._chrf(**{**overlap.CHRF_DEFAULTS, **options})
    return [m._extract_corpus_statistics([p], [[r] for r in refs])[0]
            for p, refs in zip(predictions, references_lists)]


def value_of(kind: str, sums: Sequence[int], options: dict[str, Any]) -> float:
    """sacrebleu's corpus formula on summed statistics, on the 0-1 scale."""
    if kind == "bleu":
        m = overlap._bleu_for("en", None, {k: v for k, v in options.items() if k != "tok"})
    else:
        m = overlap._chrf(**{**overlap.CHRF_DEFAULTS, **options})
    return m._compute_score_from_stats([int(x) for x in sums]).score / 100.0


def corpus_score(kind: str, predictions: Sequence[str], references_lists: Sequence[Sequence[str]], lang: str,
                 options: dict[str, Any] | None = None, bootstrap: int = BOOTSTRAP) -> CorpusScore | None:
    """The corpus value of the rows that have references, with its bootstrap 95% interval; None without rows."""
    import numpy as np

    options = options or {}
    keep = [i for i, refs in enumerate(references_lists) if refs]
    if not keep:
        return None
    stats = np.array(row_stats(kind, [predictions[i] for i in keep], [references_lists[i] for i in keep],
                               lang, options), dtype=np.int64)
    value = value_of(kind, stats.sum(axis=0), options)
    rng = np.random.default_rng(SEED)
    n = len(keep)
    draws = sorted(value_of(kind, stats[rng.integers(0, n, n)].sum(axis=0), options) for _ in range(bootstrap))
    low, high = draws[int(0.025 * (bootstrap - 1))], draws[int(0.975 * (bootstrap - 1))]
    return CorpusScore(value, min(low, value), max(high, value), n)
