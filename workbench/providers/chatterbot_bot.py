"""A ChatterBot retrieval bot trained on a dataset file: ``chatterbot:DATASET[?threshold=0.6&default=...]``.

Trained on the file's question -> reference pairs (only ``split == train`` rows when it has a split
column, so the held-out questions stay unseen), in ChatterBot's offline configuration: the lower-case
tagger (the default one wants a spaCy model that cannot be downloaded here), SQL storage in a cache
folder keyed by the data's hash (trained once; a changed file trains a new one), BestMatch, and
read-only while answering (the bot does not learn from the questions it is asked).

A conversation file trains on its conversations instead: each one's turns in order (system messages left out),
so every answer is learned in response to the customer turn before it (ChatterBot's ListTrainer), and only
conversations with ``split == train`` when the lines have a split field. In a conversation run each turn is
answered from the customer's last message alone: the bot is read-only, so it keeps no state between turns and
gold and own history give the same answers.

The answer is the reference of the closest training question. Its confidence (0-1, ChatterBot's
Levenshtein similarity) is stored in the output's finish_reason as ``match 0.83``; below `threshold`
the answer is `default` instead and the finish_reason reads ``default 0.41``.
Options: threshold (0-1, default 0), default (text), question and reference (column names).
ChatterBot is imported only when such a bot is made (it pulls in spaCy, ~4 s).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from workbench.authoring.datasets import Dataset, check_rows, load_dataset
from workbench.errors import UserError
from workbench.providers.base import Completion, Messages, Provider, ProviderError, split_query

CHATTERBOT_VERSION = "1.2.15"
DEFAULT_ANSWER = "Sorry, I don't know the answer to that."


def cache_dir() -> Path:
    """Where trained bots are kept: $WORKBENCH_CACHE_DIR, else $XDG_CACHE_HOME/workbench (~/.cache/workbench)."""
    root = os.environ.get("WORKBENCH_CACHE_DIR") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "workbench"
    return Path(root) / "chatterbot"


def _threshold(value: Any) -> float:
    x = float(value)
    if not 0.0 <= x <= 1.0:
        raise ValueError("expected a number from 0 to 1")
    return x


class ChatterBotProvider(Provider):
    # ChatterBot is pure Python under the GIL: requests are answered one after another in one thread,
    # a batch at a time, so -j does not apply.
    batch_size = 16
    max_concurrency = 1
    options = {"threshold": _threshold, "default": str, "question": str, "reference": str}

    def __init__(self, rest: str, *, threshold: float | None = None, default: str | None = None,
                 question: str | None = None, reference: str | None = None):
        path, opts = split_query(rest, ChatterBotProvider, "chatterbot")
        if not path:
            raise UserError("no dataset in spec 'chatterbot:' (expected chatterbot:PATH)", setting="model")
        self.spec = f"chatterbot:{rest}"
        self.threshold = threshold if threshold is not None else opts.get("threshold", 0.0)
        self.default = default if default is not None else opts.get("default", DEFAULT_ANSWER)
        q_col = question or opts.get("question", "question")
        r_col = reference or opts.get("reference", "reference")
        pairs, data_hash = training_pairs(path, q_col, r_col)
        self.data_hash = data_hash
        self.db_path = cache_dir() / f"{data_hash}.sqlite3"
        self._bot = _train_once(pairs, self.db_path)
        self._lock = threading.Lock()  # one ChatterBot, one SQLite connection pool: one answer at a time

    def identity(self) -> dict[str, Any]:
        return {"kind": "chatterbot", "data": self.data_hash, "threshold": self.threshold, "default": self.default}

    def answer(self, text: str) -> Completion:
        start = time.perf_counter()
        with self._lock:
            response = self._bot.get_response(text)
        confidence = float(response.confidence or 0.0)
        matched = confidence >= self.threshold and confidence > 0 and response.text != text
        return Completion(text=response.text if matched else self.default,
                          finish_reason=f"{'match' if matched else 'default'} {confidence:.2f}",
                          latency_ms=(time.perf_counter() - start) * 1000,
                          raw={"confidence": confidence, "matched": matched})

    def _answer_all(self, batch: list[Messages]) -> list[Completion | ProviderError]:
        out: list[Completion | ProviderError] = []
        for messages in batch:
            text = next((m.get("content") or "" for m in reversed(messages) if m.get("role") == "user"), None)
            if text is None:
                out.append(ProviderError("bad_request", "no user message to answer"))
                continue
            try:
                out.append(self.answer(text))
            except Exception as e:  # noqa: BLE001 - one row's failure is that row's error
                out.append(ProviderError("other", f"ChatterBot: {type(e).__name__}: {e}"[:500]))
        return out

    async def complete_batch(self, batch: list[Messages], params: dict[str, Any]) -> list[Completion | ProviderError]:
        return await asyncio.to_thread(self._answer_all, batch)


def training_pairs(path: str, q_col: str = "question",
                   r_col: str = "reference") -> tuple[list[tuple[str, str]] | list[list[str]], str]:
    """(question, answer) pairs of the file's training rows (a conversation file: each conversation's turns)
    and a hash naming the bot trained on them.
    A file without the two columns, or a training row without a value, is a DatasetError naming it."""
    ds = load_dataset(path, reference_field=r_col)
    if ds.is_conversations:
        return conversation_dialogs(ds)
    if "split" in ds.columns:
        keep = [i for i, row in enumerate(ds.rows) if row.get("split") == "train"]
        if not keep:
            raise UserError("no rows with split 'train' to train the bot on", ds.path)
        ds = Dataset(ds.name, ds.path, [ds.rows[i] for i in keep], ds.columns, r_col, ds.lang, ds.encoding,
                     [ds.line_numbers[i] for i in keep] if ds.line_numbers else [i + 1 for i in keep])
    check_rows(ds, {q_col}, need_reference=True, needed_by="chatterbot: (question -> reference pairs)")
    pairs = []
    for row in ds.rows:
        ref = row[r_col]
        pairs.append((str(row[q_col]), str(ref[0] if isinstance(ref, list) else ref)))
    key = json.dumps([CHATTERBOT_VERSION, pairs], ensure_ascii=False).encode()
    return pairs, hashlib.sha256(key).hexdigest()[:16]


def conversation_dialogs(ds: Dataset) -> tuple[list[list[str]], str]:
    """The conversations of a conversation file as lists of turns to train on in order, and their hash."""
    rows = ds.rows
    if any("split" in r for r in rows):
        rows = [r for r in rows if r.get("split") == "train"]
        if not rows:
            raise UserError("no conversations with split 'train' to train the bot on", ds.path)
    dialogs = [[str(m["content"]) for m in r["messages"] if m["role"] != "system"] for r in rows]
    key = json.dumps([CHATTERBOT_VERSION, "conversations", dialogs], ensure_ascii=False).encode()
    return dialogs, hashlib.sha256(key).hexdigest()[:16]


def _make_bot(db_path: Path, read_only: bool):
    from chatterbot import ChatBot
    from chatterbot.tagging import LowercaseTagger

    return ChatBot(
        f"workbench-{db_path.stem}",
        storage_adapter="chatterbot.storage.SQLStorageAdapter",
        database_uri=f"sqlite:///{db_path}",
        logic_adapters=[{"import_path": "chatterbot.logic.BestMatch", "default_response": "",
                         "maximum_similarity_threshold": 0.95}],
        tagger=LowercaseTagger,
        read_only=read_only,
    )


_TRAIN_LOCK = threading.Lock()


def _train_once(pairs: list[tuple[str, str]] | list[list[str]], db_path: Path):
    """The bot stored at db_path, trained first when it is not there. Training writes a file of its own
    and renames it into place, so a bot in the cache is always a complete one."""
    import logging

    logging.getLogger("chatterbot").setLevel(logging.WARNING)
    with _TRAIN_LOCK:
        if not db_path.exists():
            from chatterbot.trainers import ListTrainer

            db_path.parent.mkdir(parents=True, exist_ok=True)
            part = db_path.with_name(f"{db_path.stem}.{os.getpid()}.{threading.get_ident()}.part")
            part.unlink(missing_ok=True)
            bot = _make_bot(part, read_only=False)
            trainer = ListTrainer(bot, show_training_progress=False)
            for dialog in pairs:  # a (question, answer) pair, or a conversation's turns
                trainer.train(list(dialog))
            bot.storage.engine.dispose()
            os.replace(part, db_path)
    return _make_bot(db_path, read_only=True)
