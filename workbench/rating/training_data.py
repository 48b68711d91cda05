"""Exports that close the loop: the ratings themselves, SFT conversations, and DPO preference pairs.

- ratings: one record per rating, with the item unblinded (run, prompt, model, output text), as CSV or
  JSONL. In CSV the tags are joined with "; ".
- sft: OpenAI chat JSONL, one ``{"messages": [...]}`` per output whose mean rating over its annotators
  is at least --min-rating (Likert default 4; thumbs default 1, every annotator said up). The messages
  are the rendered prompt exactly as the model saw it, then the rated answer as the assistant turn.
  Few-shot example answers inside the prompt carry ``"weight": 0`` (OpenAI's convention), so a
  fine-tune learns only the rated answer; `workbench finetune --data FILE` reads this file as is.
- dpo: ``{"prompt": messages, "chosen": text, "rejected": text}`` per pair where one side has a strict
  majority of the item's votes (ties and "both bad" count for neither side) and the two answers differ. The prompt is the
  messages that produced the chosen answer; when the two variants used different prompts, the
  rejected answer was written for a different prompt, which is worth knowing before training on it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench import store
from workbench.errors import UserError
from workbench.evaluation.export import write_frame
from workbench.files import open_for_write
from workbench.rating import annotation
from workbench.rating.conversations import is_conversation_run, sft_messages

FORMATS = ("ratings", "sft", "dpo")
DEFAULT_MIN = {"likert": 4.0, "thumbs": 1.0}


def ratings_frame(con, session_id: str) -> pd.DataFrame:
    """Every rating of the session (any kind) with its item unblinded."""
    ratings = store.load_ratings(con, [session_id])
    items = store.item_outputs(con, session_id)[["item_idx", "prompt_a", "model_a", "text_a", "prompt_b", "model_b",
                                                  "text_b"]]
    df = ratings.merge(items, on="item_idx", how="left")
    winner = np.where(df["value"] == "A", df["run_a"], np.where(df["value"] == "B", df["run_b"], None))
    df["winner_run"] = np.where(df["kind"] == "pairwise", winner, None)
    df["turn_idx"] = df["turn_idx"].astype("Int64")  # a turn item's turn; empty for a whole output or conversation
    cols = ["session_id", "item_idx", "annotator", "kind", "value", "comment", "tags", "rated_at", "row_idx",
            "turn_idx", "repeat_idx", "run_a", "prompt_a", "model_a", "text_a", "run_b", "prompt_b", "model_b", "text_b",
            "winner_run"]
    return df[cols].rename(columns={"text_a": "output_a", "text_b": "output_b"})


def sft_records(con, session_id: str, min_rating: float | None = None,
                skipped: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """Conversations whose answer was rated well; the same conversation twice (two runs gave the same
    answer to the same prompt) is written once and counted in skipped["duplicate"]."""
    session = store.get_session(con, session_id)
    scale = session["scale"]
    if scale == "pairwise":
        raise UserError("SFT data comes from rated single outputs; for a pairwise session use --format dpo",
                        setting="format")
    threshold = DEFAULT_MIN[scale] if min_rating is None else float(min_rating)
    top = 5 if scale == "likert" else 1
    if not 0 <= threshold <= top:
        raise UserError(f"a {scale} threshold must be between {0 if scale == 'thumbs' else 1} and {top}",
                        setting="min_rating")
    ratings = annotation.session_ratings(con, session_id)
    if ratings.empty:
        return []
    mean = ratings.groupby("item_idx")["score"].mean()
    keep = sorted(int(i) for i in mean.index[mean >= threshold - 1e-9])
    items = store.item_outputs(con, session_id).set_index("item_idx")
    out, seen = [], set()
    for i in keep:
        rec = items.loc[i]
        whole = pd.isna(rec["turn_idx"])  # a turn item is written like a single output: its request, its answer
        if whole and "messages" in rec["row_data"] and is_conversation_run(con, rec["run_a"]):  # the conversation
            record = {"messages": sft_messages(con, {**rec.to_dict(), "item_idx": i})}
        else:
            record = {"messages": _context(rec["messages_a"]) + [{"role": "assistant", "content": str(rec["text_a"])}]}
        key = json.dumps(record, sort_keys=True, ensure_ascii=False)
        if key in seen:
            _count(skipped, "duplicate")
            continue
        seen.add(key)
        out.append(record)
    return out


def _count(skipped: dict[str, int] | None, why: str) -> None:
    if skipped is not None:
        skipped[why] = skipped.get(why, 0) + 1


def _context(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The prompt's messages as context only: example answers are not training targets."""
    out = []
    for m in messages or []:
        msg = {"role": m["role"], "content": m["content"]}
        if m["role"] == "assistant":
            msg["weight"] = 0
        out.append(msg)
    return out


