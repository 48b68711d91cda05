"""Supervised fine-tuning examples: conversations, and the token labels that train only assistant turns.

Two sources:
- a dataset rendered through one or more prompt files: each row becomes the prompt's messages plus
  the row's reference as the assistant's answer (few-shot example turns are context, not targets); a
  prompt with a `knowledge:` section gets the passages retrieved for the row from its base in the
  database file, as `workbench eval` would, so the model learns to answer with passages in context;
- OpenAI chat JSONL, one ``{"messages": [...]}`` conversation per line: every assistant message is
  a target unless it carries ``"weight": 0`` (OpenAI's fine-tuning convention).

Rows whose ``split`` is ``test`` are never trained on, so a fine-tuned model can be evaluated on them.
Labels are the token ids on assistant spans (the answer and the chat template's end-of-turn marker)
and -100 everywhere else, so the cross-entropy only counts what the assistant says.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from typing import Any

from workbench.authoring.datasets import Dataset, load_dataset
from workbench.errors import DatasetError, UserError

IGNORE = -100
ROLES = ("system", "user", "assistant")


@dataclass
class Example:
    messages: list[dict[str, Any]]  # role, content, optional weight (0: context only)
    place: str  # where it came from, for messages (data.jsonl:12)
    row: int  # dataset row index


@dataclass
class Examples:
    train: list[Example]
    eval: list[Example]
    data_hash: str  # the rows and the prompts they were rendered through
    dataset_hash: str  # the rows alone (workbench.authoring.datasets.Dataset.hash)
    rows_total: int
    rows_excluded: int  # split == "test": held out for evaluation, never trained on
    source: str  # "prompt" or "messages"
    prompts: list[dict[str, str]] = field(default_factory=list)  # name, path, version
    languages: list[str] = field(default_factory=list)  # of the rows ("en", "zh"): the model card records them


def load_examples(data: str, prompts: list | None = None, reference_field: str = "reference",
                  eval_split: str | float = 0.1, seed: int = 0, db: str | None = None) -> Examples:
    """Read DATA and build train/eval conversations. Raises UserError for anything a user can fix.
    `db`: the database file whose knowledge bases a prompt's `knowledge:` section retrieves from."""
    ds = load_dataset(data, reference_field=reference_field)
    split = parse_eval_split(eval_split)
    excluded = [i for i, r in enumerate(ds.rows) if r.get("split") == "test" and r.get("split") != split]
    usable = [i for i in range(len(ds.rows)) if i not in set(excluded)]
    if not usable:
        raise DatasetError("no rows left to train on (every row has split 'test')", ds.path)
    if isinstance(split, str):
        eval_rows = [i for i in usable if ds.rows[i].get("split") == split]
        if not eval_rows:
            raise UserError(f"no rows have split {split!r}", setting="eval_split")
        train_rows = [i for i in usable if i not in set(eval_rows)]
    else:
        shuffled = usable[:]
        random.Random(seed).shuffle(shuffled)
        n_eval = round(len(usable) * split) if split > 0 else 0
        if split > 0 and len(usable) >= 2:
            n_eval = min(max(n_eval, 1), len(usable) - 1)
        eval_rows, train_rows = sorted(shuffled[:n_eval]), sorted(shuffled[n_eval:])
    if not train_rows:
        raise DatasetError("no rows left to train on after holding out the eval split", ds.path)
    if prompts:
        found = _passages(ds, prompts, train_rows + eval_rows, db)
        build = lambda i: _from_prompts(ds, i, prompts, found)  # noqa: E731
        source = "prompt"
    else:
        if "messages" not in ds.columns:
            raise DatasetError("rows have no `messages` (OpenAI chat format); give --prompt PROMPT_FILE to render "
                               f"rows with their {reference_field!r} as the answer", ds.path)
        build = lambda i: [_from_messages(ds, i)]  # noqa: E731
        source = "messages"
    train = [ex for i in train_rows for ex in build(i)]
    evals = [ex for i in eval_rows for ex in build(i)]
    h = hashlib.sha256(ds.hash.encode())
    described = []
    for k, p in enumerate(prompts or []):
        h.update(p.version.encode())
        described.append({"name": p.name, "path": p.path, "version": p.version})
        if k in found:
            h.update(found[k][0]["version"].encode())
            described[-1]["knowledge"] = found[k][0]
    langs = ["en", "zh"] if ds.lang == "auto" else [ds.lang]
    return Examples(train, evals, h.hexdigest()[:16], ds.hash, len(ds.rows), len(excluded), source, described, langs)


def merge_examples(first: Examples, second: Examples) -> Examples:
    """Two sources trained together (e.g. the English and the Chinese support sets, each through its own
    prompts): examples appended, hashes combined, counts summed."""
    h = hashlib.sha256(f"{first.data_hash}+{second.data_hash}".encode()).hexdigest()[:16]
    return Examples(first.train + second.train, first.eval + second.eval, h,
                    f"{first.dataset_hash}+{second.dataset_hash}", first.rows_total + second.rows_total,
                    first.rows_excluded + second.rows_excluded, first.source, first.prompts + second.prompts,
                    list(dict.fromkeys(first.languages + second.languages)))


