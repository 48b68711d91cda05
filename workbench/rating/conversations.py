"""Rating whole conversations: an item of a conversation run is one conversation (run, row, repeat), shown
as a transcript of the customer's turns and the model's answers; its SFT record is the multi-turn chat with
those answers as the training targets."""

from __future__ import annotations

import dataclasses
from typing import Any

from workbench import store
from workbench.authoring.conversations import own_history

SPEAKERS = {"system": "System", "user": "Customer", "assistant": "Assistant"}


def is_conversation_run(con, run_id: str | None) -> bool:
    return bool(run_id) and bool(store.get_run(con, run_id).get("history"))


def thread(row: dict[str, Any], answers: list[str]) -> list[dict[str, str]]:
    """The conversation with the model's `answers` in place of the reference assistant turns."""
    said = [m for m in row["messages"] if m["role"] != "system"]
    n = sum(m["role"] == "assistant" for m in said)
    return own_history(said, (answers + [""] * n)[:n])


def transcript(messages: list[dict[str, str]]) -> str:
    return "\n\n".join(f"{SPEAKERS.get(m['role'], m['role'])}: {m['content']}" for m in messages)


def answers_of(con, run_id: str, row_idx: int, repeat_idx: int) -> list[str]:
    return [a["text"] or "" for a in store.conversation_answers(con, run_id, row_idx, repeat_idx)]


def conversation_item(con, item, rec) -> Any:
    """`item` (annotation.Item of a conversation run) with whole transcripts for its sides and reference."""
    row = rec["row_data"]
    a = transcript(thread(row, answers_of(con, rec["run_a"], int(rec["row_idx"]), int(rec["repeat_idx"]))))
    b = None
    if item.text_b is not None:
        b = transcript(thread(row, answers_of(con, rec["run_b"], int(rec["row_idx"]), int(rec["repeat_idx"]))))
    inputs = {k: v for k, v in row.items() if k not in ("messages", "allow_consecutive")}
    gold = transcript([m for m in row["messages"] if m["role"] != "system"])
    return dataclasses.replace(item, text_a=a, text_b=b, inputs=inputs, reference=gold)


def sft_messages(con, rec) -> list[dict[str, Any]]:
    """The rated conversation as chat JSONL messages: the prompt's messages as context (example answers
    weight 0), then the conversation with the model's answers, each a training target."""
    answers = store.conversation_answers(con, rec["run_a"], int(rec["row_idx"]), int(rec["repeat_idx"]))
    row = rec["row_data"]
    first = answers[0]["messages"]  # turn 0 as sent: the prompt, then the conversation up to its first answer
    before = next(i for i, m in enumerate(row["messages"]) if m["role"] == "assistant")
    prompt = first[: len(first) - before] if len(first) >= before else first
    context = [{**{"role": m["role"], "content": m["content"]}, **({"weight": 0} if m["role"] == "assistant" else {})}
               for m in prompt]
    said = own_history(row["messages"], [a["text"] or "" for a in answers])
    return context + [{"role": m["role"], "content": m["content"]} for m in said]
