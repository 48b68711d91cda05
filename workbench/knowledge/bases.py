"""Knowledge bases: add files as a new version (or find the same version again), list, show, search, remove.

A version is the hash of the files' content (by name and SHA-256), the chunking and the tokenizer, so
re-adding unchanged files changes nothing and a changed file makes a new version; runs keep the version
they used.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench import store
from workbench.errors import UserError
from workbench.knowledge.chunking import Chunking, check_file, read_chunks
from workbench.knowledge.index import load_index
from workbench.knowledge.tokens import TOKENIZERS, detect_tokenizer

BATCH = 2000  # chunks per insert while a file streams in
SAMPLE_BYTES = 64 * 1024  # read from the start of each file to choose a tokenizer
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass
class Passage:
    """One retrieved chunk, as templates see it (`passages[0].text`) and as outputs store it."""

    id: str
    title: str
    text: str
    score: float
    rank: int
    idx: int = field(default=0, repr=False)  # position in the version (the index's document number)
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "text": self.text, "score": self.score, "rank": self.rank,
                "source": self.source}


@dataclass
class AddResult:
    name: str
    version: str
    n_chunks: int
    new_version: bool
    signature: dict


def check_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise UserError("a base name is 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit",
                        f"knowledge base {name!r}")
    return name


def _file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _sample(paths: list[str]) -> str:
    out = []
    for p in paths:
        with open(p, "rb") as f:
            out.append(f.read(SAMPLE_BYTES).decode("utf-8", errors="ignore"))
    return "".join(out)


def signature(chunking: Chunking, tokenizer: str) -> dict[str, Any]:
    return {"chunking": chunking.to_dict(), "tokenizer": tokenizer, "index": "bm25s lucene k1=1.5 b=0.75"}


def add_base(name: str, files: list[str], chunking: Chunking | None = None, tokenizer: str = "auto",
             db: str | os.PathLike | None = None, shown: dict[str, str] | None = None) -> AddResult:
    """Chunk `files` into base `name`: a new version when content, chunking or tokenizer changed, else the
    stored one. Files stream in; the index is built (and cached) at the end. `shown`: file -> the name its
    chunks' `source` gives (an upload's, rather than the temporary file's path)."""
    check_name(name)
    chunking = chunking or Chunking()
    if not files:
        raise UserError("give at least one file", "kb add")
    names = [Path(f).name for f in files]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise UserError(f"two files named {dup[0]!r}: chunk ids are made from file names", "kb add")
    sources = [{"file": Path(f).name, "bytes": check_file(f), "sha256": _file_sha256(f)} for f in files]
    if tokenizer == "auto":
        tokenizer = detect_tokenizer(_sample(files))
    if tokenizer not in TOKENIZERS:
        raise UserError(f"unknown tokenizer {tokenizer!r} (choose auto, {', '.join(TOKENIZERS)})", setting="tokenizer")
    sig = signature(chunking, tokenizer)
    blob = json.dumps({"signature": sig, "sources": [(s["file"], s["sha256"]) for s in sources]}, sort_keys=True)
    version = hashlib.sha256(blob.encode()).hexdigest()[:16]
    with store.connect(db) as con:
        new = not store.knowledge_version_exists(con, version)
        if new:
            n = store.save_knowledge_version(con, name, version, sig, sources, _batches(files, chunking, shown or {}))
        else:
            store.set_knowledge_base(con, name, version)
            n = store.get_knowledge_version(con, version)["n_chunks"]
        load_index(con, db, version, tokenizer)  # build once now, so the first query does not wait
    return AddResult(name, version, n, new, sig)


