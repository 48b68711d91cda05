"""Corpus-level metrics of a stored run (corpus_bleu, corpus_chrf): one value per run with a bootstrap
95% interval over rows, computed from the run's outputs (first repeat, errors left out) and the stored
dataset's references, as workbench.metrics.corpus defines them. They have no per-row scores."""

from __future__ import annotations

from typing import Any

from workbench import store


def corpus_values(con, run: dict[str, Any]) -> list[tuple[str, float, float, float, int]]:
    """(label, value, ci_low, ci_high, n) of each corpus metric in the run's metric set."""
    from workbench.metrics import REGISTRY, metric_set

    specs = [s for s in run["metrics"] if s["name"] in REGISTRY and s["name"].startswith("corpus_")]
    chosen = [m for m in metric_set(specs).metrics if getattr(m, "corpus", None)] if specs else []
    if not chosen:
        return []
    from workbench.authoring.datasets import Dataset
    from workbench.metrics.corpus import corpus_score

    ds = store.get_dataset(con, run["dataset_hash"])
    dataset = Dataset(ds["name"], ds["path"] or ds["name"], ds["rows"], ds["columns"],
                      ds["reference_field"] or "reference", run["lang"])
    outs = store.grid_outputs(con, [run["id"]], None)
    outs = outs[outs["error"].isna() & outs["text"].notna()].sort_values("row_idx")
    preds = [str(t) for t in outs["text"]]
    refs = [dataset.references(int(i)) if int(i) < len(dataset.rows) else [] for i in outs["row_idx"]]
    out = []
    for m in chosen:
        c = corpus_score(m.corpus, preds, refs, run["lang"], m.corpus_options())
        if c is not None:
            out.append((m.label, c.value, c.low, c.high, c.n))
    return out
