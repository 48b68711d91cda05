"""The rendered messages of a plan's rows, held compactly: what a 100,000-row eval keeps per row is its own text.

A few-shot prompt renders every row to the same system message and example turns plus the row's own question.
`Rendered` keeps one dict per message that repeats across rows (shared by identity, as MessagesJSON expects)
and, per row, only the texts of its own messages and the index of its shape (which messages, in which order).
Indexing builds the row's list again (a new list and new dicts for its own messages), equal to what the
prompt rendered. Rows not needed by the plan are None.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from typing import Any

SHARE_FROM_ROWS = 64  # a message first seen in these rows may repeat in later ones: later rows' own messages are not
# looked up again (a row's question is new in every row, and remembering them all would hold every row's text)
SKIPPED, AS_IS = -1, -2  # shape ids: a row the plan does not need; a row kept as its own list (unusual messages)


class Rendered(Sequence):
    """A read-only sequence of message lists (or None), one per plan row; `append` them in row order."""

    def __init__(self) -> None:
        self._shape_ids = array("i")
        self._texts: list[Any] = []  # per row: its own text, a tuple of them, or (AS_IS) its list
        # (entries, where the row's own messages go); an entry is a shared message dict or an own message's role
        self._shapes: list[tuple[tuple, tuple[int, ...]]] = []
        self._shape_index: dict[tuple, int] = {}
        self._seen: dict[tuple[str, str], dict[str, str]] = {}

    def __len__(self) -> int:
        return len(self._shape_ids)

    def __getitem__(self, k: int) -> list[dict[str, str]] | None:
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        shape_id, texts = self._shape_ids[k], self._texts[k]
        if shape_id < 0:
            return texts  # None (skipped) or the row's own list
        shape, own = self._shapes[shape_id]
        out = list(shape)
        if isinstance(texts, str):
            k = own[0]
            out[k] = {"role": shape[k], "content": texts}
        else:
            for k, text in zip(own, texts):
                out[k] = {"role": shape[k], "content": text}
        return out

    def row_shape(self, k: int) -> tuple[int, tuple, tuple[int, ...], tuple[str, ...]] | None:
        """(shape id, its entries, where the row's own messages go, their texts) of row k; None for a row skipped
        or kept as its own list. An entry is a shared message dict, or an own message's role."""
        shape_id, texts = self._shape_ids[k], self._texts[k]
        if shape_id < 0:
            return None
        shape, own = self._shapes[shape_id]
        return shape_id, shape, own, (texts,) if isinstance(texts, str) else texts

    def skip(self) -> None:
        self._shape_ids.append(SKIPPED)
        self._texts.append(None)

    def append(self, messages: list[dict[str, str]]) -> None:
        if not _plain(messages):
            self._shape_ids.append(AS_IS)  # content parts, extra keys: kept exactly as rendered
            self._texts.append(messages)
            return
        learn = len(self) < SHARE_FROM_ROWS
        shape: list[Any] = []
        ids: list[Any] = []  # the shape as a key: a shared message by its id, an own one by its role
        own: list[str] = []
        seen = self._seen
        for m in messages:
            role, content = m["role"], m["content"]
            found = seen.get((role, content))
            if found is None and learn:  # kept as it is: it may be shared by later rows (a few rows' own messages stay dicts)
                found = seen[(role, content)] = m
            if found is not None:
                shape.append(found)
                ids.append(id(found))
                continue
            shape.append(role)
            ids.append(role)
            own.append(content)
        key = tuple(ids)
        shape_id = self._shape_index.get(key)
        if shape_id is None:
            shape_id = self._shape_index[key] = len(self._shapes)
            self._shapes.append((tuple(shape), tuple(k for k, m in enumerate(shape) if isinstance(m, str))))
        self._shape_ids.append(shape_id)
        self._texts.append(own[0] if len(own) == 1 else tuple(own))


def _plain(messages: list[dict[str, Any]]) -> bool:
    """Every message is {"role": str, "content": str}. A loop, not all() over a generator: half the time, per row."""
    for m in messages:
        if len(m) != 2 or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
            return False
    return True
