"""Write a run's outputs as CSV / JSONL / Parquet: one record per output, atomically."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import TYPE_CHECKING

from workbench import store
from workbench.authoring.conversations import turn_reference
from workbench.errors import UserError
from workbench.evaluation.export_fields import prediction_field, without_errors  # noqa: F401  (callers)
from workbench.files import is_stdout, open_for_write, write_file

if TYPE_CHECKING:
    import pandas as pd  # imported where a frame is built: `workbench score` reads exports without it

FORMATS = ("csv", "jsonl", "parquet")
# CSV text encodings. UTF-8 with a BOM by default: Excel opens a CSV without one in the system's code page
# (GBK on Chinese Windows) and shows UTF-8 Chinese as mojibake; with the BOM it reads UTF-8. GBK is for tools
# that read nothing else; plain UTF-8 for tools that choke on a BOM.
CSV_ENCODINGS = ("utf-8-sig", "utf-8", "gbk")


def run_records(con, run_id: str) -> pd.DataFrame:
    """One record per output: the variant, the dataset row's own fields (so results join back to the data),
    the rendered input, the reference, the output, its error and measurements, and every score.

    A row field whose name the record already uses (say `output`) is kept as `row.output`; the reference
    field is the `reference` column itself."""
    import pandas as pd

    run = store.get_run(con, run_id)
    df = store.load_outputs(con, run_id)
    ref_field = store.get_dataset(con, run["dataset_hash"], rows=False)["reference_field"] or "reference"
    rows = [json.loads(d) if isinstance(d, str) else {} for d in df["row_data"]]
    if run.get("history"):  # a conversation: the reference is the assistant turn
        references = [turn_reference(r, int(t)) for r, t in zip(rows, df["turn_idx"])]
    else:
        references = [r.get(ref_field) for r in rows]
    score_cols = [c for c in df.columns if c.startswith("score_")]
    out = pd.DataFrame({
        "run_id": run_id,
        "prompt": run["prompt_name"],
        "prompt_version": run["prompt_hash"],
        "model": run["model_spec"],
        "row_idx": df["row_idx"],
        "turn_idx": df["turn_idx"],
        "repeat_idx": df["repeat_idx"],
        "input": df["messages"],
        "reference": references,
        "output": df["text"],
        "error": df["error"].fillna(""),
        "error_kind": df["error_kind"].fillna(""),
        "latency_ms": df["latency_ms"],
        "tokens_in": df["tokens_in"],
        "tokens_out": df["tokens_out"],
        "cached": df["cached"],
    })
    for c in score_cols:
        out[c] = df[c].to_numpy()
    fields = [f for f in dict.fromkeys(k for r in rows for k in r) if f != ref_field]
    row_cols = pd.DataFrame({f"row.{f}" if f in out.columns else f: [r.get(f) for r in rows] for f in fields},
                            index=out.index)
    at = out.columns.get_loc("input")  # the row's fields go before what was made from them
    used = store.run_knowledge(con, run_id)
    if used:  # the passages each output was given, as JSON [{rank, id, score}], and the base version
        out["knowledge_version"] = used["version"]
        out["passages"] = _passages_column(store.load_passages(con, run_id), out)
    return pd.concat([out.iloc[:, :at], row_cols, out.iloc[:, at:]], axis=1)


def _passages_column(passages: pd.DataFrame, out: pd.DataFrame) -> list[str]:
    by_output: dict[tuple[int, int], list[dict]] = {}
    for p in passages.itertuples():
        by_output.setdefault((p.row_idx, p.repeat_idx), []).append({"rank": p.rank, "id": p.chunk_id,
                                                                     "score": p.score})
    return [json.dumps(by_output.get((r, k), []), ensure_ascii=False)
            for r, k in zip(out["row_idx"], out["repeat_idx"])]


def write_frame(df: pd.DataFrame, fmt: str, path: str | Path, encoding: str | None = None) -> None:
    """Write by workbench.files' rules (atomic, usual mode, `-` is standard output, only a regular file replaced).
    `encoding`: for CSV, one of CSV_ENCODINGS; None: utf-8-sig for a file (Excel), utf-8 for standard output
    (a pipe into another tool wants no BOM). JSONL is always UTF-8 without a BOM, Parquet is binary."""
    if fmt == "csv":
        write_file(path, frame_bytes(df, fmt, encoding or ("utf-8" if is_stdout(path) else "utf-8-sig")))
        return
    if fmt not in FORMATS:
        raise UserError(f"unknown format {fmt!r} (use {', '.join(FORMATS)})", setting="format")
    with open_for_write(path, binary=fmt == "parquet") as f:
        _dump(df, fmt, f)


def frame_bytes(df: pd.DataFrame, fmt: str, encoding: str = "utf-8-sig") -> bytes:
    """The file's content in memory (the app's download button)."""
    if fmt not in FORMATS:
        raise UserError(f"unknown format {fmt!r} (use {', '.join(FORMATS)})", setting="format")
    if fmt == "csv" and encoding not in CSV_ENCODINGS:
        raise UserError(f"unknown encoding {encoding!r} (use {', '.join(CSV_ENCODINGS)})", setting="encoding")
    buf = io.BytesIO() if fmt == "parquet" else io.StringIO()
    _dump(df, fmt, buf)
    data = buf.getvalue()
    if isinstance(data, bytes):
        return data
    if fmt != "csv":
        return data.encode("utf-8")
    try:
        return data.encode(encoding)
    except UnicodeEncodeError:
        raise _unencodable(df, encoding) from None


def _unencodable(df: pd.DataFrame, encoding: str) -> UserError:
    """The first cell (or column name) `encoding` cannot hold, named by row and field."""
    for col in df.columns:
        _check_encodable(str(col), encoding, f"the name of field {str(col)!r}")
    for col in df.columns:
        for i, value in enumerate(df[col]):
            if isinstance(value, str):
                _check_encodable(value, encoding, f"row {i + 1}, field {str(col)!r}")
    return UserError(f"cannot be written in {encoding}", setting="encoding")


def _check_encodable(text: str, encoding: str, where: str) -> None:
    try:
        text.encode(encoding)
    except UnicodeEncodeError as e:
        bad = text[e.start]
        raise UserError(f"{where}: character {bad!r} (U+{ord(bad):04X}) cannot be written in {encoding.upper()}; "
                        "choose utf-8-sig, which Excel opens too", setting="encoding") from None


def _dump(df: pd.DataFrame, fmt: str, f) -> None:
    if fmt == "csv":
        df.to_csv(f, index=False)
    elif fmt == "jsonl":
        df.to_json(f, orient="records", lines=True, force_ascii=False)
    else:
        df.to_parquet(f, index=False)
