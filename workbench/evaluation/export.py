"""Write a run's outputs as CSV / JSONL / Parquet: one record per output, atomically."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd

from workbench import store
from workbench.authoring.conversations import turn_reference
from workbench.errors import UserError
from workbench.files import open_for_write

FORMATS = ("csv", "jsonl", "parquet")


def run_records(con, run_id: str) -> pd.DataFrame:
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
    return out


def write_frame(df: pd.DataFrame, fmt: str, path: str | Path) -> None:
    """Write by workbench.files' rules (atomic, usual mode, `-` is standard output, only a regular file replaced)."""
    if fmt not in FORMATS:
        raise UserError(f"unknown format {fmt!r} (use {', '.join(FORMATS)})", setting="format")
    with open_for_write(path, binary=fmt == "parquet") as f:
        _dump(df, fmt, f)


def frame_bytes(df: pd.DataFrame, fmt: str) -> bytes:
    """The file's content in memory (the app's download button)."""
    if fmt not in FORMATS:
        raise UserError(f"unknown format {fmt!r} (use {', '.join(FORMATS)})", setting="format")
    buf = io.BytesIO() if fmt == "parquet" else io.StringIO()
    _dump(df, fmt, buf)
    data = buf.getvalue()
    return data if isinstance(data, bytes) else data.encode("utf-8")


def _dump(df: pd.DataFrame, fmt: str, f) -> None:
    if fmt == "csv":
        df.to_csv(f, index=False)
    elif fmt == "jsonl":
        df.to_json(f, orient="records", lines=True, force_ascii=False)
    else:
        df.to_parquet(f, index=False)
