"""Top-k selection of BM25 scores: the same values as bm25s's own selection, zeros never returned, ties
in a defined order (higher score, then lower chunk idx)."""

from __future__ import annotations

import numpy as np
from bm25s.selection import topk

from workbench.knowledge.index import best


def test_best_by_hand():
    scores = np.array([0.0, 2.0, 0.5, 2.0, 0.0, 3.0], dtype=np.float32)
    assert best(scores, 3) == [(5, 3.0), (1, 2.0), (3, 2.0)]
    assert best(scores, 2) == [(5, 3.0), (1, 2.0)]  # the tie at the boundary goes to the lower idx
    assert best(scores, 10) == [(5, 3.0), (1, 2.0), (3, 2.0), (2, 0.5)]  # zeros are never returned
    assert best(np.zeros(4, dtype=np.float32), 3) == []


def test_best_equals_bm25s_selection_on_random_scores():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(1, 3000))
        scores = rng.random(n).astype(np.float32) * (rng.random(n) < 0.3)  # mostly zeros, like a real query
        scores[rng.integers(0, n, 5)] = scores.max()  # and some ties
        k = int(rng.integers(1, 12))
        values, _ = topk(scores, min(k, n), backend="numpy")
        assert [v for _, v in best(scores, k)] == sorted((float(v) for v in values if v > 0), reverse=True)
