"""The Compare grid: one line per dataset item, one column per variant, sorted, filtered and paged.

The runs' outputs are read once into a wide pandas frame (10,000 items x 4 variants is ~40,000
short texts); sorting, filtering and search are vectorised over it and a page is a slice, so
switching pages costs nothing but rendering the page. The grid shows the first repeat of each item.
"""

from __future__ import annotations

import functools
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
    runs: list[dict]  # the runs, in column order
    metric: str | None
    frame: pd.DataFrame  # row_idx, input, reference, text_i, error_i, score_i, worst, spread, any_error

    @property
    def n_items(self) -> int:
        return len(self.frame)

    @functools.cached_property
    def haystack(self) -> pd.Series:
        """Input, reference, outputs and errors of each item in lower case: built on the first search."""
        f = self.frame
        hay = f["input"].fillna("") + "\n" + f["reference"].fillna("")
        for i in range(len(self.runs)):
            hay = hay + "\n" + f[f"text_{i}"].fillna("") + "\n" + f[f"error_{i}"].fillna("")
        return hay.str.lower()


@dataclass
class Page:
    rows: pd.DataFrame
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
    fields = input_fields(runs, ds["columns"], ref_field)
    n_rows = max(int(r["n_rows"]) for r in runs)  # runs with --limit cover the first rows
    frame = store.grid_frame(con, run_ids, metric, ds["hash"], n_rows, fields, ref_field)
    for i in range(len(run_ids)):
        frame[f"score_{i}"] = frame[f"score_{i}"].astype(float)
    n = len(run_ids)
    scores = frame[[f"score_{i}" for i in range(n)]].to_numpy(dtype=float)
    has = ~np.isnan(scores).all(axis=1)
    worst = np.full(len(frame), np.nan)
    if metric in LOWER_IS_BETTER:
        worst[has] = np.nanmax(scores[has], axis=1)
    else:
        worst[has] = np.nanmin(scores[has], axis=1)
    spread = np.full(len(frame), np.nan)
    two = (~np.isnan(scores)).sum(axis=1) >= 2
    spread[two] = np.nanmax(scores[two], axis=1) - np.nanmin(scores[two], axis=1)
    frame["worst"] = worst
    frame["spread"] = spread
    frame["any_error"] = frame[[f"error_{i}" for i in range(n)]].notna().any(axis=1)
    return Grid(runs, metric, frame)


def query(grid: Grid, sort: str = "row", errors_only: bool = False, search: str = "", page: int = 0,
          page_size: int = 25) -> Page:
    """One page of items after filtering and sorting; `page` is clamped to the pages there are."""
    if sort not in SORTS:
        raise UserError(f"unknown sort {sort!r} (use {', '.join(SORTS)})", "sort")
    df = grid.frame
    mask = np.ones(len(df), dtype=bool)
    if errors_only:
        mask &= df["any_error"].to_numpy()
    if search.strip():
        mask &= grid.haystack.str.contains(search.strip().lower(), regex=False).to_numpy()
    view = df[mask]
    if sort == "worst":
        worst_first = grid.metric not in LOWER_IS_BETTER  # low scores are bad, unless lower is better
        view = view.sort_values(["worst", "row_idx"], ascending=[worst_first, True], na_position="last",
                                kind="stable")
    elif sort == "disagreement":
        view = view.sort_values(["spread", "row_idx"], ascending=[False, True], na_position="last", kind="stable")
    total = len(view)
    n_pages = max(1, math.ceil(total / page_size))
    page = min(max(0, page), n_pages - 1)
    rows = view.iloc[page * page_size:(page + 1) * page_size]
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
    values = store.score_values(con, [r["id"] for r in runs], metric)
    if values.empty:
        return pd.DataFrame(columns=["run_id", "variant", "start", "end", "count"])
    lo, hi = float(values["value"].min()), float(values["value"].max())
    if 0.0 <= lo and hi <= 1.0:
        lo, hi = 0.0, 1.0  # quality scores: the whole scale, so variants line up
    edges = np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1)
    parts = []
    for r in runs:
        counts, _ = np.histogram(values.loc[values["run_id"] == r["id"], "value"].to_numpy(), bins=edges)
        parts.append(pd.DataFrame({"run_id": r["id"], "variant": variant_label(r), "start": edges[:-1],
                                   "end": edges[1:], "count": counts}))
    return pd.concat(parts, ignore_index=True)


def variant_label(run: dict) -> str:
    return f"{run['prompt_name']}@{run['prompt_hash'][:6]} × {run['model_spec']} ({run['id'][:6]})"


def variant_key(n: int) -> str:
    """A, B, C… for the n-th variant: short names for chart legends and column heads."""
    return chr(ord("A") + n) if n < 26 else str(n + 1)
