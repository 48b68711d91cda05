"""The Compare grid: one line per dataset item, one column per variant, sorted, filtered and paged.

Each page is its own query (store.grid_page): DuckDB sorts, filters and searches the runs' outputs and
hands back only the page's items, so 100,000 items x 4 variants cost what one page costs, in time and in
memory, and nothing can go stale between pages. The grid shows the first repeat of each item.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench import store
from workbench.authoring.stored import prompt_from_version
from workbench.errors import UserError
from workbench.metrics import LOWER_IS_BETTER

SORTS = {"row": "dataset order", "worst": "worst score first", "disagreement": "biggest disagreement first"}


@dataclass
class Grid:
    """What a page query needs: the runs (in column order), the metric, and where the items come from."""
    runs: list[dict]
    metric: str | None
    dataset_hash: str
    n_rows: int  # items are the dataset rows below this (runs with --limit cover the first rows)
    input_fields: list[str]
    reference_field: str
    n_items: int


@dataclass
class Page:
    rows: pd.DataFrame  # row_idx, input, reference, text_i, error_i, score_i for each run i
    total: int  # items that pass the filters
    page: int
    n_pages: int


def input_fields(runs: list[dict], columns: list[str], reference_field: str) -> list[str]:
    """The dataset columns the runs' prompts read; all but the reference when that says nothing."""
    used: set[str] = set()
    for run in runs:
        content = run.get("prompt_content")
        if content:
            try:
                required, optional = prompt_from_version({"content": content}, run["prompt_name"]).variables()
                used |= required | optional
            except UserError:
                pass
    fields = [c for c in columns if c in used and c != reference_field]
    return fields or [c for c in columns if c != reference_field]


def load_grid(con, run_ids: list[str], metric: str | None) -> Grid:
    """The grid's frame of reference (no outputs are read here: see query)."""
    if not run_ids:
        raise UserError("choose at least one run", "runs")
    runs = [store.get_run(con, r) for r in run_ids]
    if len({r["dataset_hash"] for r in runs}) > 1:
        raise UserError("the chosen runs are on different datasets; compare runs of one dataset", "runs")
    for r in runs:
        try:
            r["prompt_content"] = store.get_prompt_version(con, r["prompt_hash"])["content"]
        except UserError:
            r["prompt_content"] = None
    ds = store.get_dataset(con, runs[0]["dataset_hash"], rows=False)
    ref_field = ds["reference_field"] or "reference"
    n_rows = max(int(r["n_rows"]) for r in runs)
    return Grid(runs, metric, ds["hash"], n_rows, input_fields(runs, ds["columns"], ref_field), ref_field,
                store.grid_size(con, ds["hash"], n_rows))


def query(con, grid: Grid, sort: str = "row", errors_only: bool = False, search: str = "", page: int = 0,
          page_size: int = 25) -> Page:
    """One page of items after filtering and sorting; `page` is clamped to the pages there are."""
    if sort not in SORTS:
        raise UserError(f"unknown sort {sort!r} (use {', '.join(SORTS)})", "sort")
    page = max(0, page)

    def fetch(p: int) -> tuple[pd.DataFrame, int]:
        return store.grid_page(con, [r["id"] for r in grid.runs], grid.metric, grid.dataset_hash, grid.n_rows,
                               grid.input_fields, grid.reference_field, sort=sort,
                               lower_is_better=grid.metric in LOWER_IS_BETTER, errors_only=errors_only,
                               search=search, offset=p * page_size, limit=page_size)

    rows, total = fetch(page)
    n_pages = max(1, math.ceil(total / page_size))
    if page >= n_pages:  # past the end (the filters left fewer items): the last page
        page = n_pages - 1
        rows, total = fetch(page)
    for i in range(len(grid.runs)):
        rows[f"score_{i}"] = rows[f"score_{i}"].astype(float)
    return Page(rows, total, page, n_pages)


def page_passages(con, runs: list[dict], row_idxs: list[int]) -> dict[tuple[int, int], list[dict]]:
    """(variant, row_idx) -> the passages its output (first repeat) was given, best first: {rank, id, title,
    score, text}; only for runs of knowledge prompts."""
    out: dict[tuple[int, int], list[dict]] = {}
    for i, run in enumerate(runs):
        if not run.get("knowledge"):
            continue
        found = store.load_passages(con, run["id"], rows=list(row_idxs))
        for p in found[found.repeat_idx == 0].itertuples():
            out.setdefault((i, int(p.row_idx)), []).append(
                {"rank": int(p.rank), "id": p.chunk_id, "title": p.title or "", "score": float(p.score),
                 "text": p.text or ""})
    return out


def histogram(con, runs: list[dict], metric: str, bins: int = 20) -> pd.DataFrame:
    """run_id, variant, start, end, count: each run's score distribution binned here, so a chart of
    40,000 scores ships 20 bars per variant to the browser instead of every point."""
    lo, hi, binned = store.score_histogram(con, [r["id"] for r in runs], metric, bins)
    if not binned:
        return pd.DataFrame(columns=["run_id", "variant", "start", "end", "count"])
    edges = np.linspace(lo, hi, bins + 1)
    parts = []
    for r in runs:
        counts = np.zeros(bins, dtype=int)
        for run_id, b, n in binned:
            if run_id == r["id"]:
                counts[b] = n
        parts.append(pd.DataFrame({"run_id": r["id"], "variant": variant_label(r), "start": edges[:-1],
                                   "end": edges[1:], "count": counts}))
    return pd.concat(parts, ignore_index=True)


def variant_label(run: dict) -> str:
    return f"{run['prompt_name']}@{run['prompt_hash'][:6]} × {run['model_spec']} ({run['id'][:6]})"


def variant_key(n: int) -> str:
    """A, B, C… for the n-th variant: short names for chart legends and column heads."""
    return chr(ord("A") + n) if n < 26 else str(n + 1)
