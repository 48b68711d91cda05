"""BM25 indexes (bm25s), built once per base version and cached: in memory per process, and on disk
beside the database file (``<db>.kb-index/<version>-bm25s-<version of bm25s>/``), so the next process
loads instead of rebuilding.

Chunks are tokenized straight to integer ids while they stream out of the database, so a build holds
the id lists, not the token strings. Scores come from bm25s (method ``lucene``, k1 1.5, b 0.75); the top k
are selected among the positive scores (`best`): a chunk that shares no term with the query (score 0) is
never returned.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections import OrderedDict, defaultdict
from dataclasses import dataclass
from pathlib import Path

from workbench.knowledge.tokens import tokenizer
from workbench.store import db_path, iter_chunk_texts

MEMORY_SLOTS = 8
_memory: OrderedDict[tuple[str, str], BM25Index] = OrderedDict()
_lock = threading.Lock()


@dataclass
class BM25Index:
    retriever: object  # bm25s.BM25, or None for an empty base
    vocab: dict[str, int]
    n_docs: int
    tokenizer: str

    def top(self, query: str, k: int) -> list[tuple[int, float]]:
        """(chunk idx, score) of the best k chunks with a positive score, best first."""
        if self.retriever is None or k <= 0:
            return []
        ids = [self.vocab[t] for t in tokenizer(self.tokenizer)(query) if t in self.vocab and t != ""]
        if not ids:
            return []
        return best(self.retriever.get_scores_from_ids(ids), k)


def best(scores, k: int) -> list[tuple[int, float]]:
    """(idx, score) of the k highest positive scores, best first, ties by lower idx.

    Written here rather than bm25s.selection.topk: its numpy path runs argpartition over every document,
    the zeros included, and on 100,000 chunks that took 4.8 ms at p95 (most of a query; the scoring itself
    0.4 ms), while the documents that share a term with the query are fewer and selecting among them takes
    0.4 ms. The same values come out (bench/bench_knowledge.py); ties are now in a defined order.
    """
    import numpy as np

    hits = np.flatnonzero(scores > 0)
    if len(hits) > k:
        values = scores[hits]
        kth = np.partition(values, len(values) - k)[len(values) - k]  # the k-th highest score
        hits = hits[values >= kth]
    values = scores[hits]
    order = np.lexsort((hits, -values))[:k]
    return [(int(hits[i]), float(values[i])) for i in order]


def bm25s_version() -> str:
    from workbench.versions import version

    return version("bm25s")


def index_dir(db: str | os.PathLike | None) -> Path:
    p = Path(db_path(db))
    return p.with_name(p.name + ".kb-index")


def load_index(con, db: str | os.PathLike | None, version: str, tokenizer_name: str) -> BM25Index:
    """The index of one base version: from this process's memory, else from disk, else built and saved."""
    key = (os.path.abspath(db_path(db)), version)
    with _lock:
        if key in _memory:
            _memory.move_to_end(key)
            return _memory[key]
    folder = index_dir(db) / f"{version}-bm25s-{bm25s_version()}"
    index = _read(folder, tokenizer_name) if folder.is_dir() else None
    if index is None:
        index = build_index(iter_chunk_texts(con, version), tokenizer_name)
        _write(index, folder)
    with _lock:
        _memory[key] = index
        while len(_memory) > MEMORY_SLOTS:
            _memory.popitem(last=False)
    return index


def build_index(texts, tokenizer_name: str) -> BM25Index:
    """Index (idx, text) pairs given in idx order 0, 1, 2, ..."""
    import bm25s

    tokenize = tokenizer(tokenizer_name)
    vocab: defaultdict[str, int] = defaultdict()
    vocab.default_factory = vocab.__len__  # a new token gets the next id
    corpus_ids = [[vocab[t] for t in tokenize(text)] for _, text in texts]
    if not corpus_ids:
        return BM25Index(None, {}, 0, tokenizer_name)
    retriever = bm25s.BM25()
    retriever.index((corpus_ids, dict(vocab)), show_progress=False)
    return BM25Index(retriever, retriever.vocab_dict, len(corpus_ids), tokenizer_name)


def _write(index: BM25Index, folder: Path) -> None:
    """Save beside the database; written to a temporary folder and renamed, so a reader never sees half."""
    if index.retriever is None:
        return
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".building-", dir=folder.parent))
    try:
        index.retriever.save(str(tmp), show_progress=False)
        os.replace(tmp, folder)
    except OSError:  # another process saved it first, or the disk refuses: the index in memory still serves
        shutil.rmtree(tmp, ignore_errors=True)


def _read(folder: Path, tokenizer_name: str) -> BM25Index | None:
    import bm25s

    try:
        retriever = bm25s.BM25.load(str(folder), show_progress=False)
    except (OSError, ValueError, KeyError):
        return None  # unreadable cache: rebuild
    return BM25Index(retriever, retriever.vocab_dict, int(retriever.scores["num_docs"]), tokenizer_name)


def forget(db: str | os.PathLike | None = None) -> None:
    """Drop this process's cached indexes of one database (all when db is None): tests, benchmarks."""
    with _lock:
        if db is None:
            _memory.clear()
        else:
            path = os.path.abspath(db_path(db))
            for key in [k for k in _memory if k[0] == path]:
                del _memory[key]
