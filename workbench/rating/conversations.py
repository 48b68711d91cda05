"""Rating conversations: an item of a conversation run is one conversation (run, row, repeat), shown as a
transcript of the customer's turns and the model's answers (its SFT record is the multi-turn chat with those
answers as the training targets), or, in a session by turn, one assistant turn (run, row, turn, repeat)
shown after the conversation so far as that model saw it (its SFT record is that request and the answer)."""

from __future__ import annotations

import dataclasses
from typing import Any

from workbench import store
from workbench.authoring.conversations import own_history, turn_reference

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


def history_before(row: dict[str, Any], turn_idx: int, answers: list[str] | None = None) -> list[dict[str, str]]:
    """The conversation before assistant turn `turn_idx` (no system messages): the reference turns, or with
    `answers` (own history) the model's own earlier answers in their place."""
    said = [{"role": m["role"], "content": m["content"]} for m in row["messages"] if m["role"] != "system"]
    end = [i for i, m in enumerate(said) if m["role"] == "assistant"][turn_idx]
    before = said[:end]
    return before if answers is None else own_history(before, (list(answers) + [""] * turn_idx)[:turn_idx])


def turn_contents(con, rec: dict[str, Any], modes: dict[str, str | None], text_a: str,
                  text_b: str | None) -> dict[str, Any]:
    """What a turn item shows (store.item_outputs record `rec`): the line's fields, each side's conversation so
    far (a run with own history saw its own earlier answers; `modes` maps run -> history mode), the turn's
    answers and its reference."""
    row, turn = rec["row_data"], int(rec["turn_idx"])

    def history(run: str) -> list[dict[str, str]]:
        if modes.get(run) != "own":
            return history_before(row, turn)
        return history_before(row, turn, answers_of(con, run, int(rec["row_idx"]), int(rec["repeat_idx"])))

    history_a = history(rec["run_a"])
    history_b = history(rec["run_b"]) if text_b is not None else None
    return {"inputs": {k: v for k, v in row.items() if k not in ("messages", "allow_consecutive")},
            "reference": turn_reference(row, turn), "text_a": text_a, "text_b": text_b, "turn_idx": turn,
            "history_a": history_a, "history_b": None if history_b == history_a else history_b}


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
