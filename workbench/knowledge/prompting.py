"""Passages for prompts: a prompt's `knowledge:` section retrieves per row, and the rows it renders get
`passages` (a list of {text, id, title, score, rank, source}, best first) in their context."""

from __future__ import annotations

import os
from typing import Any

from workbench import store
from workbench.knowledge.bases import Passage, search


def knowledge_version(prompt, db: str | os.PathLike | None = None) -> dict[str, Any] | None:
    """{base, version, method, k} the prompt retrieves with now, or None without a `knowledge:` section.
    A base that does not exist is a one-line UserError naming the prompt file, raised before any request."""
    spec = prompt.knowledge
    if not spec:
        return None
    with store.connect(db) as con:
        meta = store.get_knowledge_base(con, spec["base"], f"{prompt.path}: knowledge.base")
    return {"base": spec["base"], "version": meta["version"], "method": spec["method"], "k": spec["k"]}


def retrieve_for_rows(prompt, rows: list[dict[str, Any]], db: str | os.PathLike | None = None,
                      version: str | None = None) -> list[list[Passage]]:
    """The passages for each row: the query template rendered on the row, searched in the prompt's base
    (its current version, or `version`, e.g. the one a resumed run recorded)."""
    spec = prompt.knowledge
    queries = [prompt.render_query(r) for r in rows]
    _, passages = search(spec["base"], queries, spec["k"], db=db, version=version,
                         where=f"{prompt.path}: knowledge.base")
    return passages


def with_passages(rows: list[dict[str, Any]], passages: list[list[Passage]]) -> list[dict[str, Any]]:
    """Copies of the rows with `passages` as plain data, for the sandboxed templates."""
    return [{**row, "passages": [p.to_dict() for p in ps]} for row, ps in zip(rows, passages)]