def _passages(ds: Dataset, prompts: list, rows: list[int], db: str | None) -> dict[int, tuple[dict, dict]]:
    """For each prompt with `knowledge:` (by position): (knowledge used, {row: passages}) for `rows`,
    retrieved before any training so that a missing base fails at once, naming the prompt file."""
    from workbench import knowledge

    out = {}
    for k, prompt in enumerate(prompts):
        if not prompt.knowledge:
            continue
        used, found = knowledge.plan_passages(prompt, [ds.rows[i] for i in rows], db,
                                              places=[ds.place(i) for i in rows])
        out[k] = (used, dict(zip(rows, found)))
    return out


def parse_eval_split(value: str | float) -> str | float:
    """A fraction in [0, 1) of the rows held out at random, or the name of a `split` value."""
    if isinstance(value, (int, float)):
        frac = float(value)
    else:
        try:
            frac = float(value)
        except ValueError:
            if not value.strip():
                raise UserError("give a fraction such as 0.1 or a split name such as test", setting="eval_split") from None
            return value.strip()
    if not 0 <= frac < 1:
        raise UserError(f"fraction must be in [0, 1), got {frac:g}", setting="eval_split")
    return frac


def _from_prompts(ds: Dataset, i: int, prompts: list, found: dict[int, tuple[dict, dict]]) -> list[Example]:
    from workbench.knowledge import with_passages

    refs = ds.references(i)
    if not refs or not refs[0].strip():
        raise DatasetError(f"row has no {ds.reference_field!r} to train on", ds.place(i))
    out = []
    for k, prompt in enumerate(prompts):
        row = with_passages(ds.rows[i], found[k][1][i]) if k in found else ds.rows[i]
        msgs = [{**m, "weight": 0} for m in prompt.render(row)]
        msgs.append({"role": "assistant", "content": refs[0], "weight": 1})
        out.append(Example(msgs, ds.place(i), i))
    return out


def _from_messages(ds: Dataset, i: int) -> Example:
    where = ds.place(i)
    msgs = ds.rows[i].get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise DatasetError("`messages` must be a non-empty list of {role, content}", where)
    clean = []
    for k, m in enumerate(msgs, 1):
        if not isinstance(m, dict) or not isinstance(m.get("content"), str):
            raise DatasetError(f"message {k} needs a `role` and a string `content`", where)
        if m.get("role") not in ROLES:
            raise DatasetError(f"message {k} has role {m.get('role')!r} (expected one of {', '.join(ROLES)})", where)
        weight = m.get("weight", 1)
        if weight not in (0, 1):
            raise DatasetError(f"message {k} has weight {weight!r} (expected 0 or 1)", where)
        clean.append({"role": m["role"], "content": m["content"], "weight": weight if m["role"] == "assistant" else 0})
    if not any(m["role"] == "assistant" and m["weight"] for m in clean):
        raise DatasetError("conversation has no assistant message to learn from", where)
    return Example(clean, where, i)


def plain(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def encode(tokenizer, example: Example, max_length: int) -> dict[str, list[int]]:
    """Token ids and labels: assistant targets keep their ids, every other token is -100.

    The spans come from the chat template itself: the text of the conversation up to a target turn
    with the generation prompt, and up to the end of that turn, differ by exactly what the model
    must produce (answer plus end-of-turn marker). Works for any template that renders earlier turns
    the same whatever follows them, which is what generation relies on too.
    """
    msgs = plain(example.messages)
    text = tokenizer.apply_chat_template(msgs, tokenize=False)
    spans = []
    for k, m in enumerate(example.messages):
        if m["role"] != "assistant" or not m.get("weight", 1):
            continue
        before = tokenizer.apply_chat_template(msgs[:k], tokenize=False, add_generation_prompt=True) if k else ""
        upto = tokenizer.apply_chat_template(msgs[: k + 1], tokenize=False)
        if not (upto.startswith(before) and text.startswith(upto)):
            raise UserError("the tokenizer's chat template renders earlier turns differently depending on what "
                            "follows, so the assistant tokens cannot be told apart", example.place)
        spans.append((len(before), len(upto)))
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = list(enc["input_ids"])
    labels = [tid if any(s <= a < e for s, e in spans) else IGNORE for tid, (a, _b) in zip(ids, enc["offset_mapping"])]
    if len(ids) > max_length:
        raise UserError(f"conversation has {len(ids)} tokens, more than the model's {max_length}", example.place)
    return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels}


def texts_for_tokenizer(examples: list[Example]) -> list[tuple[str, str]]:
    """What a from-scratch tokenizer learns its vocabulary from: every (role, content) turn, once."""
    return list(dict.fromkeys((m["role"], m["content"]) for ex in examples for m in ex.messages))


def fingerprint(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]
