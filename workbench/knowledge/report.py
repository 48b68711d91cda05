"""How well a stored knowledge run retrieved: the retrieval metrics over its rows and `grounded` over its
answers, computed from what the run stored (its passages, its dataset rows, its outputs)."""

from __future__ import annotations

from statistics import mean
from typing import Any

from workbench import store
from workbench.metrics.retrieval import (
    DEFAULT_GOLD,
    gold_ids,
    grounded,
    retrieval_hit,
    retrieval_mrr,
    retrieval_recall,
)


def run_retrieval(con, run_id: str, gold_field: str | None = None) -> dict[str, Any] | None:
    """Means of retrieval_hit / _mrr / _recall at the run's k against `gold_field` of each row (default
    `faq_id` when the rows have it; None without gold), and of `grounded` over the successful outputs.
    None for a run without a `knowledge:` section."""
    used = store.run_knowledge(con, run_id)
    if not used:
        return None
    run = store.get_run(con, run_id)
    rows = store.get_dataset(con, run["dataset_hash"])["rows"]
    passages = store.load_passages(con, run_id)
    outputs = con.execute("SELECT row_idx, repeat_idx, text FROM outputs WHERE run_id = ? AND error IS NULL",
                          [run_id]).fetchall()
    ids: dict[int, list[str]] = {}
    texts: dict[tuple[int, int], list[str]] = {}
    for p in passages.itertuples():
        if p.repeat_idx == 0:
            ids.setdefault(p.row_idx, []).append(p.chunk_id)
        texts.setdefault((p.row_idx, p.repeat_idx), []).append(p.text or "")
    if gold_field is None and any(DEFAULT_GOLD in r for r in rows):
        gold_field = DEFAULT_GOLD
    out: dict[str, Any] = {"base": used["base"], "version": used["version"], "k": used["k"],
                           "gold_field": gold_field}
    if gold_field:
        gold = {i: gold_ids(rows[i].get(gold_field)) for i in range(min(run["n_rows"], len(rows)))}
        scored = [i for i, g in gold.items() if g]
        out["n_gold"] = len(scored)
        for name, fn in (("retrieval_hit", retrieval_hit), ("retrieval_mrr", retrieval_mrr),
                         ("retrieval_recall", retrieval_recall)):
            out[name] = mean(fn(gold[i], ids.get(i, []), used["k"]) for i in scored) if scored else None
    values = [v for r, k, text in outputs if (v := grounded(text or "", texts.get((r, k), []))) is not None]
    out["grounded"] = mean(values) if values else None
    out["n_grounded"] = len(values)
    return out

