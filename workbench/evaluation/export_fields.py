"""Which fields of an export file `workbench score` reads: kept apart from export.py (which reads the store,
and so imports pandas: ~0.7 s of the score command's start-up)."""

from __future__ import annotations

from workbench.authoring.datasets import Dataset


def prediction_field(columns: list[str]) -> str:
    """The column `workbench score` scores: `prediction`, else an export's `output`."""
    return "output" if "prediction" not in columns and "output" in columns else "prediction"


def without_errors(ds: Dataset, prediction: str) -> tuple[Dataset, int]:
    """An export's rows that have an output: a row with an `error` and no prediction has nothing to score."""
    if "error" not in ds.columns:
        return ds, 0
    keep = [i for i, r in enumerate(ds.rows) if not (r.get("error") and r.get(prediction) in (None, ""))]
    if len(keep) == len(ds.rows):
        return ds, 0
    return Dataset(ds.name, ds.path, [ds.rows[i] for i in keep], ds.columns, ds.reference_field, ds.lang,
                   ds.encoding, [ds.line_numbers[i] for i in keep] if ds.line_numbers else [i + 1 for i in keep]), \
        len(ds.rows) - len(keep)
