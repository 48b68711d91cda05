"""Conversation datasets: one conversation per JSONL line, every assistant turn a reference.

Two forms, detected from the first line:
- ``{"messages": [{"role": "system"|"user"|"assistant", "content": "..."}, ...], ...fields}`` (OpenAI chat);
- ``{"turns": ["user text", "bot text", "user text", ...], ...fields}`` (alternating, user first).
Both are stored as the first form. The other fields are template variables, as for single rows;
``"allow_consecutive": true`` lets a line hold two user turns in a row.

For a run, each assistant turn becomes one *turn row* (`turn_dataset`): the conversation's fields, its
``history`` (the messages before that turn, a list of {role, content}) and the turn as the reference.
A prompt renders with those fields, then the history is appended as chat turns (`turn_messages`),
unless a template places ``{{ history }}`` itself.
"""

from __future__ import annotations

from typing import Any

from workbench.errors import DatasetError

ROLES = ("system", "user", "assistant")
FORM_KEYS = ("messages", "turns")
CONTROL_KEYS = ("allow_consecutive",)  # settings of the line, not template variables
HISTORY = "history"


def is_conversation(row: dict[str, Any]) -> bool:
    """Whether a JSONL record is a conversation (has a `messages` or `turns` list)."""
    return any(isinstance(row.get(k), list) for k in FORM_KEYS)


def parse_conversation(row: dict[str, Any], where: str) -> dict[str, Any]:
    """The record with its turns as `messages` [{role, content}], checked; raises DatasetError naming `where`."""
    if isinstance(row.get("messages"), list):
        messages = [_message(m, where, n) for n, m in enumerate(row["messages"], 1)]
    elif isinstance(row.get("turns"), list):
        messages = []
        for n, text in enumerate(row["turns"], 1):
            if not isinstance(text, str):
                raise DatasetError(f"turn {n} is a JSON {type(text).__name__}, expected text", where)
            messages.append(_message({"role": "user" if n % 2 else "assistant", "content": text}, where, n))
    else:
        raise DatasetError("not a conversation: needs a `messages` or `turns` list like the lines before it", where)
    _check_order(messages, bool(row.get("allow_consecutive")), where)
    fields = {k: v for k, v in row.items() if k not in FORM_KEYS}
    return {**fields, "messages": messages}


def _message(m: Any, where: str, n: int) -> dict[str, str]:
    if not isinstance(m, dict):
        raise DatasetError(f"message {n} is a JSON {type(m).__name__}, expected {{\"role\", \"content\"}}", where)
    role = m.get("role")
    if role not in ROLES:
        raise DatasetError(f"message {n} has role {role!r}; a role is one of {', '.join(ROLES)}", where)
    content = m.get("content")
    if not isinstance(content, str) or not content.strip():
        raise DatasetError(f"message {n} ({role}) has empty content", where)
    return {**m, "role": role, "content": content}  # other keys (an SFT file's "weight") are kept


def _check_order(messages: list[dict[str, str]], allow_consecutive: bool, where: str) -> None:
    if not any(m["role"] == "user" for m in messages):
        raise DatasetError("the conversation has no user turn", where)
    if not any(m["role"] == "assistant" for m in messages):
        raise DatasetError("conversation has no assistant message (no turn to evaluate)", where)
    previous = None
    for n, m in enumerate(messages, 1):
        if m["role"] == "assistant" and previous not in ("user", "assistant"):
            raise DatasetError(f"message {n} is an assistant turn before any user turn", where)
        if m["role"] == "user" and previous == "user" and not allow_consecutive:
            raise DatasetError(f"message {n}: two user turns in a row where an assistant turn is expected "
                               "(add \"allow_consecutive\": true to the line if that is meant)", where)
        if m["role"] != "system":
            previous = m["role"]


def turn_units(rows: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """(row index, turn index) of every assistant turn, in order; turn index counts assistant turns from 0."""
    units = []
    for i, row in enumerate(rows):
        n = sum(m["role"] == "assistant" for m in row["messages"])
        units += [(i, t) for t in range(n)]
    return units


def turn_rows(row: dict[str, Any], reference_field: str) -> list[dict[str, Any]]:
    """One row per assistant turn of a conversation: its fields, `history` (the messages before the turn)
    and the turn's text under `reference_field`."""
    fields = {k: v for k, v in row.items() if k != "messages" and k not in CONTROL_KEYS}
    out = []
    messages = [{"role": m["role"], "content": m["content"]} for m in row["messages"]]  # what a model is sent
    for j, m in enumerate(messages):
        if m["role"] == "assistant":
            out.append({**fields, HISTORY: messages[:j], reference_field: m["content"]})
    return out


def turn_reference(row: dict[str, Any], turn_idx: int) -> str | None:
    """The text of assistant turn `turn_idx` of a stored conversation row."""
    said = [m["content"] for m in row.get("messages", []) if m.get("role") == "assistant"]
    return said[turn_idx] if 0 <= turn_idx < len(said) else None


def own_history(gold: list[dict[str, str]], answers: list[str]) -> list[dict[str, str]]:
    """The history `gold` with its assistant turns replaced by the model's own `answers`, in order."""
    out, k = [], 0
    for m in gold:
        if m["role"] == "assistant":
            out.append({"role": "assistant", "content": answers[k]})
            k += 1
        else:
            out.append(m)
    return out


def places_history(prompt) -> bool:
    """Whether a prompt's templates use `{{ history }}` themselves (then the turns are not appended)."""
    required, optional = prompt.variables()
    return HISTORY in required or HISTORY in optional


def with_history(rendered: list[dict[str, str]], history: list[dict[str, str]], placed: bool) -> list[dict[str, str]]:
    """The prompt's rendered messages followed by the conversation so far (unless the template placed it)."""
    return rendered if placed else rendered + [dict(m) for m in history]


def turn_messages(prompt, row: dict[str, Any]) -> list[dict[str, str]]:
    """The chat messages for one turn row (see `turn_rows`)."""
    return with_history(prompt.render(row), row[HISTORY], places_history(prompt))


def summary(rows: list[dict[str, Any]]) -> str:
    n_turns = sum(m["role"] == "assistant" for r in rows for m in r["messages"])
    return f"{len(rows):,} conversation{'s' * (len(rows) != 1)}, {n_turns:,} assistant turn{'s' * (n_turns != 1)}"
