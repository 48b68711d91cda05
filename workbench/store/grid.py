"""Reads behind the Compare grid: one page of items at a time, sorted, filtered and searched in DuckDB.

Nothing here returns more than a page of items (or one number per run and bin): a grid over 100,000 items x 4
variants never crosses into Python whole. An item is a dataset row below `n_rows`; its cells are the first
repeat of each run's single-turn output and that output's score for one metric.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import duckdb

from workbench.store.db import one_of

if TYPE_CHECKING:
    import pandas as pd  # only for annotations: importing it costs 0.3-0.5 s on the eval path

Con = duckdb.DuckDBPyConnection


def _path(key: str) -> str:
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _input_sql(input_fields: list[str]) -> tuple[str, list]:
    """The item's input as shown: one field as is, several as `name: value` lines (absent fields left out)."""
    if len(input_fields) == 1:
        return "coalesce(json_extract_string(i.data, ?), '')", [_path(input_fields[0])]
    if not input_fields:
        return "''", []
    sql = "concat_ws(chr(10), " + ", ".join(
        "CASE WHEN json_extract_string(i.data, ?) IS NULL THEN NULL ELSE ? || ': ' || "
        "json_extract_string(i.data, ?) END" for _ in input_fields) + ")"
    return sql, [p for k in input_fields for p in (_path(k), k, _path(k))]


def grid_size(con: Con, dataset_hash: str, n_rows: int) -> int:
    """Items in the grid: the dataset's rows below n_rows."""
    return int(con.execute("SELECT count(*) FROM dataset_rows WHERE dataset_hash = ? AND row_idx < ?",
                           [dataset_hash, n_rows]).fetchone()[0])


def grid_page(con: Con, run_ids: list[str], metric: str | None, dataset_hash: str, n_rows: int,
              input_fields: list[str], reference_field: str, *, sort: str = "row", lower_is_better: bool = False,
              errors_only: bool = False, search: str = "", offset: int = 0, limit: int = 25) -> tuple[pd.DataFrame, int]:
    """(page, total): the items that pass the filters, in `sort` order (row | worst | disagreement), from
    `offset`, at most `limit`: row_idx, input, reference, then text_i, error_i, score_i per run i; and how many
    items pass the filters. worst: the lowest score across the runs first (the highest when lower is better);
    disagreement: the largest max - min first (items scored by fewer than two runs last); ties in row order.
    `search` matches, ignoring case, within the input, the reference, an output or an error."""
    search = search.strip()
    input_sql, input_params = _input_sql(input_fields)
    params: dict[str, Any] = {"runs": run_ids, "metric": metric or "", "h": dataset_hash, "n": n_rows,
                              "ref": _path(reference_field), "q": _search_param(search)}
    params.update({f"run{i}": r for i, r in enumerate(run_ids)})
    for k, p in enumerate(input_params):
        params[f"in{k}"] = p
    n_in = len(input_params)
    input_sql = _numbered(input_sql, "in", n_in)
    where = []
    if errors_only:
        where.append("i.row_idx IN (SELECT row_idx FROM o WHERE error IS NOT NULL)")
    if search:
        found = _matcher(search)
        fields = f"{found(input_sql)} OR {found('json_extract_string(i.data, $ref)')}"
        if len(input_fields) <= 1 and not _escaped_in_json(search):
            # A field holds the text only if its row's JSON does (stored with ensure_ascii=False): one match over
            # the JSON first spares parsing the rows that cannot match (39 -> 9 ms of CPU over 20,000 rows).
            fields = f"{found('i.data')} AND ({fields})"
        where.append(f"""(({fields})
                          OR i.row_idx IN (SELECT row_idx FROM o WHERE {found("text")} OR {found("error")}))""")
    worst = "k.hi" if lower_is_better else "k.lo"
    order = {"row": "i.row_idx",
             "worst": f"{worst} {'DESC' if lower_is_better else 'ASC'} NULLS LAST, i.row_idx",
             "disagreement": "CASE WHEN k.n >= 2 THEN k.hi - k.lo END DESC NULLS LAST, i.row_idx"}[sort]
    keyed = sort != "row"
    chosen = f"""
        WITH o AS (
            SELECT row_idx, text, error FROM outputs
            WHERE run_id IN ({_runs_in(run_ids)}) AND repeat_idx = 0 AND turn_idx = 0 AND row_idx < $n
        ), k AS (
            SELECT row_idx, min(value) AS lo, max(value) AS hi, count(*) AS n FROM scores
            WHERE run_id IN ({_runs_in(run_ids)}) AND metric = $metric AND repeat_idx = 0 AND turn_idx = 0
              AND row_idx < $n AND value IS NOT NULL AND NOT isnan(value)
            GROUP BY row_idx
        )
        SELECT i.row_idx, count(*) OVER () AS total FROM dataset_rows i
        {'LEFT JOIN k ON k.row_idx = i.row_idx' if keyed else ''}
        WHERE i.dataset_hash = $h AND i.row_idx < $n {''.join(' AND ' + w for w in where)}
        ORDER BY {order} LIMIT $limit OFFSET $offset"""
    picked = con.execute(chosen, {**{k: v for k, v in params.items() if f"${k}" in chosen},
                                  "limit": limit, "offset": offset}).fetchall()
    total = int(picked[0][1]) if picked else _total(con, offset, chosen, params)
    return _cells(con, [r for r, _ in picked], run_ids, params, input_sql), total


