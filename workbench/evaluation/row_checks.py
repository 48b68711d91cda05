"""A dataset row's own checks (`__expected` columns, a JSONL `checks` list), scored after a run.

They are stored as one 0/1 score per output, `expected`: 1 when the output passes every check of its row.
Rows without checks get no `expected` score. Scored after the outputs are stored (and again after a resume),
because the engine scores every row with one metric set; `replace_metric_scores` makes that repeatable.
"""

from __future__ import annotations

from workbench import store
from workbench.authoring.datasets import Dataset
from workbench.evaluation.gates import ROW_CHECKS
from workbench.metrics.checks import Check, check_columns, row_checks


def dataset_checks(dataset: Dataset) -> dict[int, list[Check]]:
    """Row index -> its checks; a bad check raises UserError naming its file and row, before any request."""
    out = {}
    keys = check_columns(set().union(*dataset.rows))
    for i, row in enumerate(dataset.rows):
        if not any(k in row for k in keys):  # most datasets: no row has a check column
            continue
        checks = row_checks(row, dataset.place(i))
        if checks:
            out[i] = checks
    return out


def score_row_checks(db: str | None, run_ids: list[str], dataset: Dataset) -> None:
    checks = dataset_checks(dataset)
    if not checks:
        return
    with store.connect(db) as con:
        for run_id in run_ids:
            outputs = store.load_outputs(con, run_id)
            scores = []
            for rec in outputs.to_dict("records"):
                own = checks.get(int(rec["row_idx"]))
                if not own or not isinstance(rec.get("text"), str) or isinstance(rec.get("error"), str):
                    continue
                scores.append({"run_id": run_id, "row_idx": int(rec["row_idx"]),
                               "turn_idx": int(rec.get("turn_idx") or 0), "repeat_idx": int(rec["repeat_idx"]),
                               "metric": ROW_CHECKS, "value": float(all(c(rec["text"]) for c in own))})
            store.replace_metric_scores(con, run_id, ROW_CHECKS, scores)


def failed_row_checks(dataset: Dataset):
    """For failure reports: (row_idx, output) -> the names of that row's checks the output fails."""
    checks = dataset_checks(dataset)
    return lambda row_idx, output: [c.name for c in checks.get(int(row_idx), []) if not c(output)]
