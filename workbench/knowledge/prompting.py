"""Passages for prompts: a prompt's `knowledge:` section retrieves per row, and the rows it renders get
`passages` (a list of {text, id, title, score, rank, source}, best first) in their context.

The runner retrieves for every row while planning, before any request: a missing base fails there, in
one line. The passages go into the rendered messages (so the response cache's key covers them) and are
stored per output when the run is created; the run records the base version, and a resumed run
retrieves from that version again.
"""

from __future__ import annotations

import os
from typing import Any

from workbench import store
from workbench.errors import TemplateError
from workbench.knowledge.bases import Passage, search, search_version


def knowledge_version(prompt, db: str | os.PathLike | None = None) -> dict[str, Any] | None:
    """{base, version, method, k} the prompt retrieves with now, or None without a `knowledge:` section.
    A base that does not exist is a one-line UserError naming the prompt file, raised before any request."""
    if not prompt.knowledge:
        return None
    with store.connect(db) as con:
        return _used(prompt, _current(con, prompt))


def _current(con, prompt) -> dict[str, Any]:
    return store.get_knowledge_base(con, prompt.knowledge["base"], f"{prompt.path}: knowledge.base")


def _used(prompt, meta: dict[str, Any]) -> dict[str, Any]:
    spec = prompt.knowledge
    return {"base": spec["base"], "version": meta["version"], "method": spec["method"], "k": spec["k"]}


def _queries(prompt, rows: list[dict[str, Any]], places: list[str] | None) -> list[str]:
    queries = []
    for n, row in enumerate(rows):
        try:
            queries.append(prompt.render_query(row))
        except TemplateError as e:
            at = f" (rendering {places[n]})" if places else ""
            raise TemplateError(f"{e.message}{at}", e.where) from None
    return queries


def retrieve_for_rows(prompt, rows: list[dict[str, Any]], db: str | os.PathLike | None = None,
                      version: str | None = None, places: list[str] | None = None) -> list[list[Passage]]:
    """The passages for each row: the query template rendered on the row, searched in the prompt's base
    (its current version, or `version`, e.g. the one a resumed run recorded). `places` name the rows in
    errors (``data.jsonl:7``)."""
    spec = prompt.knowledge
    _, passages = search(spec["base"], _queries(prompt, rows, places), spec["k"], db=db, version=version,
                         where=f"{prompt.path}: knowledge.base", method=spec["method"])
    return passages


def with_passages(row: dict[str, Any], passages: list[Passage]) -> dict[str, Any]:
    """A copy of the row with `passages` as plain data, for the sandboxed templates."""
    return {**row, "passages": [p.to_dict() for p in passages]}


def plan_passages(prompt, rows: list[dict[str, Any]], db: str | os.PathLike | None = None,
                  recorded: dict[str, Any] | None = None,
                  places: list[str] | None = None) -> tuple[dict[str, Any] | None, list[list[Passage]] | None]:
    """(knowledge a run records, passages per row) for a prompt with a `knowledge:` section, else
    (None, None), in one connection. `recorded`: the knowledge a stored run used (resume), so the same
    version answers."""
    if not prompt.knowledge:
        return None, None
    queries = _queries(prompt, rows, places)
    with store.connect(db) as con:
        meta = store.get_knowledge_version(con, recorded["version"]) if recorded else _current(con, prompt)
        used = recorded or _used(prompt, meta)
        return used, search_version(con, db, meta, queries, used["k"], f"{prompt.path}: knowledge.base",
                                    used["method"])


def record_run_passages(con, run_id: str, used: dict[str, Any], passages: list[list[Passage]],
                        rows: list[int], repeats: int) -> None:
    """Store the run's knowledge version and the passages of each (row, repeat), in `con`'s unit of work."""
    store.set_run_knowledge(con, run_id, used)
    records = [{"run_id": run_id, "row_idx": row, "repeat_idx": rep, "rank": p.rank, "version": used["version"],
                "chunk_idx": p.idx, "chunk_id": p.id, "score": p.score}
               for row, found in zip(rows, passages) for rep in range(repeats) for p in found]
    store.write_passages(con, records)