def _wild(text: str) -> bool:
    return any(c in text for c in "%_\\")


def _escaped_in_json(text: str) -> bool:
    """Whether JSON writes some character of `text` as an escape (a quote, a backslash, a control character)."""
    return any(c in '"\\' or c < " " for c in text)


def _search_param(text: str) -> str:
    return text.lower() if _wild(text) else f"%{text}%"


def _matcher(text: str):
    """SQL that is true when an expression contains `text`, ignoring case (ILIKE $q: half the CPU of
    contains(lower(x), $q) over 80,000 outputs, as it lowers no copy; a text with LIKE's wildcards in it takes
    the slower form, which is still faster than ILIKE ... ESCAPE)."""
    if _wild(text):
        return lambda expr: f"contains(lower({expr}), $q)"
    return lambda expr: f"{expr} ILIKE $q"


def _runs_in(run_ids: list[str]) -> str:
    """$run0, $run1, ...: a list DuckDB filters the scan with (see db.one_of)."""
    return ", ".join(f"$run{i}" for i in range(len(run_ids)))


def _numbered(sql: str, prefix: str, n: int) -> str:
    """Turn the `?` placeholders of `sql` into $prefix0, $prefix1, ... (named parameters throughout)."""
    for k in range(n):
        sql = sql.replace("?", f"${prefix}{k}", 1)
    return sql


def _total(con: Con, offset: int, chosen: str, params: dict) -> int:
    """Items passing the filters when the page asked for lies past them (offset beyond the end) or there are none."""
    if offset == 0:
        return 0
    rows = con.execute(chosen, {**{k: v for k, v in params.items() if f"${k}" in chosen}, "limit": 1,
                                "offset": 0}).fetchall()
    return int(rows[0][1]) if rows else 0


def _cells(con: Con, row_idxs: list[int], run_ids: list[str], params: dict, input_sql: str) -> pd.DataFrame:
    """The page's items in the given order, one column per run for its text, error and score."""
    cols = []
    for i in range(len(run_ids)):
        cols += [f"any_value(o.text) FILTER (WHERE o.run_id = $runs[{i + 1}]) AS text_{i}",
                 f"any_value(o.error) FILTER (WHERE o.run_id = $runs[{i + 1}]) AS error_{i}",
                 f"any_value(s.value) FILTER (WHERE o.run_id = $runs[{i + 1}]) AS score_{i}"]
    sql = f"""
        WITH page AS (SELECT unnest($rows::INTEGER[]) AS row_idx, generate_subscripts($rows::INTEGER[], 1) AS pos)
        SELECT i.row_idx, {input_sql} AS input, coalesce(json_extract_string(i.data, $ref), '') AS reference,
               {', '.join(cols)}
        FROM page JOIN dataset_rows i ON i.dataset_hash = $h AND i.row_idx = page.row_idx
        LEFT JOIN outputs o ON o.row_idx = i.row_idx AND o.run_id IN ({_runs_in(run_ids)})
             AND o.repeat_idx = 0 AND o.turn_idx = 0 AND o.row_idx IN (SELECT row_idx FROM page)
        LEFT JOIN scores s ON s.run_id = o.run_id AND s.row_idx = o.row_idx AND s.turn_idx = 0 AND s.repeat_idx = 0
             AND s.metric = $metric AND s.row_idx IN (SELECT row_idx FROM page)
        GROUP BY i.row_idx, i.data, page.pos ORDER BY page.pos"""
    used = {k: v for k, v in params.items() if f"${k}" in sql}
    df = con.execute(sql, {**used, "rows": row_idxs}).df()
    return df.drop(columns=[c for c in df.columns if c == "pos"])


SCALE_SLACK = 1e-9  # a quality score of 1.0000000002 (float rounding) is still on the 0-1 scale


def score_histogram(con: Con, run_ids: list[str], metric: str, bins: int) -> tuple[float, float, list[tuple]]:
    """(low, high, [(run_id, bin, count)]) of one metric's scores (all repeats) in `bins` equal bins over
    [low, high]: the whole 0-1 scale when every score lies on it, else the scores' range. Binned in DuckDB:
    a distribution of 400,000 scores comes back as bins x runs numbers."""
    where = (f"{one_of('run_id', run_ids)} AND metric = ? AND value IS NOT NULL AND NOT isnan(value) "
             "AND NOT isinf(value)")
    lo, hi = con.execute(f"SELECT min(value), max(value) FROM scores WHERE {where}", [*run_ids, metric]).fetchone()
    if lo is None:
        return 0.0, 1.0, []
    if -SCALE_SLACK <= lo and hi <= 1.0 + SCALE_SLACK:
        lo, hi = 0.0, 1.0  # quality scores: the whole scale, so variants line up
    hi = hi if hi > lo else lo + 1.0
    counts = con.execute(
        f"SELECT run_id, greatest(least(CAST(floor((value - ?) / (? - ?) * ?) AS INTEGER), ? - 1), 0) AS b, count(*) "
        f"FROM scores WHERE {where} GROUP BY ALL ORDER BY ALL", [lo, hi, lo, bins, bins, *run_ids, metric]).fetchall()
    return float(lo), float(hi), counts