def dpo_records(con, session_id: str, skipped: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """Preference pairs with a strict majority; a pair whose two answers are the same text teaches nothing
    (and would train towards and away from one answer at once): skipped, counted in skipped["identical"]."""
    session = store.get_session(con, session_id)
    if session["scale"] != "pairwise":
        raise UserError("DPO pairs come from pairwise votes; this session rates single outputs", setting="format")
    ratings = annotation.session_ratings(con, session_id)
    if ratings.empty:
        return []
    items = store.item_outputs(con, session_id).set_index("item_idx")
    out = []
    for item, g in ratings.groupby("item_idx"):
        votes = g["value"].value_counts()
        a, b = int(votes.get("A", 0)), int(votes.get("B", 0))
        if max(a, b) * 2 <= len(g):  # no strict majority for one side
            continue
        rec = items.loc[int(item)]
        chosen, rejected = ("a", "b") if a > b else ("b", "a")
        if str(rec[f"text_{chosen}"]).strip() == str(rec[f"text_{rejected}"]).strip():
            _count(skipped, "identical")
            continue
        out.append({"prompt": [{"role": m["role"], "content": m["content"]} for m in rec[f"messages_{chosen}"]],
                    "chosen": str(rec[f"text_{chosen}"]), "rejected": str(rec[f"text_{rejected}"])})
    return out


def write_jsonl(records: list[dict[str, Any]], path: str | Path) -> None:
    """Write records atomically (temporary file beside the target, then rename)."""
    with open_for_write(path) as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def export(con, session_id: str, fmt: str, path: str | Path, min_rating: float | None = None,
           skipped: dict[str, int] | None = None) -> int:
    """Write the session's ratings, SFT conversations or DPO pairs to `path`; returns the record count.
    `skipped` receives what was left out and why (identical DPO answers, duplicate SFT conversations)."""
    if fmt not in FORMATS:
        raise UserError(f"unknown format {fmt!r} (use {', '.join(FORMATS)})", setting="format")
    if fmt == "ratings":
        df = ratings_frame(con, session_id)
        df["rated_at"] = [t.isoformat() for t in df["rated_at"]]
        if str(path).endswith(".csv"):
            df["tags"] = ["; ".join(t) if isinstance(t, (list, np.ndarray)) else "" for t in df["tags"]]
            write_frame(df, "csv", path)
        else:
            df["tags"] = [list(t) if isinstance(t, (list, np.ndarray)) else [] for t in df["tags"]]
            write_frame(df, "jsonl", path)
        return len(df)
    skipped = {} if skipped is None else skipped
    records = (sft_records(con, session_id, min_rating, skipped) if fmt == "sft"
               else dpo_records(con, session_id, skipped))
    if not records:
        what = "no output reaches the threshold" if fmt == "sft" else "no pair has a majority vote"
        if skipped.get("identical"):
            what += f" and two different answers ({skipped['identical']} voted pairs had the same answer twice)"
        raise UserError(f"nothing to export: {what} yet", setting="format")
    write_jsonl(records, path)
    return len(records)