def add_uploads(name: str, uploads: list[tuple[str, bytes]], chunking: Chunking | None = None,
                tokenizer: str = "auto", db: str | os.PathLike | None = None) -> AddResult:
    """`add_base` for files given as (file name, content), e.g. uploaded in the app: written under their own
    names (chunk ids and the version are made from them) into a temporary folder, added, removed."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="workbench-kb-") as folder:
        paths = []
        for filename, content in uploads:
            safe = Path(filename.replace("\\", "/")).name  # never a path out of the folder
            if safe in ("", ".", ".."):
                raise UserError("a file needs a name", "kb add")
            target = Path(folder) / safe
            if target.exists():
                raise UserError(f"two files named {safe!r}: chunk ids are made from file names", "kb add")
            target.write_bytes(content)
            paths.append(str(target))
        return add_base(name, paths, chunking, tokenizer, db, shown={p: Path(p).name for p in paths})


def _batches(files: list[str], chunking: Chunking, shown: dict[str, str]) -> Iterator[list[dict[str, Any]]]:
    seen: dict[str, str] = {}
    batch: list[dict[str, Any]] = []
    idx = 0
    for path in files:
        for c in read_chunks(path, chunking):
            if path in shown:
                c.source = shown[path] + c.source[len(str(path)):]
            if c.id in seen:
                raise UserError(f"chunk id {c.id!r} repeats the one at {seen[c.id]} (ids must be unique: "
                                f"they are what gold fields name)", c.source)
            seen[c.id] = c.source
            batch.append({"idx": idx, "id": c.id, "title": c.title, "text": c.text, "source": c.source})
            idx += 1
            if len(batch) >= BATCH:
                yield batch
                batch = []
    if batch:
        yield batch


def list_bases(db: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    with store.connect(db) as con:
        df = store.list_knowledge_bases(con)
    out = []
    for r in df.to_dict(orient="records"):
        sig = json.loads(r.pop("signature"))
        r["sources"] = json.loads(r["sources"])
        r["tokenizer"], r["chunking"] = sig["tokenizer"], sig["chunking"]
        out.append(r)
    return out


def show_base(name: str, db: str | os.PathLike | None = None, limit: int = 20) -> dict[str, Any]:
    """The current version's metadata and its first `limit` chunks."""
    with store.connect(db) as con:
        meta = store.get_knowledge_base(con, name)
        meta["chunks"] = store.knowledge_chunks(con, meta["version"], limit=limit)
    return meta


def remove_base(name: str, db: str | os.PathLike | None = None) -> int:
    with store.connect(db) as con:
        return store.remove_knowledge_base(con, name)


METHODS = ("bm25", "dense", "hybrid")


def search(name: str, queries: list[str], k: int = 5, db: str | os.PathLike | None = None,
           version: str | None = None, where: str = "knowledge base",
           method: str = "bm25") -> tuple[str, list[list[Passage]]]:
    """(version, passages per query) from base `name` (its current version, or `version`), best first."""
    with store.connect(db) as con:
        meta = store.get_knowledge_version(con, version) if version else store.get_knowledge_base(con, name, where)
        return meta["version"], search_version(con, db, meta, queries, k, where, method)


def search_version(con, db: str | os.PathLike | None, meta: dict[str, Any], queries: list[str], k: int,
                   where: str = "knowledge base", method: str = "bm25") -> list[list[Passage]]:
    """Passages per query from one stored version (`meta` as store.get_knowledge_base gives it), in `con`.
    Scores: BM25 for bm25, cosine similarity for dense, the reciprocal-rank-fusion sum for hybrid."""
    if k < 1:
        raise UserError(f"k must be at least 1, got {k}", where)
    if method not in METHODS:
        raise UserError(f"unknown retrieval method {method!r} (choose {', '.join(METHODS)})", where)
    if method == "bm25":
        index = load_index(con, db, meta["version"], meta["signature"]["tokenizer"])
        hits = [index.top(q, k) for q in queries]
    else:
        from workbench.knowledge import dense

        depth = k if method == "dense" else max(k, dense.FUSION_DEPTH)
        hits = dense.dense_top(con, db, meta["version"], queries, depth)
        if method == "hybrid":
            index = load_index(con, db, meta["version"], meta["signature"]["tokenizer"])
            hits = [dense.fuse([index.top(q, depth), d], k) for q, d in zip(queries, hits)]
    wanted = sorted({i for h in hits for i, _ in h})
    chunks = {c["idx"]: c for c in store.knowledge_chunks(con, meta["version"], idxs=wanted)}
    return [[Passage(chunks[i]["id"], chunks[i]["title"] or "", chunks[i]["text"], score, rank, i,
                     chunks[i]["source"]) for rank, (i, score) in enumerate(h, 1)] for h in hits]
